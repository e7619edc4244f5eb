"""Auxiliary heads."""
from .selfdis_head import SelfDisHead
from .selfdis_losses import SelfDisLosses

__all__ = ['SelfDisHead', 'SelfDisLosses']
