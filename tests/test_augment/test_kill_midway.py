"""tools/synthesize.py and tools/ratio_study.py killed with SIGKILL midway.

Nothing a killed run leaves behind looks like a finished data set or table, and the same
command run again completes (the study without retraining the arms that had finished).
"""
import csv
import glob
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO, THREADS, run_tool
from ._fixtures import STUDY_CFG


def _env():
    env = dict(os.environ)
    env.pop('MMSELFDIS_DEBUG', None)
    env.setdefault('OMP_NUM_THREADS', str(THREADS))
    return env


def _start(args, log_path):
    """Start ``python ARGS`` in a new session (its children share its process group)."""
    log = open(log_path, 'w')
    proc = subprocess.Popen([sys.executable, *map(str, args)], cwd=REPO, env=_env(), stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    return proc


def _kill_when(proc, ready, log_path, timeout=240):
    """SIGKILL ``proc``'s whole process group as soon as ``ready()`` holds."""
    deadline = time.time() + timeout
    try:
        while time.time() < deadline and proc.poll() is None and not ready():
            time.sleep(0.1)
        assert proc.poll() is None, (f'the run ended (exit {proc.returncode}) before it could be '
                                     f'killed:\n{open(log_path).read()[-3000:]}')
        assert ready(), f'not at the kill point after {timeout} s:\n{open(log_path).read()[-3000:]}'
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL


def test_synthesize_sigkill_midway_then_rerun_completes(train_config, tiny_generator, tmp_path):
    root = tmp_path / 'data'
    out = root / 'mixed'
    args = ['tools/synthesize.py', train_config, tiny_generator, out, '--seed', '0', '--quiet']
    log_path = tmp_path / 'first.log'
    # 400 mixes per training crop: far more than get written before the kill
    proc = _start(args + ['--mixes-per-image', '400'], log_path)
    tmp_dir = root / f'.mixed.tmp-{proc.pid}'
    # kill point: some mixed crops written (wherever the tool writes them)
    _kill_when(proc, lambda: any(glob.glob(str(d / 'images' / 'mix' / '*' / '*.png'))
                                 for d in (tmp_dir, out)), log_path)

    # nothing at OUT_DIR; the partial output only in the hidden sibling, without annotations
    assert not out.exists(), 'a killed run left something at OUT_DIR'
    assert os.listdir(root) == [tmp_dir.name]
    assert glob.glob(str(tmp_dir / 'images' / 'orig' / '*' / '*.png'))
    assert not (tmp_dir / 'annotations' / 'train.json').exists()

    # look-alikes the clean-up must not touch: a running process's directory (this test's),
    # another output's directory of the same dead PID, a file, a name that is not a PID
    alive = root / f'.mixed.tmp-{os.getpid()}'
    other = root / f'.other.tmp-{proc.pid}'
    not_pid = root / f'.mixed.tmp-{proc.pid}x'
    as_file = root / '.mixed.tmp-999999999'
    for d in (alive, other, not_pid):
        d.mkdir()
    as_file.write_text('')

    rerun = run_tool(*args, '--mixes-per-image', '1')
    assert f'removed {tmp_dir}, the partial output of a killed run' in rerun.stdout
    assert not tmp_dir.exists()
    assert alive.is_dir() and other.is_dir() and not_pid.is_dir() and as_file.is_file()
    coco = json.loads((out / 'annotations' / 'train.json').read_text())
    info = coco['info']
    assert info['num_original'] > 0 and info['num_mixed'] == info['num_original']
    assert len(coco['images']) == len(coco['annotations']) == 2 * info['num_original']
    assert all((out / im['file_name']).is_file() for im in coco['images'])
    assert sum(a['mixed'] for a in coco['annotations']) == info['num_mixed']
    assert not glob.glob(str(root / '.mixed.old-*'))


def test_ratio_study_sigkill_midway_then_rerun_completes(tmp_path):
    """A REAL micro study of two arms (r=0, jitter: no generator), killed during the second."""
    w = tmp_path / 'study'
    args = ['tools/ratio_study.py', STUDY_CFG, '--preset', 'micro', '--work-dir', w,
            '--ratios', '0', '--no-combined']
    log_path = tmp_path / 'first.log'
    proc = _start(args, log_path)
    first, second = w / 'arms' / 'r=0', w / 'arms' / 'jitter'
    # kill point: the first arm finished, tools/train.py of the second one is running
    _kill_when(proc, lambda: (first / 'metrics.json').is_file()
               and bool(glob.glob(str(second / 'work' / '*' / '*.log'))), log_path)

    # no table that passes for the finished study, a progress table marked as incomplete
    for name in ('results.csv', 'results.md', 'results.png'):
        assert not (w / name).exists(), f'{name} of an unfinished study'
    md = (w / 'results.partial.md').read_text()
    assert md.splitlines()[0] == '# Augmentation ratio study (incomplete: 1 of 2 arms)'
    assert '\n| r=0 | 0 | - | 1 |' in md and '\n| jitter |' not in md
    with open(w / 'results.partial.csv') as f:
        assert {row['arm'] for row in csv.DictReader(f)} == {'r=0'}
    # the interrupted arm is not marked as done
    assert not (second / 'metrics.json').exists()
    first_log = (first / 'train.log').read_text()
    first_done = (first / 'metrics.json').stat().st_mtime_ns
    first_ckpt = (first / 'work' / 'epoch_1.pth').stat().st_mtime_ns

    rerun = run_tool(*args)
    assert 'r=0: finished earlier, not retrained' in rerun.stdout
    assert 'jitter: training and evaluating' in rerun.stdout
    # the finished arm was neither retrained nor evaluated again
    assert (first / 'train.log').read_text() == first_log
    assert (first / 'metrics.json').stat().st_mtime_ns == first_done
    assert (first / 'work' / 'epoch_1.pth').stat().st_mtime_ns == first_ckpt
    assert json.loads((second / 'metrics.json').read_text())['arm'] == 'jitter'
    with open(w / 'results.csv') as f:
        rows = list(csv.DictReader(f))
    assert {(r['arm'], r['split']) for r in rows} == {
        (arm, split) for arm in ('r=0', 'jitter') for split in ('test', 'test_shift')}
    md = (w / 'results.md').read_text()
    assert md.splitlines()[0] == '# Augmentation ratio study' and 'incomplete' not in md
    assert '\n| r=0 | 0 | - | 1 |' in md and '\n| jitter | 0 | jitter | 1 |' in md
    assert (w / 'results.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert not (w / 'results.partial.md').exists() and not (w / 'results.partial.csv').exists()
    assert not [f for f in os.listdir(w) if '.tmp-' in f]
