"""Train with fewer threads while another process works on the same cores."""
import os.path as osp
from typing import Optional

import torch
from mmengine.hooks import Hook

from mmpose.registry import HOOKS

__all__ = ['ShareCoresHook']


@HOOKS.register_module()
class ShareCoresHook(Hook):
    """Use ``threads`` threads until the file ``until_exists`` appears, then all again.

    On a small CPU two processes of one thread each get more done per second
    than one process of two threads (small convolutions scale poorly), while
    three threads on two cores are slower than either (docs/results.md,
    "Iterations per second"). ``tools/demo.py`` therefore trains the judge in
    a second process of one thread beside the generator's training, which
    gives up its other threads with this hook until the judge's weights
    (``until_exists``) are written, and then takes back the thread count it
    started with. The numbers computed are the same up to the floating-point
    order of the kernels of each thread count.

    Args:
        until_exists: The file whose appearance ends the sharing (the other
            process's result).
        threads: Threads while sharing (at most the count the process started
            with).

    Example::

        custom_hooks = [dict(type='ShareCoresHook', threads=1,
                             until_exists='data/synthhands/judge/judge.pth')]
    """

    priority = 'VERY_HIGH'

    def __init__(self, until_exists: str, threads: int = 1) -> None:
        if int(threads) < 1:
            raise ValueError(f'ShareCoresHook: threads must be >= 1, got {threads!r}')
        if not until_exists:
            raise ValueError('ShareCoresHook: until_exists must name the file whose '
                             'appearance ends the sharing')
        self.until_exists = str(until_exists)
        self.threads = int(threads)
        self._full: Optional[int] = None

    @property
    def sharing(self) -> bool:
        """Whether the threads are given up now."""
        return self._full is not None

    def before_train(self, runner) -> None:
        """Give up the threads if the other process has not finished yet."""
        full = torch.get_num_threads()
        if osp.exists(self.until_exists) or self.threads >= full:
            return
        self._full = full
        torch.set_num_threads(self.threads)
        runner.logger.info(f'ShareCoresHook: training with {self.threads} of {full} threads '
                           f'until {self.until_exists} exists')

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        """Take the threads back once the file exists."""
        if self._full is not None and osp.exists(self.until_exists):
            torch.set_num_threads(self._full)
            runner.logger.info(f'ShareCoresHook: {self.until_exists} exists: training with '
                               f'{self._full} threads from iteration {runner.iter + 1}')
            self._full = None

    def after_train(self, runner) -> None:
        """Leave the process with the threads it started with."""
        if self._full is not None:
            torch.set_num_threads(self._full)
            self._full = None
