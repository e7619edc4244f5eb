from .hooks import ExactResumeHook, NonFiniteLossError, NonFiniteLossHook
from .hooks import SwapGridHook  # noqa: F401

__all__ = ['SwapGridHook', 'ExactResumeHook', 'NonFiniteLossHook', 'NonFiniteLossError']
