"""Auxiliary heads."""
from .selfdis_head import SelfDisHead

__all__ = ['SelfDisHead']
