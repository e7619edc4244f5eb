"""Helpers of the self-disentanglement branch."""
from .feature_tap import FeatureTap
from .frozen import frozen_call
from .grad_balance import GradBalance, balance_gradient
from .grad_probe import gradient_probe, shared_parameter_groups

__all__ = ['FeatureTap', 'frozen_call', 'GradBalance', 'balance_gradient', 'gradient_probe',
           'shared_parameter_groups']
