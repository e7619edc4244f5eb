"""What a model must offer to mix images: the check shared by the metric, the figures and hooks."""
from mmengine.model import is_model_wrapper
from torch import nn

__all__ = ['check_mixing_model']


def check_mixing_model(model: nn.Module, who: str = 'DisentanglementMetric') -> nn.Module:
    """Unwrap ``model`` (DDP) and check that it can encode, decode and mix.

    Args:
        model: A :class:`~mmselfdis.models.SelfDisPoseEstimator`, wrapped or not.
        who: Named in the error message (the caller).

    Returns:
        nn.Module: The unwrapped model.

    Raises:
        ValueError: The model is not a self-disentanglement model.
    """
    if is_model_wrapper(model):
        model = model.module
    missing = [m for m in ('encode', 'decode', 'mix') if not callable(getattr(model, m, None))]
    if missing or getattr(model, 'selfdis', None) is None:
        raise ValueError(
            f'{who} needs a SelfDisPoseEstimator (a model with encode/decode/mix and a '
            f'selfdis branch), got {type(model).__name__}. Evaluate a self-disentanglement '
            f'config and checkpoint (e.g. configs/eval/t4-3_selfdis_unet_synthhands-mono-64x64'
            f'_disent.py); a plain pose estimator cannot mix images.')
    return model
