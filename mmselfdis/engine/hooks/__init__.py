from .channels_last_hook import ChannelsLastHook
from .exact_resume_hook import ExactResumeHook
from .non_finite_loss_hook import NonFiniteLossError, NonFiniteLossHook
from .swap_grid_hook import SwapGridHook

__all__ = [
    'ChannelsLastHook', 'SwapGridHook', 'ExactResumeHook', 'NonFiniteLossHook',
    'NonFiniteLossError'
]
