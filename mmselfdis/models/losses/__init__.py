"""Losses of the self-disentanglement branch, one small registered module each."""
from .feature_matching_loss import FeatureMatchingLoss
from .gan_loss import GANLoss
from .keypoint_l1_loss import KeypointL1Loss
from .l1_losses import FeatureL1Loss, ImageL1Loss
from .ssim_loss import ImageSSIMLoss

__all__ = ['GANLoss', 'ImageL1Loss', 'FeatureL1Loss', 'KeypointL1Loss', 'FeatureMatchingLoss',
           'ImageSSIMLoss']
