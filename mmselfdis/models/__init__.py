"""Models: the estimator, the auxiliary branch, its sub-networks, losses and backbones.

Importing this package registers every component into ``mmpose.registry.MODELS``.
"""
from .backbones import UNetEncoder
from .estimators import MixConsistencyEstimator, SelfDisPoseEstimator
from .heads import SelfDisHead
from .losses import FeatureL1Loss, GANLoss, ImageL1Loss
from .networks import AppearanceEncoder, ImageDecoder, PatchDiscriminator
from .utils import FeatureTap, frozen_call
from .data_preprocessors import ImageSpace

__all__ = [
    'SelfDisPoseEstimator', 'MixConsistencyEstimator', 'SelfDisHead', 'AppearanceEncoder', 'ImageDecoder',
    'PatchDiscriminator', 'GANLoss', 'ImageL1Loss', 'FeatureL1Loss', 'UNetEncoder',
    'FeatureTap', 'frozen_call', 'ImageSpace'
]
