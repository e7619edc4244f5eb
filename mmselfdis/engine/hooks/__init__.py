from .exact_resume_hook import ExactResumeHook
from .mix_ratio_hook import MixRatioHook
from .non_finite_loss_hook import NonFiniteLossError, NonFiniteLossHook
from .swap_grid_hook import SwapGridHook

__all__ = ['SwapGridHook', 'ExactResumeHook', 'NonFiniteLossHook', 'NonFiniteLossError',
           'MixRatioHook']
