"""Resume a run so that it continues exactly as if it had never stopped."""
import random
from typing import Any, Dict, Iterator, Optional

import numpy as np
import torch
from mmengine.hooks import Hook
from mmpose.registry import HOOKS

__all__ = ['ExactResumeHook', 'get_rng_state', 'set_rng_state']

_KEY = 'rng_state'


def get_rng_state() -> Dict[str, Any]:
    """The global random states of ``random``, numpy and torch (CPU and CUDA)."""
    state = dict(
        python=random.getstate(),
        numpy=np.random.get_state(),
        torch=torch.get_rng_state(),
    )
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Dict[str, Any]) -> None:
    """Restore a state returned by :func:`get_rng_state`."""
    random.setstate(_as_tuple(state['python']))
    np.random.set_state(_as_tuple(state['numpy']))
    torch.set_rng_state(state['torch'].cpu())
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state['cuda']])


def _as_tuple(obj):
    if isinstance(obj, list):
        return tuple(_as_tuple(o) for o in obj)
    return obj


class _SkipFirst:
    """Sampler view that drops the first ``num`` indices of the next pass only.

    Index samplers such as MMEngine's ``DefaultSampler`` draw their order from
    their own seeded generator, so skipping indices consumes no global random
    state and loads no data.
    """

    def __init__(self, sampler, num: int) -> None:
        self.sampler = sampler
        self.num = num

    def __iter__(self) -> Iterator[int]:
        it = iter(self.sampler)
        for _ in range(self.num):
            next(it, None)
        self.num = 0
        yield from it

    def __len__(self) -> int:
        return len(self.sampler) - self.num

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.sampler, 'set_epoch'):
            self.sampler.set_epoch(epoch)


@HOOKS.register_module()
class ExactResumeHook(Hook):
    """Make ``--resume`` continue exactly where the run stopped.

    MMEngine resumes weights, optimizer, schedulers and the iteration count,
    but (a) not the global random generators, so the data augmentations after
    a resume differ from those of an uninterrupted run, and (b) an epoch-based
    run resumed from a mid-epoch checkpoint (``CheckpointHook(by_epoch=False)``)
    trains that epoch again from its first batch. With this hook:

    * every checkpoint stores the ``random``/numpy/torch states under
      ``checkpoint['rng_state']``, and ``--resume`` restores them right
      before training continues;
    * a run resumed mid-epoch skips the batches of that epoch it had already
      trained (at the sampler, so nothing is loaded and no random state is
      used), so it sees the same batches, augmentations and losses as the
      uninterrupted run;
    * validation and test loops run between a saved and a restored state, so
      whether (and how often) a run validates does not change its training.

    ``load_from`` without ``resume`` (a warm start) restores nothing.

    Note:
        Exactness holds for the main process's random state, i.e. with
        ``num_workers=0``; with worker processes the batch order is still
        exact but workers restart their own random streams after a resume.
        Bitwise-equal results also need deterministic kernels on GPU
        (``randomness=dict(seed=..., deterministic=True)``).
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._resumed: Optional[Dict[str, Any]] = None
        self._saved_at: Optional[int] = None
        self._before_eval: Optional[Dict[str, Any]] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[_KEY] = get_rng_state()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # MMEngine calls this for a resume and for a warm start (``load_from``)
        # alike; keep the state with the iteration it was saved at and tell
        # the two apart in ``before_train``, where a resume has set the
        # runner's iteration to the checkpoint's and a warm start has not.
        if _KEY in checkpoint:
            self._saved_at = checkpoint.get('meta', {}).get('iter')
            self._resumed = checkpoint[_KEY]

    def before_train(self, runner) -> None:
        if self._resumed is not None:
            if runner.iter > 0 and runner.iter == self._saved_at:
                set_rng_state(self._resumed)
            self._resumed = self._saved_at = None
        loop = runner.train_loop
        dataloader = getattr(loop, 'dataloader', None)
        batch_sampler = getattr(dataloader, 'batch_sampler', None)
        if not hasattr(loop, 'max_epochs') or batch_sampler is None or runner.iter == 0:
            return  # iteration-based loops resume through MMEngine's own logic
        done = runner.iter - runner.epoch * len(dataloader)
        if 0 < done < len(dataloader):
            runner.logger.info(f'ExactResumeHook: resuming inside epoch {runner.epoch + 1}; '
                               f'skipping its {done} already trained batches')
            batch_sampler.sampler = _SkipFirst(batch_sampler.sampler,
                                               done * batch_sampler.batch_size)

    def after_train_epoch(self, runner) -> None:
        batch_sampler = getattr(getattr(runner.train_loop, 'dataloader', None),
                                'batch_sampler', None)
        if isinstance(getattr(batch_sampler, 'sampler', None), _SkipFirst):
            batch_sampler.sampler = batch_sampler.sampler.sampler

    def before_val(self, runner) -> None:
        self._before_eval = get_rng_state()

    def after_val(self, runner) -> None:
        if self._before_eval is not None:
            set_rng_state(self._before_eval)
            self._before_eval = None
