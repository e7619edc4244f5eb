"""Discriminator feature matching (pix2pixHD)."""
from typing import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from mmpose.registry import MODELS
from ._weights import check_loss_weight

__all__ = ['FeatureMatchingLoss']


@MODELS.register_module()
class FeatureMatchingLoss(nn.Module):
    """``mean_l |D_l(fake) - sg D_l(real)|``: the decoded image's discriminator features
    matched to those of its real counterpart, averaged over the layers ``l``
    (Wang et al. 2018, pix2pixHD). The real features are detached inside the
    loss. It only makes sense where the real counterpart exists: the
    reconstruction ``D_I([p(x), a(x)])`` against ``x``.

    Args:
        loss_weight: Weight of the loss.

    Note:
        - fake, real: sequences of equal-shaped feature maps
        - return: scalar (computed in float32)
    """

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = check_loss_weight(loss_weight, 'FeatureMatchingLoss.loss_weight')

    def forward(self, fake: Sequence[Tensor], real: Sequence[Tensor]) -> Tensor:
        """Weighted mean over layers of the L1 distance of the features.

        Args:
            fake: Discriminator features of the decoded images.
            real: Discriminator features of the real images (fixed targets).

        Returns:
            The weighted scalar loss.
        """
        if len(fake) != len(real) or not fake:
            raise ValueError(f'FeatureMatchingLoss: {len(fake)} fake and {len(real)} real '
                             f'feature maps; give the same non-zero number of layers')
        total = sum(F.l1_loss(f.float(), r.detach().float()) for f, r in zip(fake, real))
        return self.loss_weight * total / len(fake)

    def extra_repr(self) -> str:
        return f'loss_weight={self.loss_weight}'
