from .channels_last_hook import ChannelsLastHook
from .disentanglement_metric_hook import DisentanglementMetricHook
from .exact_resume_hook import ExactResumeHook
from .mix_ratio_hook import MixRatioHook
from .non_finite_loss_hook import NonFiniteLossHook
from .share_cores_hook import ShareCoresHook
from .swap_grid_hook import SwapGridHook

__all__ = ['ChannelsLastHook', 'SwapGridHook', 'ExactResumeHook', 'NonFiniteLossHook',
           'DisentanglementMetricHook', 'MixRatioHook', 'ShareCoresHook']
