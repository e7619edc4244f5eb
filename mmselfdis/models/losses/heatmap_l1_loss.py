"""L1 between heatmaps, the cycle-pose loss of the paper's eq. (6)."""
from typing import Optional

import torch.nn.functional as F
from torch import Tensor, nn

from mmpose.registry import MODELS
from ._weights import check_loss_weight

__all__ = ['HeatmapL1Loss']


@MODELS.register_module()
class HeatmapL1Loss(nn.Module):
    """``L_cycle-pose = mean |D_p(p̂(x)) - H(x)|`` weighted per keypoint (eq. 6).

    The paper writes the cycle-pose loss as an L1 distance; the project's
    default ``SelfDisHead(loss_cycle_pose=None)`` uses the pose head's own loss
    (an MSE for ``HeatmapHead``) instead. Per keypoint, the mean absolute
    difference over the heatmap's pixels is multiplied by the keypoint's
    weight (0 for invisible keypoints); the result is the mean over samples
    and keypoints, times ``loss_weight``.

    Args:
        loss_weight: Weight of the loss (``α7``).

    Note:
        - pred, target: ``(N, K, H, W)``; weights: ``(N, K)`` or ``None``
        - return: scalar (computed in float32)
    """

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = check_loss_weight(loss_weight, 'HeatmapL1Loss.loss_weight')

    def forward(self, pred: Tensor, target: Tensor, weights: Optional[Tensor] = None) -> Tensor:
        """Weighted mean L1 distance between heatmaps.

        Args:
            pred: Predicted heatmaps.
            target: Target heatmaps.
            weights: Per-keypoint weights.

        Returns:
            The weighted scalar loss.
        """
        if pred.shape != target.shape:
            raise ValueError(f'HeatmapL1Loss: prediction {tuple(pred.shape)} and target '
                             f'{tuple(target.shape)} differ in shape (is the codec\'s '
                             f'heatmap_size that of the head?)')
        per_kpt = F.l1_loss(pred.float(), target.float(), reduction='none').mean(dim=(2, 3))
        if weights is not None:
            per_kpt = per_kpt * weights.float().reshape(per_kpt.shape)
        return self.loss_weight * per_kpt.mean()

    def extra_repr(self) -> str:
        return f'loss_weight={self.loss_weight}'
