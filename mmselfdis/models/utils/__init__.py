"""Helpers of the self-disentanglement branch."""
from .feature_tap import FeatureTap
from .frozen import frozen_call
from .mixing import check_mixing_model

__all__ = ['FeatureTap', 'frozen_call', 'check_mixing_model']
