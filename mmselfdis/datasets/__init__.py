from . import synthhands
from .collate import shared_pseudo_collate
from .synthhand_dataset import SynthHandDataset
from .synthhands import render
from .transforms import ToMonochrome

__all__ = ['ToMonochrome', 'SynthHandDataset', 'synthhands', 'render', 'shared_pseudo_collate']
from .samplers import PosePairSampler  # noqa: F401,E402
