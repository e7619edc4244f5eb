"""Helpers of the self-disentanglement branch."""
from .blur import gaussian_blur
from .feature_tap import FeatureTap
from .frozen import frozen_call
from .grad_balance import GradBalance, balance_gradient
from .grad_probe import gradient_probe, shared_parameter_groups
from .mixing import check_mixing_model
from .turns import random_turns, turn

__all__ = ['FeatureTap', 'frozen_call', 'check_mixing_model', 'GradBalance', 'balance_gradient',
           'gradient_probe', 'shared_parameter_groups', 'gaussian_blur', 'turn', 'random_turns']
