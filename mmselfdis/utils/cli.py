"""Shared logic of ``tools/train.py`` and ``tools/test.py``.

* :func:`setup_launcher` makes ``--launcher pytorch`` work on machines
  without a GPU (gloo backend, DDP without ``device_ids``);
* :func:`check_custom_imports` refuses configs that use mmselfdis components
  without importing the plugin (they would fail in MMPose's own tools);
* :func:`explain_error` turns the errors users hit most (unknown type names,
  missing data files, bad checkpoints) into one message that names the fix.
"""
import difflib
import os
import os.path as osp
import re
from typing import Any, Iterator, List, Optional

import torch
from mmengine.config import Config

__all__ = ['ConfigError', 'setup_launcher', 'check_custom_imports', 'explain_error', 'run_cli',
           'iter_types']

PLUGIN = 'mmselfdis'
CUSTOM_IMPORTS_LINE = f"custom_imports = dict(imports=['{PLUGIN}'], allow_failed_imports=False)"


class ConfigError(ValueError):
    """A config cannot work as written; the message names the fix."""


def setup_launcher(cfg: Config, launcher: str) -> None:
    """Prepare ``cfg`` for ``launcher``.

    MMEngine 0.10's pytorch launcher calls ``torch.cuda.set_device``
    unconditionally, which fails on CPU-only machines. When there is no GPU,
    initialise a ``gloo`` process group here (the Runner then skips its own
    ``init_dist``) and let ``MMDistributedDataParallel`` run without
    ``device_ids``. GPU runs are left to MMEngine unchanged.
    """
    cfg.launcher = launcher
    if launcher != 'pytorch' or torch.cuda.is_available():
        return
    import torch.distributed as dist
    missing = [k for k in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT')
               if k not in os.environ]
    if missing:
        raise ConfigError(
            f'--launcher pytorch needs the environment variables {missing} that torchrun '
            f'sets; start the run with tools/dist_train.sh CONFIG NPROC (or torchrun).')
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    wrapper['device_ids'] = None
    wrapper.setdefault('broadcast_buffers', False)
    wrapper.setdefault('find_unused_parameters', cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper


def shutdown_distributed() -> None:
    """End a distributed run cleanly: wait for every rank, then destroy the group.

    Without it a rank that finishes first (here: before rank 0 has saved its
    best checkpoint) exits with the process group's threads still running,
    and the process can abort with ``terminate called without an active
    exception`` (seen with gloo on torch 2.14 in about one run in five), which
    torchrun reports as a failed run. A no-op outside a distributed run.
    """
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def iter_types(node: Any) -> Iterator[str]:
    """Yield every string ``type`` value in a (nested) config."""
    if isinstance(node, dict):
        value = node.get('type')
        if isinstance(value, str):
            yield value
        for v in node.values():
            yield from iter_types(v)
    elif isinstance(node, (list, tuple)):
        for v in node:
            yield from iter_types(v)


def _plugin_types() -> List[str]:
    """Names registered into MMPose's registries by this package."""
    from mmengine.registry import Registry
    import mmpose.registry as mmpose_registry

    names = set()
    for obj in vars(mmpose_registry).values():
        if isinstance(obj, Registry):
            for name, cls in obj.module_dict.items():
                if getattr(cls, '__module__', '').startswith(PLUGIN + '.'):
                    names.add(name)
    return sorted(names)


def check_custom_imports(cfg: Config, filename: str = 'the config') -> None:
    """Raise :class:`ConfigError` if ``cfg`` uses plugin types without importing the plugin."""
    imports = (cfg.get('custom_imports') or {}).get('imports', [])
    if isinstance(imports, str):
        imports = [imports]
    if any(i == PLUGIN or i.startswith(PLUGIN + '.') for i in imports):
        return
    plugin_types = set(_plugin_types())
    used = sorted({t.split('.')[-1] for t in iter_types(cfg.to_dict())} & plugin_types)
    if used:
        raise ConfigError(
            f'{filename} uses mmselfdis components ({", ".join(used)}) but does not import the '
            f'plugin, so MMPose cannot build them. Add this line to the config:\n    '
            f'{CUSTOM_IMPORTS_LINE}')


_NOT_REGISTERED = re.compile(r'([\w.]+) is not in the (?:(\w+)::)?([\w ]+?) registry')
_NO_FILE = re.compile(r"No such file or directory: '([^']+)'|Annotation file `([^`]+)`\s*does not exist")


def _registered_names(scope: Optional[str], registry_name: str) -> List[str]:
    from mmengine.registry import Registry
    import mmpose.registry as mmpose_registry

    for obj in vars(mmpose_registry).values():
        if (isinstance(obj, Registry) and obj.name == registry_name
                and obj.scope == (scope or 'mmpose')):
            names = set(obj.module_dict)
            parent = obj.parent
            while parent is not None:
                names |= set(parent.module_dict)
                parent = parent.parent
            return sorted(names)
    return []


def explain_error(exc: BaseException) -> Optional[str]:
    """Return a short message naming the problem and the fix, or None if unknown."""
    from .checkpoint import CheckpointLoadError

    if isinstance(exc, (ConfigError, CheckpointLoadError)) or \
            type(exc).__name__ == 'NonFiniteLossError':
        return str(exc)
    text = str(exc)
    match = _NOT_REGISTERED.search(text)
    if isinstance(exc, KeyError) and match:
        name, scope, registry = match.group(1), match.group(2), match.group(3)
        close = difflib.get_close_matches(name, _registered_names(scope, registry), n=3)
        hint = f' Did you mean {", ".join(repr(c) for c in close)}?' if close else ''
        return (f"unknown type '{name}' in the {registry} registry.{hint} If '{name}' comes "
                f"from a plugin, import it in the config, e.g. {CUSTOM_IMPORTS_LINE}")
    match = _NO_FILE.search(text)
    if isinstance(exc, (OSError, AssertionError)) and match:
        path = osp.normpath(match.group(1) or match.group(2))
        return (f"data file not found: '{path}' (working directory {os.getcwd()}). Check "
                f'data_root / ann_file / data_prefix in the config (or override them with '
                f'--cfg-options), or create the data first (e.g. tools/make_synthhands.py).')
    if isinstance(exc, FileNotFoundError) and exc.filename:
        return (f"file not found: '{exc.filename}' (working directory {os.getcwd()}). "
                f'Check the path in the config or on the command line.')
    return None


def run_cli(main, argv: Optional[List[str]] = None) -> None:
    """Run ``main(argv)``; known user errors end with one clear message (exit code 2).

    Set ``MMSELFDIS_DEBUG=1`` to see the full traceback instead.
    """
    import sys
    try:
        main(argv)
    except Exception as exc:  # noqa: BLE001 - re-raised unless we can explain it
        message = explain_error(exc)
        if message is None or os.environ.get('MMSELFDIS_DEBUG'):
            raise
        print(f'error: {message}', file=sys.stderr)
        sys.exit(2)
