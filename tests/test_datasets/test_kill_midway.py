"""A renderer killed midway leaves nothing that looks like a finished dataset.

The re-run completes and removes the hidden directory the killed run left; a
``--force`` run killed while replacing a dataset never costs the user the old one.
"""
import glob
import os
import signal
import subprocess
import sys
import time

from mmselfdis.datasets.synthhands import recover_interrupted_writes
from tests.conftest import REPO, run_tool


def test_sigkill_midway_then_rerun_completes(tmp_path):
    out = tmp_path / 'synth'
    cmd = [sys.executable, 'tools/make_synthhands.py', str(out), '--num-poses', '20000',
           '--appearances', '2', '--seed', '0', '--workers', '1']
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    try:
        # wait until rendering has written some images into its temporary directory
        while time.time() < deadline and proc.poll() is None:
            if glob.glob(str(tmp_path / '.synth.tmp-*' / 'images' / '*' / '*' / '*.png')):
                break
            time.sleep(0.2)
        assert proc.poll() is None, 'the renderer finished before it could be killed'
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists(), 'a killed run left something at OUT_DIR'
    stale = tmp_path / f'.synth.tmp-{proc.pid}'
    assert os.listdir(tmp_path) == [stale.name], 'partial output should stay hidden'
    # not to be touched by the clean-up: a running process's directory (this test's) and
    # another output's directory of the same dead PID
    alive = tmp_path / f'.synth.tmp-{os.getpid()}'
    other = tmp_path / f'.other.tmp-{proc.pid}'
    alive.mkdir()
    other.mkdir()

    small = subprocess.run(cmd[:4] + ['200'] + cmd[5:], cwd=REPO, capture_output=True,
                           text=True, timeout=300)
    assert small.returncode == 0, small.stderr[-2000:]
    assert sorted(os.listdir(out / 'annotations')) == [
        'test.json', 'test_shift.json', 'train.json', 'val.json']
    # the killed run's hidden directory is removed by the re-run, and said so
    assert f'removed {stale}, the partial output of a killed run' in small.stdout
    assert sorted(os.listdir(tmp_path)) == sorted([alive.name, other.name, 'synth'])


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, '-c', 'pass'])
    proc.wait()
    return proc.pid


def _dataset(path, marker):
    (path / 'annotations').mkdir(parents=True)
    (path / 'annotations' / 'train.json').write_text(marker)


def test_force_run_killed_between_its_renames_restores_the_old_dataset(tmp_path):
    """Killed after moving OUT_DIR aside, before moving the new one in: the old one comes back."""
    pid = _dead_pid()
    out = tmp_path / 'synth'
    _dataset(tmp_path / f'.synth.old-{pid}', 'users dataset')
    _dataset(tmp_path / f'.synth.tmp-{pid}', 'new, complete but never moved in')
    running = tmp_path / f'.synth.old-{os.getpid()}'  # a live writer's: not touched
    running.mkdir()

    # without --force the restored dataset counts as existing: refused, and kept
    proc = run_tool('tools/make_synthhands.py', out, '--num-poses', '4', '--quiet', check=False)
    assert proc.returncode == 2 and 'already exists; pass --force' in proc.stderr
    assert f'restored {out} from {tmp_path}/.synth.old-{pid}' in proc.stdout
    assert (out / 'annotations' / 'train.json').read_text() == 'users dataset'
    assert sorted(os.listdir(tmp_path)) == sorted(['synth', running.name])


def test_force_run_killed_after_its_renames_leaves_no_old_copy(tmp_path):
    pid = _dead_pid()
    out = tmp_path / 'synth'
    _dataset(out, 'new dataset')
    _dataset(tmp_path / f'.synth.old-{pid}', 'the replaced one')
    (tmp_path / f'.other.old-{pid}').mkdir()  # another output's: not touched
    done = recover_interrupted_writes(str(out))
    assert done == [f'removed {tmp_path}/.synth.old-{pid}, the dataset a killed --force run '
                    f'had replaced']
    assert (out / 'annotations' / 'train.json').read_text() == 'new dataset'
    assert sorted(os.listdir(tmp_path)) == sorted(['synth', f'.other.old-{pid}'])
    assert recover_interrupted_writes(str(out)) == []
