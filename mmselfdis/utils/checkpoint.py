"""Safe loading of MMEngine checkpoints under ``torch.load(weights_only=True)``.

torch >= 2.6 makes ``torch.load`` default to ``weights_only=True``. MMEngine
0.10.x still calls ``torch.load(filename, map_location=...)`` without the
argument, so checkpoints that carry numpy arrays or MMEngine objects in their
``meta``/``message_hub`` fail to load (``--resume``, ``load_from``).

Instead of turning safe loading off, this module allow-lists exactly the
globals that MMEngine checkpoints contain. Anything else in a pickle (for
example a ``__reduce__`` that would call ``os.system``) is still refused by
torch's weights-only unpickler.
"""
import os
import pickle
from typing import Any, Dict, List, Optional, Union

import numpy as np
import torch

__all__ = ['mmengine_safe_globals', 'register_safe_globals', 'safe_load_checkpoint',
           'CheckpointLoadError']


class CheckpointLoadError(RuntimeError):
    """A checkpoint could not be loaded; the message names the cause and the fix."""


def _history_buffer_getattr(obj: Any, name: str) -> Any:
    """Stand-in for ``builtins.getattr`` inside checkpoints.

    MMEngine's ``HistoryBuffer.__getstate__`` pickles its statistics methods
    as ``getattr(HistoryBuffer, 'min')`` etc. Allowing the real ``getattr``
    would let a crafted pickle reach any attribute of any allowed object, so
    only those lookups are answered.
    """
    from mmengine.logging.history_buffer import HistoryBuffer

    if obj is HistoryBuffer and isinstance(name, str) and name in _HISTORY_BUFFER_METHODS:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'Unsupported global: getattr({getattr(obj, "__name__", type(obj).__name__)}, '
        f'{name!r}) is not an allowed lookup in a checkpoint')


_HISTORY_BUFFER_METHODS = ('min', 'max', 'current', 'mean')


def mmengine_safe_globals() -> List[Any]:
    """The globals that MMEngine 0.10 / MMPose 1.x checkpoints pickle.

    numpy arrays and scalars (dataset metainfo such as ``sigmas`` and
    ``keypoint_colors``; numpy scalars in logged metrics), ``bytes`` (array
    buffers), MMEngine's ``HistoryBuffer`` (the message hub's log scalars)
    and a ``getattr`` restricted to the ``HistoryBuffer`` statistics methods.
    """
    from mmengine.logging.history_buffer import HistoryBuffer

    try:  # numpy >= 2
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar
    safe: List[Any] = [_reconstruct, scalar, np.ndarray, np.dtype, bytes, HistoryBuffer,
                       (_history_buffer_getattr, 'builtins.getattr')]
    # The dtype classes numpy pickles with arrays/scalars (numpy >= 1.25).
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        for name in dir(dtypes):
            obj = getattr(dtypes, name)
            if isinstance(obj, type) and issubclass(obj, np.dtype):
                safe.append(obj)
    return safe


_REGISTERED = False


def register_safe_globals() -> None:
    """Allow-list :func:`mmengine_safe_globals` for ``torch.load(weights_only=True)``.

    Idempotent. Nothing else is allowed; safe loading stays on.
    """
    global _REGISTERED
    if _REGISTERED or not hasattr(torch.serialization, 'add_safe_globals'):
        return
    torch.serialization.add_safe_globals(mmengine_safe_globals())
    _REGISTERED = True


def safe_load_checkpoint(path: Union[str, os.PathLike],
                         map_location: Optional[Union[str, torch.device]] = 'cpu'
                         ) -> Dict[str, Any]:
    """Load a checkpoint file with ``weights_only=True`` and clear errors.

    Args:
        path: Path of a ``.pth`` file written by MMEngine (or a plain
            ``state_dict``).
        map_location: Passed to :func:`torch.load`.

    Returns:
        dict: The loaded checkpoint.

    Raises:
        CheckpointLoadError: If the file is missing, truncated, not a
            checkpoint, or contains objects that could execute code.
    """
    register_safe_globals()
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointLoadError(
            f'checkpoint not found: {path!r}. Pass the path of a .pth file written by '
            f'tools/train.py (look under work_dirs/<config>/ for epoch_*.pth or best_*.pth).')
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises UnpicklingError/RuntimeError/EOFError
        msg = str(err)
        if 'Weights only load failed' in msg or 'Unsupported global' in msg:
            raise CheckpointLoadError(
                f'refusing to load {path!r}: it contains Python objects that are not on the '
                f'allow-list of safe checkpoint contents (a pickle like this could run code). '
                f'Only load checkpoints you trust; re-save it as a plain state_dict with '
                f'torch.save({{"state_dict": model.state_dict()}}, path). Details: '
                f'{msg.splitlines()[0] if msg else type(err).__name__}') from None
        raise CheckpointLoadError(
            f'could not read checkpoint {path!r} ({type(err).__name__}: '
            f'{msg.splitlines()[0] if msg else "no details"}). The file is truncated or '
            f'not a PyTorch checkpoint; re-download it or pick another epoch_*.pth.') from None
    if not isinstance(ckpt, dict):
        raise CheckpointLoadError(
            f'{path!r} holds a {type(ckpt).__name__}, not a checkpoint dict; expected what '
            f'MMEngine writes (a dict with "state_dict" and "meta").')
    return ckpt
