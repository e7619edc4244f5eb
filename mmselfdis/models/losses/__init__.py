"""Losses of the self-disentanglement branch."""
from .gan_loss import GANLoss
from .l1_losses import FeatureL1Loss, ImageL1Loss

__all__ = ['GANLoss', 'ImageL1Loss', 'FeatureL1Loss']
