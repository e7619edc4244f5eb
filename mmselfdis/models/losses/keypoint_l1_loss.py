"""The paper's L1 heatmap loss (eq. 1 and, through the head, eq. 6)."""
from typing import Optional

import torch.nn.functional as F
from torch import Tensor, nn

from mmpose.registry import MODELS
from ._weights import check_loss_weight

__all__ = ['KeypointL1Loss']


@MODELS.register_module()
class KeypointL1Loss(nn.Module):
    """Mean absolute error between predicted and target heatmaps.

    A drop-in replacement for MMPose's ``KeypointMSELoss`` in a heatmap head
    (same call: ``(output, target, target_weights, mask)``), with the paper's
    L1 distance (§3.1, eq. 1). Since :class:`SelfDisHead` computes
    ``L_cycle-pose`` with the head's own loss, the same choice makes eq. (6)
    L1 too. The mean is taken over every heatmap pixel (as ``KeypointMSELoss``
    does), after the per-keypoint weights (and the optional pixel mask) are
    applied to both prediction and target.

    Config: ``model.head.loss = dict(type='KeypointL1Loss', use_target_weight=True)``
    for the pose loss, or ``selfdis.loss_cycle_pose=dict(type='KeypointL1Loss',
    use_target_weight=True, loss_weight=...)`` for an L1 cycle-pose term with its
    own weight while the head keeps its MSE.

    Args:
        use_target_weight: Weigh each keypoint's heatmap by its target weight.
        loss_weight: Weight of the loss.

    Note:
        - output, target: ``(N, K, H, W)``
        - target_weights: ``(N, K)`` or ``(N, K, H, W)``
        - mask: ``(N, 1, H, W)`` or ``(N, K, H, W)``
        - return: scalar
    """

    def __init__(self, use_target_weight: bool = False, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.use_target_weight = bool(use_target_weight)
        self.loss_weight = check_loss_weight(loss_weight, f'{type(self).__name__}.loss_weight')

    def forward(self, output: Tensor, target: Tensor, target_weights: Optional[Tensor] = None,
                mask: Optional[Tensor] = None) -> Tensor:
        """Weighted mean L1 distance of the heatmaps.

        Args:
            output: Predicted heatmaps.
            target: Target heatmaps.
            target_weights: Per-keypoint weights (with ``use_target_weight``).
            mask: Optional pixel mask (1 = counted).

        Returns:
            The weighted scalar loss.
        """
        if output.shape != target.shape:
            raise ValueError(f'{type(self).__name__}: predicted heatmaps {tuple(output.shape)} '
                             f'and targets {tuple(target.shape)} differ in shape')
        weight = None
        if self.use_target_weight:
            if target_weights is None:
                raise ValueError(f'{type(self).__name__}(use_target_weight=True) needs the '
                                 f'keypoint weights; pass them or set use_target_weight=False')
            weight = target_weights.to(output.dtype)
            while weight.dim() < output.dim():
                weight = weight.unsqueeze(-1)
        if mask is not None:
            weight = mask.to(output.dtype) if weight is None else weight * mask.to(output.dtype)
        if weight is not None:
            output, target = output * weight, target * weight
        return self.loss_weight * F.l1_loss(output, target)

    def extra_repr(self) -> str:
        return f'use_target_weight={self.use_target_weight}, loss_weight={self.loss_weight}'
