"""A hook that SIGKILLs its own process right after a given iteration (fault tests)."""
import os
import signal

from mmengine.hooks import Hook
from mmpose.registry import HOOKS


@HOOKS.register_module()
class SigkillAfterIterHook(Hook):
    """Kill the training process with SIGKILL after iteration ``at`` (1-based).

    Lowest priority, so the checkpoint of that iteration is written first, as
    with a machine that dies between two iterations.
    """

    priority = 'LOWEST'

    def __init__(self, at: int) -> None:
        self.at = at

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if runner.iter + 1 == self.at:
            os.kill(os.getpid(), signal.SIGKILL)
