"""tools/train.py, tools/test.py and tools/dist_train.sh on the real hand samples."""
import glob
import json
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest
import torch

from tests.conftest import BASELINE_MONO, BASELINE_RGB, REPO, run_tool

FAST = ['default_hooks.logger.interval=1']
# The baseline at a quarter of its width: same code paths, ~16x fewer FLOPs and
# much smaller checkpoints, for tests that train several runs.
TINY = ['model.backbone.stem_channels=16', 'model.backbone.base_channels=16',
        'model.head.in_channels=128', 'model.head.deconv_out_channels=(16,16,16,16)']


def _scalars(work_dir):
    """Rows of MMEngine's scalars.json (one dict per logged step)."""
    files = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    assert files, f'no scalars.json under {work_dir}'
    with open(sorted(files)[-1]) as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.mark.parametrize('config,channels', [(BASELINE_MONO, 1), (BASELINE_RGB, 3)])
def test_train_then_test_baseline(tmp_path, samples_dir, config, channels):
    work = tmp_path / 'work'
    run_tool('tools/train.py', config, '--work-dir', work, '--cfg-options',
             'train_cfg.max_epochs=2', 'train_cfg.val_interval=2',
             'default_hooks.checkpoint.interval=2', 'default_hooks.logger.interval=1')
    ckpt = work / 'epoch_2.pth'
    assert ckpt.is_file()
    rows = _scalars(work)
    val = [r for r in rows if 'PCK' in r]
    assert val, 'validation metrics were not logged'
    for key in ('PCK', 'AUC', 'EPE'):
        assert key in val[-1] and val[-1][key] == val[-1][key]  # present and not NaN
    sd = torch.load(ckpt, weights_only=True)['state_dict']  # loads without disabling safety
    assert sd['backbone.conv1.weight'].shape[1] == channels

    out = tmp_path / 'metrics.json'
    run_tool('tools/test.py', config, ckpt, '--work-dir', tmp_path / 'test', '--out', out)
    metrics = json.loads(out.read_text())
    assert set(metrics) >= {'PCK', 'AUC', 'EPE'}
    assert metrics['EPE'] == pytest.approx(val[-1]['EPE'], rel=1e-5)


def test_resume_gives_same_weights_as_straight_run(tmp_path, samples_dir):
    """Train N epochs, resume to 2N == train 2N straight (augmentations included)."""
    n = 2
    common = FAST + TINY + [f'default_hooks.checkpoint.interval={n}', 'train_cfg.val_interval=1']
    straight, resumed = tmp_path / 'straight', tmp_path / 'resumed'
    run_tool('tools/train.py', BASELINE_MONO, '--work-dir', straight, '--cfg-options',
             f'train_cfg.max_epochs={2 * n}', *common)
    run_tool('tools/train.py', BASELINE_MONO, '--work-dir', resumed, '--cfg-options',
             f'train_cfg.max_epochs={n}', *common)
    run_tool('tools/train.py', BASELINE_MONO, '--work-dir', resumed, '--resume',
             '--cfg-options', f'train_cfg.max_epochs={2 * n}', *common)
    a = torch.load(straight / f'epoch_{2 * n}.pth', weights_only=True)
    b = torch.load(resumed / f'epoch_{2 * n}.pth', weights_only=True)
    assert a['meta']['iter'] == b['meta']['iter'] == 2 * n
    for key, value in a['state_dict'].items():
        torch.testing.assert_close(b['state_dict'][key], value, rtol=0, atol=0, msg=key)
    # the resumed run really started from the checkpoint: its log begins at epoch n+1
    logs = sorted(glob.glob(str(resumed / '*' / '*.log')))
    assert 'Auto resumed from the latest checkpoint' in open(logs[-1]).read()


def _free_port() -> str:
    with socket.socket() as sock:  # a port nothing else on the machine listens on now
        sock.bind(('127.0.0.1', 0))
        return str(sock.getsockname()[1])


def test_dist_train_two_cpu_processes(tmp_path, samples_dir):
    work = tmp_path / 'dist'
    proc = subprocess.run(
        ['bash', 'tools/dist_train.sh', BASELINE_MONO, '2', '--work-dir', str(work),
         '--cfg-options', 'train_cfg.max_epochs=2', 'train_cfg.val_interval=2',
         'default_hooks.checkpoint.interval=2', 'train_dataloader.batch_size=2',
         'default_hooks.logger.interval=1', *TINY],
        cwd=REPO, capture_output=True, text=True, timeout=600,
        env={**os.environ, 'PORT': _free_port(), 'OMP_NUM_THREADS': '1', 'PYTHON': sys.executable})
    assert proc.returncode == 0, proc.stderr[-4000:]
    ckpt = torch.load(work / 'epoch_2.pth', weights_only=True)
    # 4 samples, 2 processes x batch 2 -> one iteration per epoch
    assert ckpt['meta']['iter'] == 2
    log = open(sorted(glob.glob(str(work / '*' / '*.log')))[-1]).read()
    assert 'Distributed training: True' in log and 'GPU number: 2' in log  # world size
