"""Checkpoints: safe loading under ``weights_only=True`` and THE checkpoint -> model path.

torch >= 2.6 makes ``torch.load`` default to ``weights_only=True``. MMEngine
0.10.x still calls ``torch.load(filename, map_location=...)`` without the
argument, so checkpoints that carry numpy arrays or MMEngine objects in their
``meta``/``message_hub`` fail to load (``--resume``, ``load_from``).

Instead of turning safe loading off, this module allow-lists exactly the
globals that MMEngine checkpoints contain. Anything else in a pickle (for
example a ``__reduce__`` that would call ``os.system``) is still refused by
torch's weights-only unpickler.

:func:`load_model` is the one way the project turns a config and a
checkpoint into a model (generators, the metric's pose estimator, export).
"""
import copy
import os
import os.path as osp
import pickle
import re
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Union

import numpy as np
import torch
from torch import nn

__all__ = ['mmengine_safe_globals', 'register_safe_globals', 'safe_load_checkpoint',
           'load_model', 'CheckpointLoadError']

#: How checkpoint keys are revised before loading: DDP's ``module.`` prefix
#: goes (MMEngine's ``load_checkpoint`` default).
REVISE_KEYS = [(r'^module\.', '')]
#: State-dict prefix of the self-disentanglement branch: dropped when the
#: model that loads the checkpoint has no such branch (a plain pose estimator).
BRANCH_PREFIX = 'selfdis.'


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


def _resolve_config(config: Any, ckpt: Optional[dict], source: str):
    """``config`` as a :class:`Config`; ``None`` reads MMEngine's ``meta['cfg']`` text."""
    from mmengine.config import Config

    if config is None:
        if ckpt is None:
            raise ValueError('load_model needs a config, a checkpoint, or both; got neither')
        text = (ckpt.get('meta') or {}).get('cfg')
        if not isinstance(text, str) or not text.strip():
            raise CheckpointLoadError(
                f'{source} carries no config text in meta["cfg"] (MMEngine writes it; a plain '
                f'state_dict does not): pass the config it was trained with explicitly, e.g. '
                f'config="configs/selfdis/t4-3_selfdis_unet_synthhands-mono-64x64.py".')
        try:
            return Config.fromstring(text, '.py')
        except Exception as err:  # noqa: BLE001 - any parse error means the same fix
            raise CheckpointLoadError(
                f'the config stored in {source} cannot be parsed ({type(err).__name__}: '
                f'{err}); pass the training config file as config=') from None
    if isinstance(config, Config):
        return copy.deepcopy(config)
    if isinstance(config, dict):
        return Config(copy.deepcopy(config))
    if isinstance(config, (str, os.PathLike)):
        if not osp.isfile(config):
            raise FileNotFoundError(2, 'No such file or directory', os.fspath(config))
        return Config.fromfile(os.fspath(config))
    raise TypeError(f'config must be None, a path, a dict or a Config, got {type(config)!r}')


def _revised_state_dict(ckpt: dict) -> 'OrderedDict[str, torch.Tensor]':
    """The checkpoint's ``state_dict`` with :data:`REVISE_KEYS` applied (as MMEngine does)."""
    state = ckpt.get('state_dict', ckpt)
    metadata = getattr(state, '_metadata', OrderedDict())
    for pattern, repl in REVISE_KEYS:
        state = OrderedDict((re.sub(pattern, repl, k), v) for k, v in state.items())
    state._metadata = metadata
    return state


def load_model(config: Any,
               checkpoint: Union[str, os.PathLike, dict, None] = None,
               device: Union[str, torch.device] = 'cpu') -> nn.Module:
    """Build the model of ``config`` and load ``checkpoint`` into it.

    The one checkpoint -> model path of the project (generators, the
    metric's pose estimator, ``tools/export.py``). What MMPose's
    ``init_model`` does, over safe loading:

    * the file is read with :func:`safe_load_checkpoint`
      (``weights_only=True``, clear errors) and applied with MMEngine's
      ``load_state_dict``, the keys revised as MMEngine's
      ``load_checkpoint(..., revise_keys=REVISE_KEYS)`` does (DDP's
      ``module.`` prefix goes);
    * the fit is strict, with one exception: weights of the
      self-disentanglement branch (``selfdis.*``) are dropped when the model
      has no such branch (a plain pose estimator loading a
      self-disentanglement checkpoint);
    * the data preprocessor's ``batch_augments`` are not built (a model
      loaded for inference never augments its batches; building
      ``BatchMixReconstruct`` would load yet another checkpoint);
    * ``model.dataset_meta`` is the checkpoint's ``meta['dataset_meta']``
      when it has one.

    Args:
        config: The model's config: a path, a dict or a :class:`Config`;
            ``None`` uses the config text MMEngine stores in the
            checkpoint's ``meta['cfg']``.
        checkpoint: Path of a ``.pth`` file (or a checkpoint dict already
            read with :func:`safe_load_checkpoint`); ``None`` leaves the
            weights as built.
        device: Where the model is put.

    Returns:
        nn.Module: The model in ``eval()`` mode (gradients left as built;
        call ``requires_grad_(False)`` to freeze it).

    Raises:
        CheckpointLoadError: Missing, truncated or unsafe file, or
            ``config=None`` and no config stored in it.
        FileNotFoundError: ``config`` names a file that does not exist.
        ValueError: The config has no model, or the weights do not fit it.
    """
    from mmengine.registry import init_default_scope
    from mmengine.runner import load_state_dict
    from mmengine.utils import import_modules_from_strings

    from mmpose.registry import MODELS

    if isinstance(checkpoint, dict):
        ckpt, source = checkpoint, 'the checkpoint'
    elif checkpoint is not None:
        source = repr(os.fspath(checkpoint))
        ckpt = safe_load_checkpoint(checkpoint, map_location='cpu')
    else:
        ckpt, source = None, None
    cfg = _resolve_config(config, ckpt, source)
    model_cfg = cfg.get('model')
    if not isinstance(model_cfg, dict):
        where = os.fspath(config) if isinstance(config, (str, os.PathLike)) else source
        raise ValueError(f'the config {"of " + where if where else ""} has no model = '
                         f'dict(...); pass the training config of a model')
    model_cfg = copy.deepcopy(model_cfg.to_dict() if hasattr(model_cfg, 'to_dict')
                              else dict(model_cfg))
    preprocessor = model_cfg.get('data_preprocessor')
    if isinstance(preprocessor, dict) and preprocessor.get('batch_augments'):
        preprocessor['batch_augments'] = None
    if cfg.get('custom_imports'):
        import_modules_from_strings(**cfg.custom_imports)
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    model = MODELS.build(model_cfg)

    if ckpt is not None:
        state = _revised_state_dict(ckpt)
        if getattr(model, BRANCH_PREFIX[:-1], None) is None:
            for key in [k for k in state if k.startswith(BRANCH_PREFIX)]:
                del state[key]
        own = model.state_dict()
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        wrong = [k for k in own
                 if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
        if missing or unexpected or wrong:
            if isinstance(config, (str, os.PathLike)):
                name = f'config {os.fspath(config)!r}'
            else:
                name = ('config stored in it' if config is None else
                        f'{model_cfg.get("type")!r} config')
            raise ValueError(
                f'the weights in {source} do not fit the {name} (missing '
                f'{missing[:3]}, unexpected {unexpected[:3]}, wrong shape {wrong[:3]}); pass '
                f'the config the checkpoint was trained with (or config=None to use the one '
                f'stored in it).')
        load_state_dict(model, state, strict=True)
        dataset_meta = (ckpt.get('meta') or {}).get('dataset_meta')
        if dataset_meta is not None:
            model.dataset_meta = dataset_meta
    model.to(device)
    model.eval()
    return model
