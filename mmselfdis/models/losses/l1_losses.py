"""L1 losses of the image and feature terms (paper eq. 2, 4, 5)."""
from typing import Optional

import torch.nn.functional as F
from torch import Tensor, nn

from mmpose.registry import MODELS
from ._weights import check_loss_weight, weighted_mean

__all__ = ['ImageL1Loss', 'FeatureL1Loss']


@MODELS.register_module()
class ImageL1Loss(nn.Module):
    """Mean absolute error between a decoded image and its target.

    Used for ``L_I`` (eq. 2), ``L_cycle-img`` (eq. 4) and the paired-data
    swap reconstruction. Both images live in the data preprocessor's
    normalised space. Gradients flow into ``pred`` and, if it requires them,
    into ``target``.

    Args:
        loss_weight: Weight of the loss (``α1``, ``α4``).

    Note:
        - pred, target: ``(N, C, H, W)``
        - return: scalar (computed in float32)
    """

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = check_loss_weight(loss_weight, f'{type(self).__name__}.loss_weight')

    def forward(self, pred: Tensor, target: Tensor, weight: Optional[Tensor] = None) -> Tensor:
        """Weighted mean L1 distance.

        Args:
            pred: Prediction.
            target: Target of the same shape.
            weight: Per-pixel weights, broadcastable to ``pred`` (e.g.
                ``(N, 1, H, W)``): the mean is then ``Σ w·|pred - target| / Σ w``
                (still in the images' units; more weight on some pixels is
                less on the others).

        Returns:
            The weighted scalar loss.
        """
        if pred.shape != target.shape:
            raise ValueError(f'{type(self).__name__}: prediction {tuple(pred.shape)} and '
                             f'target {tuple(target.shape)} differ in shape')
        if weight is None:
            return self.loss_weight * F.l1_loss(pred.float(), target.float())
        return self.loss_weight * weighted_mean((pred.float() - target.float()).abs(), weight)

    def extra_repr(self) -> str:
        return f'loss_weight={self.loss_weight}'


@MODELS.register_module()
class FeatureL1Loss(ImageL1Loss):
    """Dual feature loss: L1 towards a stop-gradient target (eq. 5).

    ``|p̂(x) - sg(p(x))|`` and ``|â(y) - sg(a(y))|``: the target is detached
    inside the loss, so the encoders are never pulled towards the
    reconstruction through the target side.

    Args:
        loss_weight: Weight of the loss (``α5``, ``α6``).

    Note:
        - pred, target: any equal shapes, e.g. ``(N, C, h, w)``
        - return: scalar (computed in float32)
    """

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        """Weighted mean L1 distance to ``target.detach()``.

        Args:
            pred: Re-encoded feature.
            target: Original feature (used as a fixed target).

        Returns:
            The weighted scalar loss.
        """
        return super().forward(pred, target.detach())
