"""Train in channels-last memory format (faster convolutions on CPUs and recent GPUs)."""
import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmpose.registry import HOOKS

__all__ = ['ChannelsLastHook']


@HOOKS.register_module()
class ChannelsLastHook(Hook):
    """Put the model's 4-d parameters and buffers in channels-last memory format.

    Convolutions then run in NHWC, which oneDNN on CPUs (and cuDNN on tensor
    core GPUs) computes faster than NCHW; the inputs need not be converted (a
    convolution with a channels-last weight returns a channels-last output).
    The numbers computed are the same up to floating point summation order;
    the state dict is unchanged (``state_dict`` tensors keep their shapes).

    Example::

        custom_hooks = [dict(type='ChannelsLastHook')]
    """

    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        """Convert the model once, before the first iteration."""
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        model.to(memory_format=torch.channels_last)
