"""Backbones."""
from .mixstyle import MixStyle, MixStyleBackbone
from .unet_encoder import UNetEncoder

__all__ = ['UNetEncoder', 'MixStyle', 'MixStyleBackbone']
