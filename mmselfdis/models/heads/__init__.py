"""Auxiliary heads."""
from .background import BackgroundPainter
from .selfdis_head import SelfDisHead
from .selfdis_losses import SelfDisLosses

__all__ = ['BackgroundPainter', 'SelfDisHead', 'SelfDisLosses']
