import os
import os.path as osp
import subprocess
import sys

import pytest

import mmselfdis  # noqa: F401  (registers components and the checkpoint allow-list)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
# The real MMPose hand samples (OneHand10K, FreiHAND): shared/ beside the checkout, or
# wherever MMSELFDIS_HAND_SAMPLES points (a clone elsewhere, a CI cache).
SAMPLES = os.environ.get('MMSELFDIS_HAND_SAMPLES') or osp.join(
    osp.dirname(REPO), 'shared', 'data', 'mmpose-hand-samples')
BASELINE_MONO = osp.join(REPO, 'configs', 'baseline', 'td-hm_res18_hand-samples_mono-64x64.py')
BASELINE_RGB = osp.join(REPO, 'configs', 'baseline', 'td-hm_res18_hand-samples_rgb-64x64.py')


def run_tool(*args, env=None, timeout=600, check=True):
    """Run ``python tools/...`` in a subprocess; return the CompletedProcess."""
    full_env = dict(os.environ)
    full_env.pop('MMSELFDIS_DEBUG', None)
    full_env.setdefault('OMP_NUM_THREADS', '2')
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, *map(str, args)], cwd=REPO, env=full_env,
                          capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f'{args} exited {proc.returncode}\nSTDOUT:\n{proc.stdout[-4000:]}\n'
                             f'STDERR:\n{proc.stderr[-4000:]}')
    return proc


@pytest.fixture(scope='session')
def samples_dir():
    if not osp.isdir(SAMPLES):
        pytest.fail(f'real MMPose hand samples not found at {SAMPLES}: put shared/ beside the '
                    f'checkout or set MMSELFDIS_HAND_SAMPLES to the mmpose-hand-samples folder')
    return SAMPLES
