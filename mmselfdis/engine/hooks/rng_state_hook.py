"""Make resumed training continue with the random state it was saved with."""
import random
from typing import Any, Dict, Optional

import numpy as np
import torch
from mmengine.hooks import Hook
from mmpose.registry import HOOKS

__all__ = ['RNGStateHook', 'get_rng_state', 'set_rng_state']

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


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Save the random state in checkpoints, restore it on resume.

    MMEngine resumes weights, optimizer, schedulers and the iteration count,
    but not the global random generators, so the data augmentations after a
    resume differ from those of an uninterrupted run. With this hook:

    * every checkpoint stores the ``random``/numpy/torch states under
      ``checkpoint['rng_state']``;
    * ``--resume`` restores them right before training continues, so the
      resumed run draws the same augmentations as the uninterrupted one;
    * validation and test loops run between a saved and a restored state, so
      whether (and how often) a run validates does not change its training.

    ``load_from`` without ``resume`` (a warm start) does not restore the state.
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._resumed: Optional[Dict[str, Any]] = None
        self._before_eval: Optional[Dict[str, Any]] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[_KEY] = get_rng_state()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if getattr(runner, '_resume', False) and _KEY in checkpoint:
            self._resumed = checkpoint[_KEY]

    def before_train(self, runner) -> None:
        if self._resumed is not None:
            set_rng_state(self._resumed)
            self._resumed = None

    def before_val(self, runner) -> None:
        self._before_eval = get_rng_state()

    def after_val(self, runner) -> None:
        if self._before_eval is not None:
            set_rng_state(self._before_eval)
            self._before_eval = None
