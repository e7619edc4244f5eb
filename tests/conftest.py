import importlib.util
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

import mmselfdis  # noqa: F401  (registers components and the checkpoint allow-list)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
# The real MMPose hand samples (OneHand10K, FreiHAND): shared/ beside the checkout, or
# wherever MMSELFDIS_HAND_SAMPLES points (a clone elsewhere, a CI cache).
SAMPLES = os.environ.get('MMSELFDIS_HAND_SAMPLES') or osp.join(
    osp.dirname(REPO), 'shared', 'data', 'mmpose-hand-samples')
BASELINE_MONO = osp.join(REPO, 'configs', 'baseline', 'td-hm_res18_hand-samples_mono-64x64.py')
BASELINE_RGB = osp.join(REPO, 'configs', 'baseline', 'td-hm_res18_hand-samples_rgb-64x64.py')

# Under pytest-xdist (README command B: ``-n auto``) the workers share the cores: each one's
# torch, and every tool it starts, gets an equal share, so two workers on two cores do not
# run four threads. Alone, a run keeps two threads, as before.
_WORKERS = int(os.environ.get('PYTEST_XDIST_WORKER_COUNT', '1'))
THREADS = max(1, (os.cpu_count() or 1) // _WORKERS) if _WORKERS > 1 else 2
if _WORKERS > 1:
    os.environ.setdefault('OMP_NUM_THREADS', str(THREADS))
    torch.set_num_threads(int(os.environ['OMP_NUM_THREADS']))


def run_tool(*args, env=None, timeout=600, check=True):
    """Run ``python tools/...`` in a subprocess; return the CompletedProcess."""
    full_env = dict(os.environ)
    full_env.pop('MMSELFDIS_DEBUG', None)
    full_env.setdefault('OMP_NUM_THREADS', str(THREADS))
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, *map(str, args)], cwd=REPO, env=full_env,
                          capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f'{args} exited {proc.returncode}\nSTDOUT:\n{proc.stdout[-4000:]}\n'
                             f'STDERR:\n{proc.stderr[-4000:]}')
    return proc


def load_tool(name: str):
    """Import ``tools/<name>.py`` as a module (to call its functions or ``main`` in-process)."""
    spec = importlib.util.spec_from_file_location(f'_tool_{name}',
                                                  osp.join(REPO, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def refused(tool: str, argv, capsys) -> str:
    """Run ``tools/<tool>.py ARGV`` in-process as its command line does; it must end with exit
    code 2 (a known user error or a bad option). Returns what it printed to stderr."""
    from mmselfdis.utils.cli import run_cli
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        run_cli(load_tool(tool).main, [str(a) for a in argv])
    assert exc.value.code == 2
    return capsys.readouterr().err


@pytest.fixture(scope='session')
def samples_dir():
    if not osp.isdir(SAMPLES):
        pytest.fail(f'real MMPose hand samples not found at {SAMPLES}: put shared/ beside the '
                    f'checkout or set MMSELFDIS_HAND_SAMPLES to the mmpose-hand-samples folder')
    return SAMPLES
