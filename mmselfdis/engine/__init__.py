from .hooks import ExactResumeHook, NonFiniteLossHook
from .hooks import MixRatioHook, SwapGridHook  # noqa: F401
from .optim_wrappers import (NonFiniteLossAmpOptimWrapper, NonFiniteLossError,
                             NonFiniteLossOptimWrapper)

__all__ = ['SwapGridHook', 'ExactResumeHook', 'NonFiniteLossHook', 'NonFiniteLossOptimWrapper',
           'NonFiniteLossAmpOptimWrapper', 'NonFiniteLossError']
