"""Helpers of the self-disentanglement branch."""
from .feature_tap import FeatureTap
from .frozen import frozen_call

__all__ = ['FeatureTap', 'frozen_call']
