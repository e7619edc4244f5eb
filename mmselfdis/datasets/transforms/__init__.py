from .appearance_jitter import AppearanceJitter
from .mix_reconstruct import MIX_META_KEYS, MixReconstruct
from .monochrome import ToMonochrome

__all__ = ['ToMonochrome', 'MixReconstruct', 'AppearanceJitter', 'MIX_META_KEYS']
