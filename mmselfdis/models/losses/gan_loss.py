"""Adversarial losses ``L_D`` and ``L_G`` (paper eq. 3)."""
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmpose.registry import MODELS
from ._weights import check_loss_weight

__all__ = ['GANLoss']


@MODELS.register_module()
class GANLoss(nn.Module):
    """GAN loss on discriminator logits: ``vanilla``, ``lsgan`` or ``hinge``.

    - ``vanilla``: binary cross-entropy on logits (paper eq. 3, written in its
      numerically stable, autocast-safe form).
    - ``lsgan``: least squares towards the real/fake labels.
    - ``hinge``: ``relu(1 - x)`` / ``relu(1 + x)`` for the discriminator and
      ``-x`` for the generator.

    Args:
        gan_type: ``'lsgan'`` (the default, as in :class:`SelfDisHead`),
            ``'vanilla'`` or ``'hinge'``.
        loss_weight: Weight of the loss (``α2`` for ``L_D``, ``α3`` for ``L_G``).
        real_label: Target of real samples (``vanilla``/``lsgan``).
        fake_label: Target of fake samples (``vanilla``/``lsgan``).

    Note:
        - pred: logits of any shape, e.g. ``(N, 1, h, w)``
        - return: scalar (computed in float32)
    """

    GAN_TYPES = ('vanilla', 'lsgan', 'hinge')

    def __init__(self,
                 gan_type: str = 'lsgan',
                 loss_weight: float = 1.0,
                 real_label: float = 1.0,
                 fake_label: float = 0.0) -> None:
        super().__init__()
        if gan_type not in self.GAN_TYPES:
            raise ValueError(f'gan_type must be one of {self.GAN_TYPES}, got {gan_type!r}')
        self.gan_type = gan_type
        self.loss_weight = check_loss_weight(loss_weight, 'GANLoss.loss_weight')
        self.real_label = float(real_label)
        self.fake_label = float(fake_label)

    def forward(self, pred: Tensor, target_is_real: bool, is_disc: bool = False) -> Tensor:
        """Weighted GAN loss of ``pred``.

        Args:
            pred: Discriminator logits.
            target_is_real: Whether ``pred`` should be judged real.
            is_disc: Whether the loss trains the discriminator (matters for
                ``hinge`` only).

        Returns:
            The weighted scalar loss.
        """
        pred = pred.float()
        if self.gan_type == 'hinge':
            if is_disc:
                loss = F.relu(1.0 - pred if target_is_real else 1.0 + pred).mean()
            else:
                loss = -pred.mean() if target_is_real else pred.mean()
        else:
            label = self.real_label if target_is_real else self.fake_label
            target = torch.full_like(pred, label)
            if self.gan_type == 'vanilla':
                loss = F.binary_cross_entropy_with_logits(pred, target)
            else:
                loss = F.mse_loss(pred, target)
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return f'gan_type={self.gan_type!r}, loss_weight={self.loss_weight}'
