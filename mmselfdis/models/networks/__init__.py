"""Sub-networks of the auxiliary branch: plain typed constructors, also registered."""
from .appearance_encoder import AppearanceEncoder
from .discriminator import PatchDiscriminator
from .image_decoder import ImageDecoder
from .pose_maps import HAND21_LIMBS, LimbMaps, hand_region, keypoint_heatmaps, soft_argmax
from .pose_modulated_decoder import PoseAppearanceNorm, PoseModulatedDecoder
from .resize_conv import ResizeConv2d

__all__ = [
    'AppearanceEncoder', 'HAND21_LIMBS', 'ImageDecoder', 'LimbMaps', 'PatchDiscriminator',
    'PoseAppearanceNorm', 'PoseModulatedDecoder', 'ResizeConv2d', 'hand_region',
    'keypoint_heatmaps', 'soft_argmax'
]
