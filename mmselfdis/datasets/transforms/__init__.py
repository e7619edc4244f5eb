from .amplitude_mix import AmplitudeMix
from .appearance_jitter import AppearanceJitter
from .mix_reconstruct import MIX_META_KEYS, MixReconstruct
from .monochrome import ToMonochrome
from .paired_crop import PairedCropTransform
from .truth_mix import TruthMix

__all__ = ['ToMonochrome', 'MixReconstruct', 'AppearanceJitter', 'MIX_META_KEYS',
           'AmplitudeMix', 'PairedCropTransform', 'TruthMix']
