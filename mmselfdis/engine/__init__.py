from .hooks import ExactResumeHook, NonFiniteLossError, NonFiniteLossHook

__all__ = ['ExactResumeHook', 'NonFiniteLossHook', 'NonFiniteLossError']
