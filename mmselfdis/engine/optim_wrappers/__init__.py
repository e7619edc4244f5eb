from .non_finite_loss_optim_wrapper import (NonFiniteLossAmpOptimWrapper, NonFiniteLossError,
                                            NonFiniteLossOptimWrapper)

__all__ = ['NonFiniteLossOptimWrapper', 'NonFiniteLossAmpOptimWrapper', 'NonFiniteLossError']
