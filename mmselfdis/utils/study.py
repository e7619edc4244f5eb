"""Bookkeeping shared by the study tools (``tools/ratio_study.py``,
``tools/reproduce_table4.py``, ``tools/demo.py``).

A study trains and evaluates several runs through ``tools/train.py`` and
``tools/test.py``, each in a subprocess or, after :func:`set_in_process`, each
as a call in this process (:func:`run_tool`). These helpers make it resumable
and safe to interrupt: files are written through a temporary name and a
rename, a work dir remembers which study it holds and refuses another one, and
the synthetic data set is rendered once.
"""
import contextlib
import gc
import hashlib
import importlib.util
import itertools
import json
import math
import os
import os.path as osp
import statistics
import subprocess
import sys
import threading
import time
from typing import Dict, List, Optional, Sequence, Tuple

import mmengine

from .cli import ConfigError

__all__ = [
    'StudyError', 'REPO', 'atomic_write', 'atomic_write_bytes', 'sha16', 'check_manifest',
    'run_logged', 'run_tool', 'set_in_process', 'apply_options', 'set_data_root',
    'inner_dataset', 'ensure_synthhands', 'remove_files', 'remove_stale_tables',
    'set_heatmap_size', 'SINGLE_PROCESS_LOADERS', 'micro_options', 'PAPER_NETWORK',
    'gpu_loader_options', 'set_codec', 'dump_run', 'train_run',
    'evaluate_splits', 'fmt_cell'
]

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
"""The repository root (``tools/`` lives there)."""


SINGLE_PROCESS_LOADERS = {
    f'{loader}.{key}': value
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    for key, value in (('num_workers', 0), ('persistent_workers', False))
}
"""Config overrides that load data in the main process (tiny runs: no worker start-up)."""


PAPER_NETWORK = {
    'train_dataloader.batch_size': 128,
    'auto_scale_lr.base_batch_size': 128,
    'model.backbone.base_channels': 64,
    'model.head.in_channels': 512,
    'model.head.deconv_out_channels': (256, 128, 64, 32),
}
"""Config overrides for the paper's networks and batch (§4.2): the UNet at base 64 and
its heatmap decoder, batch 128 (the ``gpu`` and ``paper`` presets of the study tools)."""


def gpu_loader_options(workers: int = 4) -> dict:
    """Overrides for the ``gpu`` presets: ``workers`` persistent loader processes per
    loader, pinned memory, and cuDNN's autotuner (fixed 64x64 inputs).

    One training on a large GPU is bound by the host (Python, kernel launches,
    the data pipeline), so a preset leaves cores for a second run beside it.
    """
    options = {
        f'{loader}.{key}': value
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')
        for key, value in (('num_workers', workers), ('persistent_workers', True),
                           ('pin_memory', True))
    }
    options['env_cfg.cudnn_benchmark'] = True
    return options


def micro_options(deconv_out_channels: Sequence[int]) -> dict:
    """Overrides for a run of seconds: a 4-channel UNet, batch 8, one process.

    The presets called ``micro`` of the study tools use it to test their
    bookkeeping on real (tiny) training runs.

    Args:
        deconv_out_channels: The pose head's deconvolution widths (one per
            2x2 deconvolution of the config).
    """
    return {
        'train_dataloader.batch_size': 8,
        **SINGLE_PROCESS_LOADERS,
        'model.backbone.base_channels': 4,
        'model.head.in_channels': 32,
        'model.head.deconv_out_channels': tuple(deconv_out_channels),
        'default_hooks.logger.interval': 1,
    }


def fmt_cell(v: Optional[float], digits: int = 3) -> str:
    """A table cell: ``v`` with ``digits`` decimals, ``–`` for a missing or NaN value."""
    return '–' if v is None or (isinstance(v, float) and math.isnan(v)) else f'{v:.{digits}f}'


def mean_sd(values: Sequence[float]) -> Tuple[float, float]:
    """Mean and sample standard deviation over seeds (sd 0 for a single value)."""
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return statistics.mean(values), sd


def fmt_seeds(values: Sequence[float], digits: int = 3) -> str:
    """A table cell for one figure over seeds: the value alone for one seed,
    ``mean ± sd`` for several."""
    if len(values) == 1:
        return fmt_cell(values[0], digits)
    mean, sd = mean_sd(values)
    return f'{mean:.{digits}f} ± {sd:.{digits}f}'


class StudyError(ConfigError):
    """The study cannot run as asked; the message names the fix."""


def atomic_write(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    atomic_write_bytes(path, text.encode())


def atomic_write_bytes(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    tmp = f'{path}.tmp-{os.getpid()}'
    with open(tmp, 'wb') as f:
        f.write(data)
    os.replace(tmp, path)


def sha16(text: str) -> str:
    """First 16 hex digits of the SHA-256 of ``text``."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def check_manifest(work_dir: str, manifest: dict, keys: Sequence[str]) -> None:
    """Refuse a work dir that holds another study; else record this one's manifest.

    Args:
        work_dir: The study's directory (created if missing).
        manifest: What identifies the study (config hashes, preset, seed, ...).
        keys: The manifest keys that must match an existing ``study.json``.
    """
    path = osp.join(work_dir, 'study.json')
    if osp.isfile(path):
        old = mmengine.load(path)
        for key in keys:
            if old.get(key) != manifest.get(key):
                raise StudyError(
                    f'{work_dir} holds a study with {key}={old.get(key)!r} (this run: '
                    f'{manifest.get(key)!r}); its results would be mixed with this one\'s. Use '
                    f'another --work-dir (or delete that directory yourself).')
        return
    os.makedirs(work_dir, exist_ok=True)
    atomic_write(path, mmengine.dump(manifest, file_format='json', indent=2))


def tool_threads() -> int:
    """The thread count a tool's process gets from :func:`run_logged`: this
    process's ``OMP_NUM_THREADS``, else every core."""
    return int(os.environ.get('OMP_NUM_THREADS') or os.cpu_count() or 1)


def run_logged(cmd: List[str], log: str, env: Optional[dict] = None,
               echo: Optional[str] = None) -> None:
    """Run ``cmd`` in the repository root, appending its output to ``log``.

    Args:
        cmd: The command.
        log: Log file (appended to).
        env: Extra environment variables.
        echo: If given, the output's lines that contain this text are also
            printed (a progress display, e.g. ``'Epoch(train)'``).

    Raises:
        RuntimeError: The command failed; the message has the log's tail.
    """
    full_env = dict(os.environ)
    full_env['OMP_NUM_THREADS'] = str(tool_threads())
    full_env.setdefault('PYTHONUNBUFFERED', '1')
    full_env.update(env or {})
    with open(log, 'a') as f:
        f.write(f'\n$ {" ".join(cmd)}\n')
        f.flush()
        if echo is None:
            proc = subprocess.run(cmd, cwd=REPO, env=full_env, stdout=f,
                                  stderr=subprocess.STDOUT)
            returncode = proc.returncode
        else:
            proc = subprocess.Popen(cmd, cwd=REPO, env=full_env, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True, bufsize=1)
            for line in proc.stdout:
                f.write(line)
                if echo in line:
                    print('    ' + _short_log_line(line), flush=True)
            returncode = proc.wait()
    if returncode != 0:
        with open(log) as f:
            tail = f.read()[-3000:]
        raise RuntimeError(f'{" ".join(cmd[:3])} ... failed (exit {returncode}); see {log}'
                           f'\n{tail}')


def _short_log_line(line: str) -> str:
    """An MMEngine log line without its date and logger name."""
    line = line.rstrip()
    marker = ' - mmengine - INFO - '
    return line.split(marker, 1)[1] if marker in line else line


_IN_PROCESS = False
_IN_PROCESS_LOCK = threading.Lock()
_RUN_COUNTER = itertools.count()


def set_in_process(flag: bool = True) -> None:
    """Run the tools of :func:`run_tool` (and so :func:`train_run`,
    :func:`evaluate_splits`) as calls in this process instead of a subprocess each.

    A process pays its imports (torch, mmpose) and its CUDA start-up once;
    on the GPU machine measured in docs/results.md that is ~25 s per process,
    more than an evaluation's own work. The tools run one at a time then: their
    output is redirected into the run's log at the file-descriptor level.
    """
    global _IN_PROCESS
    _IN_PROCESS = bool(flag)


KERNEL_ENV_VARS = ('ATEN_CPU_CAPABILITY', 'ONEDNN_MAX_CPU_ISA', 'DNNL_MAX_CPU_ISA',
                   'MKL_ENABLE_INSTRUCTIONS', 'MKL_CBWR')
"""Environment variables that choose other CPU kernels (and so other rounding) for the same
model: recorded in :func:`training_environment` when set."""


def _cpu_model() -> str:
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    import platform
    return platform.processor() or platform.machine()


def training_environment() -> dict:
    """What decides a CPU training's arithmetic besides its config, data and seed.

    The same seed on the same data gives the same model only with the same
    kernels: the CPU's instruction set (torch and oneDNN choose their kernels by
    it, e.g. AVX2 or AVX-512), the thread count (it changes the order of the
    sums) and the library versions. A study records this with every arm so that
    a paired difference is known to compare two trainings of one environment
    (see ``docs/results.md``, "A rerun of the same seed").
    """
    import cv2
    import numpy
    import torch
    import mmpose
    threads = torch.get_num_threads() if _IN_PROCESS else tool_threads()
    env = dict(cpu=_cpu_model(), cpu_capability=torch.backends.cpu.get_cpu_capability(),
               threads=threads, torch=torch.__version__, numpy=numpy.__version__,
               opencv=cv2.__version__, mmengine=mmengine.__version__,
               mmpose=mmpose.__version__,
               python='.'.join(map(str, sys.version_info[:3])))
    kernels = {k: os.environ[k] for k in KERNEL_ENV_VARS if os.environ.get(k)}
    if kernels:
        env['kernel_env'] = kernels
    if torch.cuda.is_available():
        env['cuda'] = torch.version.cuda
        if torch.cuda.is_initialized():  # naming the device would start CUDA in this process
            env['cuda_device'] = torch.cuda.get_device_name()
    return env


def record_environment(work: str) -> None:
    """Add this process's :func:`training_environment` to ``work/environment.json``
    (a list: one entry per start of a training in another environment)."""
    path = osp.join(work, 'environment.json')
    envs = []
    if osp.isfile(path):
        with open(path) as f:
            envs = json.load(f)
    env = training_environment()
    if not envs or envs[-1] != env:
        os.makedirs(work, exist_ok=True)
        atomic_write(path, json.dumps(envs + [env], indent=2))


def read_environment(work: str) -> Optional[dict]:
    """The environment a training in ``work`` ran in: ``None`` when not recorded, or
    ``{'several': [...]}`` when its starts ran in different ones."""
    path = osp.join(work, 'environment.json')
    if not osp.isfile(path):
        return None
    with open(path) as f:
        envs = json.load(f)
    return envs[0] if len(envs) == 1 else dict(several=envs)


def environment_note(records: Dict[str, Tuple[int, Optional[dict]]]) -> str:
    """A report's paragraph on the environments its trainings ran in.

    Args:
        records: ``{run name: (seed, training_environment() or None)}``.

    Returns:
        One paragraph: the environment when all runs share one; a warning
        naming the seeds whose runs were trained in different environments
        (their paired differences mix the environment's arithmetic with the
        arm's); or the differences between seeds that are each in one.
    """
    known = {name: (seed, env) for name, (seed, env) in records.items() if env}
    missing = sorted(set(records) - set(known))
    lines = []
    if known:
        envs = [env for _, env in known.values()]
        keys = sorted({k for env in envs for k in env})
        differ = [k for k in keys if len({_json_key(env.get(k)) for env in envs}) > 1]
        if not differ:
            lines.append('Environment of every training: ' + describe_environment(envs[0]) + '.')
        else:
            by_seed: Dict[int, set] = {}
            for seed, env in known.values():
                by_seed.setdefault(seed, set()).add(_json_key({k: env.get(k) for k in differ}))
            mixed = sorted(seed for seed, found in by_seed.items() if len(found) > 1)
            if mixed:
                lines.append(
                    f'**Warning: the runs of seed(s) {", ".join(map(str, mixed))} were trained '
                    f'in different environments** (they differ in {", ".join(differ)}): the '
                    f'same seed gives another model in another environment, so their paired '
                    f'differences mix that with the arm\'s effect; retrain them in one '
                    f'environment (delete their arms/ directories and run the command again).')
            else:
                lines.append(f'Each seed\'s runs share one environment; the seeds\' differ in '
                             f'{", ".join(differ)} (paired differences stay within a seed).')
            for seed in sorted(by_seed):
                names = sorted(n for n, (s, _) in known.items() if s == seed)
                lines.append(f'seed {seed}: ' + '; '.join(
                    f'{n}: ' + ', '.join(f'{k}={known[n][1].get(k)}' for k in differ)
                    for n in names))
    if missing:
        lines.append(f'{len(missing)} run(s) without an environment record (trained before '
                     f'it was kept): {", ".join(missing)}.')
    return '\n\n'.join(lines) + '\n' if lines else ''


def _json_key(value) -> str:
    return json.dumps(value, sort_keys=True)


def describe_environment(env: dict) -> str:
    """``training_environment()`` in one line."""
    text = (f'{env.get("cpu")} ({env.get("cpu_capability")}), {env.get("threads")} thread(s), '
            f'torch {env.get("torch")}, numpy {env.get("numpy")}, OpenCV {env.get("opencv")}, '
            f'mmengine {env.get("mmengine")}, mmpose {env.get("mmpose")}, '
            f'Python {env.get("python")}')
    if env.get('kernel_env'):
        text += ', ' + ', '.join(f'{k}={v}' for k, v in sorted(env['kernel_env'].items()))
    if env.get('cuda'):
        text += f', CUDA {env["cuda"]}' + (f' ({env["cuda_device"]})'
                                           if env.get('cuda_device') else '')
    return text


def run_tool(script: str, argv: Sequence[str], log: str, echo: Optional[str] = None,
             threads: Optional[int] = None) -> None:
    """Run ``tools/<script> argv`` with its output appended to ``log``.

    In a subprocess (:func:`run_logged`), or, after :func:`set_in_process`, as
    a call of the script's ``main(argv)`` in this process: ``tools/train.py`` and
    ``tools/test.py`` then get a unique ``experiment_name`` (MMEngine names its
    logger, message hub and visualizer after it, and two runners started in the
    same second would otherwise share them).

    Args:
        script: A file in ``tools/`` with a ``main(argv)`` (e.g. ``'train.py'``).
        argv: Its arguments.
        log: Log file (appended to).
        echo: If given, the output's lines that contain this text are also
            printed (a progress display).
        threads: The subprocess's ``OMP_NUM_THREADS`` (default
            :func:`tool_threads`); not with :func:`set_in_process`.

    Raises:
        RuntimeError: The tool failed; the message has the log's tail.
        StudyError: ``threads`` given to a tool run in this process.
    """
    argv = [str(a) for a in argv]
    if not _IN_PROCESS:
        env = None if threads is None else dict(OMP_NUM_THREADS=str(int(threads)))
        run_logged([sys.executable, f'tools/{script}', *argv], log, env=env, echo=echo)
        return
    if threads is not None:
        raise StudyError(f'run_tool: a thread count ({threads}) is for a tool run in a '
                         f'subprocess; this process runs its tools in process')
    if script in ('train.py', 'test.py'):
        name = f'{osp.splitext(script)[0]}_{os.getpid()}_{next(_RUN_COUNTER)}'
        argv += ['--cfg-options', f'experiment_name={name}']
    if not _IN_PROCESS_LOCK.acquire(blocking=False):
        raise StudyError('run_tool: tools run in this process one at a time (their output '
                         'is redirected for the whole process); run side by side without '
                         'set_in_process')
    try:
        _call_logged(_tool_main(script), argv, log, echo, f'tools/{script}')
    finally:
        _IN_PROCESS_LOCK.release()


def _tool_main(script: str):
    """``main`` of ``tools/<script>``, imported once."""
    name = f'_mmselfdis_tools_{osp.splitext(script)[0]}'
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, osp.join(REPO, 'tools', script))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return module.main


def _call_logged(main, argv: List[str], log: str, echo: Optional[str], what: str) -> None:
    """``main(argv)`` with file descriptors 1 and 2 (this process's and its children's
    output) appended to ``log``; lines with ``echo`` are shown on the real stdout."""
    sys.stdout.flush()
    sys.stderr.flush()
    with open(log, 'a') as f:
        f.write(f'\n$ {what} {" ".join(argv)}  (in process {os.getpid()})\n')
        start = f.tell()
    saved = [os.dup(1), os.dup(2)]
    stop = threading.Event()
    follower = None
    if echo is not None:
        follower = threading.Thread(target=_follow, args=(log, start, echo, saved[0], stop),
                                    daemon=True)
        follower.start()
    error = None
    hidden = _hide_instances()
    with open(log, 'a') as f:
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
        # Python's own streams onto the redirected descriptors too (sys.stdout need not
        # write to descriptor 1, e.g. under pytest); line-buffered, left open for loggers
        # made during the call
        stream = open(1, 'w', buffering=1, closefd=False)
        try:
            with contextlib.redirect_stdout(stream), contextlib.redirect_stderr(stream):
                main(argv)
        except BaseException as exc:  # noqa: B036 - reported below with the log's tail
            error = exc
            import traceback
            traceback.print_exc(file=stream)
        finally:
            with contextlib.suppress(Exception):
                stream.flush()
            _end_loader_workers()
            _restore_instances(hidden)
            gc.collect()  # frees the runner and its GPU memory
            with contextlib.suppress(Exception):
                import torch
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
    stop.set()
    if follower is not None:
        follower.join(timeout=5)
    for fd in saved:
        os.close(fd)
    if error is not None:
        if isinstance(error, SystemExit) and not error.code:
            return
        if isinstance(error, KeyboardInterrupt):
            raise error
        with open(log) as f:
            tail = f.read()[-3000:]
        raise RuntimeError(f'{what} {" ".join(argv[:2])} ... failed ({error!r}); see {log}'
                           f'\n{tail}') from error


def _instance_dicts() -> Dict[type, dict]:
    """MMEngine's global instances (``ManagerMixin``: loggers, message hubs, visualizers,
    scopes, ...): the name-to-instance dict of each class that has its own."""
    from mmengine.utils import ManagerMixin
    dicts, seen, todo = {}, set(), [ManagerMixin]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in seen:
                seen.add(sub)
                todo.append(sub)
                if '_instance_dict' in vars(sub):
                    dicts[sub] = vars(sub)['_instance_dict']
    return dicts


def _hide_instances() -> Dict[type, dict]:
    """Set MMEngine's global instances aside, so that a tool starts with none, as in a
    process of its own; :func:`_restore_instances` puts them back.

    A runner gets or makes its visualizer by the config's name (MMPose's configs:
    ``name='visualizer'``): in one process a second runner would get the first one's,
    which writes into the first run's ``vis_data``.
    """
    hidden = {}
    for cls, instances in _instance_dicts().items():
        hidden[cls] = dict(instances)
        instances.clear()
    return hidden


def _restore_instances(hidden: Dict[type, dict]) -> None:
    """Drop the global instances a finished tool made (closing its loggers' files) and
    put back the ones :func:`_hide_instances` set aside, in their order."""
    import logging
    for cls, instances in _instance_dicts().items():
        for instance in instances.values():
            if isinstance(instance, logging.Logger):
                for handler in list(instance.handlers):
                    handler.close()
        instances.clear()
        instances.update(hidden.get(cls, {}))


def _end_loader_workers() -> None:
    """Shut down the workers of every loader iterator in this process (after a tool, the
    ones it left: persistent workers live as long as their loader), in order, before the
    garbage collector meets them. The study tools hold no loaders of their own.

    Collected as part of a reference cycle (a runner and its loops), a loader's iterator
    can lose its queues before its ``__del__`` tells the workers to stop, and each worker
    then waits out a 5 s join timeout (measured: 30 s after a training with two loaders
    of 5 workers).
    """
    try:
        from torch.utils.data.dataloader import _MultiProcessingDataLoaderIter
    except ImportError:  # another torch: the garbage collector ends them
        return
    for obj in gc.get_objects():
        if issubclass(type(obj), _MultiProcessingDataLoaderIter):  # type(): no proxy lookups
            obj._shutdown_workers()


def _follow(log: str, start: int, echo: str, fd: int, stop: threading.Event) -> None:
    """Print (to ``fd``) the lines of ``log`` after offset ``start`` that contain ``echo``,
    until ``stop`` is set and the file has been read to its end."""
    with open(log) as f:
        f.seek(start)
        pending = ''
        while True:
            done = stop.is_set()
            pending += f.read()
            *lines, pending = pending.split('\n')
            for line in lines:
                if echo in line:
                    os.write(fd, ('    ' + _short_log_line(line) + '\n').encode())
            if done:
                return
            time.sleep(0.5)


def apply_options(cfg, options: dict) -> None:
    """Set dotted keys (``a.b.c``) in an MMEngine config: ``cfg.merge_from_dict(options)``.

    As ``--cfg-options`` does: values replace what is there (tuples and lists too), dict
    values merge into it.
    """
    cfg.merge_from_dict(options)


def inner_dataset(dataset_cfg):
    """The innermost dataset config (through wrappers such as ``RepeatDataset``)."""
    ds = dataset_cfg
    while 'pipeline' not in ds and 'dataset' in ds:
        ds = ds['dataset']
    return ds


def set_data_root(cfg, data_root: Optional[str]) -> None:
    """Point the train/val/test datasets of ``cfg`` at ``data_root``."""
    if data_root is None:
        return
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        inner_dataset(cfg[loader]['dataset'])['data_root'] = data_root.rstrip('/') + '/'


def set_codec(cfg, codec: dict) -> None:
    """Use ``codec`` in the head and in every ``GenerateTarget`` of the training pipeline."""
    cfg.model.head.decoder = dict(codec)
    for step in inner_dataset(cfg.train_dataloader.dataset).pipeline:
        if step.get('type') == 'GenerateTarget':
            step['encoder'] = dict(codec)


def set_heatmap_size(cfg, size: int) -> None:
    """Use ``size x size`` heatmaps: the head's codec, its deconvolutions, the targets.

    The head keeps ``log2(size / feature size)`` of its 2x2 deconvolutions (the
    last ones are dropped), and every ``GenerateTarget`` of the training
    pipeline encodes with the same codec.
    """
    head = cfg.model.head
    codec = dict(head.decoder)
    old = int(codec['heatmap_size'][0])
    if size > old or old % size or (old // size) & (old // size - 1):
        raise StudyError(f'heatmap size {size} must divide {old} by a power of two')
    drop = (old // size).bit_length() - 1
    codec['heatmap_size'] = (size, size)
    if drop:
        head.deconv_out_channels = tuple(head.deconv_out_channels)[:-drop]
        head.deconv_kernel_sizes = tuple(head.deconv_kernel_sizes)[:-drop]
    set_codec(cfg, codec)


def remove_files(work_dir: str, names: Sequence[str]) -> List[str]:
    """Remove ``work_dir/name`` for the names that exist; the names removed."""
    removed = []
    for name in names:
        path = osp.join(work_dir, name)
        if osp.lexists(path):
            os.remove(path)
            removed.append(name)
    return removed


def remove_stale_tables(work_dir: str, names: Sequence[str], tag: str, parts: str) -> None:
    """Remove final tables of an earlier run before a missing part is trained.

    Tables of an earlier study (of fewer rows or arms) would otherwise pass for
    this one's while it is incomplete; they are written again at the end.
    """
    stale = remove_files(work_dir, names)
    if stale:
        print(f'[{tag}] removed {", ".join(stale)} of an earlier run ({parts} are missing; they '
              f'are written again at the end)', flush=True)


_RENDER_OPTIONS = (('correlation', float), ('train_poses', int), ('pose_family', str),
                   ('combo_poses', str), ('hard_group', bool))
"""The optional ``make_synthhands.py`` options of a study's data spec and their types
(``bool``: a bare flag)."""


def ensure_synthhands(root: str, spec: Dict[str, int], log: str, quiet: bool = True) -> str:
    """Render a SynthHands set into ``root`` once (``num_poses``, ``appearances``, ``seed``;
    optionally ``correlation``, ``train_poses``, ``pose_family``, ``combo_poses`` and
    ``hard_group``, see ``tools/make_synthhands.py``).

    ``tools/make_synthhands.py`` writes into a hidden temporary directory and
    renames it at the end, so an existing ``root`` with ``test_shift.json`` is
    complete. A set rendered with other parameters is refused.
    """
    want = dict(num_poses=int(spec['num_poses']), appearances=int(spec['appearances']),
                seed=int(spec['seed']))
    for key, kind in _RENDER_OPTIONS:
        value = spec.get(key)
        # a flag is recorded only when set (renders without it keep their render.json)
        if value is not None and (kind is not bool or value):
            want[key] = kind(value)
    marker = osp.join(root, 'annotations', 'test_shift.json')
    if osp.isfile(marker):
        made = osp.join(root, 'render.json')
        if osp.isfile(made):
            have = mmengine.load(made)
            if have != want:
                raise StudyError(f'{root} holds a SynthHands set rendered with {have}, this '
                                 f'study needs {want}; use another --work-dir or --data-root')
        return root
    os.makedirs(osp.dirname(osp.abspath(root)), exist_ok=True)
    cmd = [sys.executable, 'tools/make_synthhands.py', root, '--num-poses',
           str(want['num_poses']), '--appearances', str(want['appearances']), '--seed',
           str(want['seed']), '--force']
    for key, kind in _RENDER_OPTIONS:
        if key in want:
            flag = f'--{key.replace("_", "-")}'
            cmd += [flag] if kind is bool else [flag, str(want[key])]
    if quiet:
        run_logged(cmd + ['--quiet'], log)
    else:
        proc = subprocess.run(cmd, cwd=REPO)
        if proc.returncode != 0:
            raise RuntimeError(f'rendering the SynthHands set into {root} failed '
                               f'(exit {proc.returncode})')
    atomic_write(osp.join(root, 'render.json'), mmengine.dump(want, file_format='json'))
    return root


def dump_run(cfg, run_dir: str) -> tuple:
    """Write ``cfg`` to ``run_dir/config.py``.

    Returns:
        tuple: the config path, the training work dir (``run_dir/work``) and
        the checkpoint its last epoch writes.
    """
    os.makedirs(run_dir, exist_ok=True)
    cfg_path = osp.join(run_dir, 'config.py')
    cfg.dump(cfg_path)
    work = osp.join(run_dir, 'work')
    return cfg_path, work, osp.join(work, f'epoch_{int(cfg.train_cfg.max_epochs)}.pth')


def train_run(cfg_path: str, work: str, seed: int, log: str, echo: Optional[str] = None,
              threads: Optional[int] = None) -> None:
    """Train ``cfg_path`` into ``work`` through ``tools/train.py --resume``.

    An interrupted run continues from its last checkpoint; a run with nothing
    to resume starts as the config says (from its ``load_from`` if set). The
    environment each start ran in is kept in ``work/environment.json``
    (:func:`read_environment`). ``threads``: the training's thread count
    (:func:`run_tool`).
    """
    record_environment(work)
    run_tool('train.py', [cfg_path, '--work-dir', work, '--resume', '--cfg-options',
                          f'randomness.seed={seed}'], log, echo=echo, threads=threads)


def evaluate_splits(cfg_path: str, checkpoint: str, out_dir: str, splits: Dict[str, str],
                    keys: Sequence[str], jobs: int = 1) -> Dict[str, Dict[str, float]]:
    """Evaluate ``checkpoint`` on each split with ``tools/test.py`` (once per split).

    Args:
        cfg_path: The run's config.
        checkpoint: The checkpoint to evaluate.
        out_dir: Where ``metrics_<split>.json`` and the logs go (created if
            missing); a split whose metrics file exists is not evaluated again.
        splits: ``{split name: ann_file}`` (relative to the dataset's data_root).
        keys: The metric names to return.
        jobs: Splits evaluated side by side (separate processes; a large GPU
            has room for several). One at a time after :func:`set_in_process`.

    Returns:
        ``{split: {key: value}}``.
    """
    os.makedirs(out_dir, exist_ok=True)

    def evaluate(split: str, ann_file: str) -> None:
        out = osp.join(out_dir, f'metrics_{split}.json')
        if not osp.isfile(out):
            tmp = osp.join(out_dir, f'.metrics_{split}.tmp-{os.getpid()}.json')  # .json: --out
            run_tool('test.py', [cfg_path, checkpoint, '--work-dir',
                                 osp.join(out_dir, f'test_{split}'), '--out', tmp,
                                 '--cfg-options', f'test_dataloader.dataset.ann_file={ann_file}'],
                     osp.join(out_dir, f'test_{split}.log'))
            os.replace(tmp, out)

    if jobs > 1 and len(splits) > 1 and not _IN_PROCESS:
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            for future in [pool.submit(evaluate, *item) for item in splits.items()]:
                future.result()
    else:
        for item in splits.items():
            evaluate(*item)
    results = {}
    for split in splits:
        m = mmengine.load(osp.join(out_dir, f'metrics_{split}.json'))
        results[split] = {k: float(m[k]) for k in keys if k in m}
    return results
