from .hooks import ExactResumeHook, NonFiniteLossError, NonFiniteLossHook
from .hooks import MixRatioHook, SwapGridHook  # noqa: F401

__all__ = ['SwapGridHook', 'ExactResumeHook', 'NonFiniteLossHook', 'NonFiniteLossError']
