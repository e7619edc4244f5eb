from .hooks import ExactResumeHook, NonFiniteLossHook
from .hooks import SwapGridHook  # noqa: F401
from .optim_wrappers import (NonFiniteLossAmpOptimWrapper, NonFiniteLossError,
                             NonFiniteLossOptimWrapper)

__all__ = ['SwapGridHook', 'ExactResumeHook', 'NonFiniteLossHook', 'NonFiniteLossOptimWrapper',
           'NonFiniteLossAmpOptimWrapper', 'NonFiniteLossError']
