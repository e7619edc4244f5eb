from .exact_resume_hook import ExactResumeHook
from .non_finite_loss_hook import NonFiniteLossError, NonFiniteLossHook

__all__ = ['ExactResumeHook', 'NonFiniteLossHook', 'NonFiniteLossError']
