"""PyTorch's default initialisation for networks assembled from mmcv blocks."""
from torch import nn

__all__ = ['reset_to_torch_defaults']


def reset_to_torch_defaults(module: nn.Module) -> None:
    """Give every layer of ``module`` PyTorch's own initialisation.

    mmcv's ``ConvModule`` re-initialises its convolution (Kaiming normal,
    fan-out) and normalisation when it is built; the sub-networks of the
    branch keep the initialisation they had before they were assembled from
    mmcv blocks (``reset_parameters`` of every layer), so a config trains as
    it did.

    Args:
        module: The network to reset, in place.
    """
    for m in module.modules():
        if m is not module and hasattr(m, 'reset_parameters'):
            m.reset_parameters()
