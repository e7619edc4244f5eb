from . import synthhands
from .synthhand_dataset import SynthHandDataset
from .synthhands import render
from .transforms import ToMonochrome

__all__ = ['ToMonochrome', 'SynthHandDataset', 'synthhands', 'render']
from .samplers import PosePairSampler  # noqa: F401,E402
