"""A renderer killed midway leaves nothing that looks like a finished dataset.

The re-run completes and removes the hidden directory the killed run left.
"""
import glob
import os
import signal
import subprocess
import sys
import time

from tests.conftest import REPO


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
    assert f'removed 1 temporary directory left by killed runs: {stale}' in small.stdout
    assert sorted(os.listdir(tmp_path)) == sorted([alive.name, other.name, 'synth'])
