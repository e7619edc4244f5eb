"""Study bookkeeping: config overrides and the manifest of a work dir."""
import os
import os.path as osp

import pytest
from mmengine.config import Config

from mmselfdis.utils.study import StudyError, apply_options, check_manifest, micro_options
from tests.conftest import REPO

T41 = osp.join(REPO, 'configs', 'selfdis', 't4-1_baseline_unet_synthhands-mono-64x64.py')


def test_apply_options_sets_dotted_keys_like_cfg_options():
    cfg = Config.fromfile(T41)
    before = cfg.model.head.to_dict()
    apply_options(cfg, {**micro_options((8, 4)), 'default_hooks.checkpoint.save_best': None,
                        'train_cfg.max_epochs': 1})
    assert cfg.model.head.deconv_out_channels == (8, 4)  # a tuple replaces the base's
    assert cfg.model.head.in_channels == 32 and cfg.model.backbone.base_channels == 4
    assert cfg.train_dataloader.num_workers == 0 and not cfg.val_dataloader.persistent_workers
    assert cfg.default_hooks.checkpoint.save_best is None and cfg.train_cfg.max_epochs == 1
    # everything not named is left as it was
    named = ('deconv_out_channels', 'in_channels')
    assert {k: v for k, v in cfg.model.head.items() if k not in named} == \
        {k: v for k, v in before.items() if k not in named}


def test_manifest_refuses_another_study(tmp_path):
    check_manifest(str(tmp_path), dict(seed=0, preset='micro'), keys=('seed', 'preset'))
    assert (tmp_path / 'study.json').read_text().startswith('{\n  "seed": 0')
    check_manifest(str(tmp_path), dict(seed=0, preset='micro'), keys=('seed', 'preset'))
    with pytest.raises(StudyError, match=r'seed=0 \(this run: 1\)'):
        check_manifest(str(tmp_path), dict(seed=1, preset='micro'), keys=('seed', 'preset'))


def test_fmt_seeds_one_value_alone_several_as_mean_and_sample_sd():
    from mmselfdis.utils.study import fmt_seeds, mean_sd
    assert fmt_seeds([10.8014]) == '10.801'
    assert fmt_seeds([float('nan')]) == '–'
    # 10, 11, 12: mean 11, sample sd 1 (n - 1 in the denominator)
    assert mean_sd([10.0, 11.0, 12.0]) == (11.0, 1.0)
    assert fmt_seeds([10.0, 11.0, 12.0]) == '11.000 ± 1.000'
    assert fmt_seeds([1.0, 2.0], digits=1) == '1.5 ± 0.7'


def test_ensure_synthhands_passes_the_data_options_and_refuses_another_set(tmp_path,
                                                                          monkeypatch):
    """The spec's options become make_synthhands.py flags (--hard-group a bare flag, absent
    when False); a set rendered with another spec is refused."""
    from mmselfdis.utils import study
    calls = []

    def fake_run(cmd, log):
        calls.append(cmd)
        out = cmd[2]
        os.makedirs(osp.join(out, 'annotations'))
        open(osp.join(out, 'annotations', 'test_shift.json'), 'w').close()

    monkeypatch.setattr(study, 'run_logged', fake_run)
    spec = dict(num_poses=20, appearances=2, seed=1, correlation=1.0, combo_poses='test',
                hard_group=True)
    root = str(tmp_path / 'hard')
    study.ensure_synthhands(root, spec, str(tmp_path / 'log'))
    cmd = calls[-1]
    assert cmd[cmd.index('--correlation') + 1] == '1.0' and '--hard-group' in cmd
    assert cmd[cmd.index('--combo-poses') + 1] == 'test' and cmd[-1] == '--quiet'
    assert study.ensure_synthhands(root, spec, str(tmp_path / 'log')) == root
    assert len(calls) == 1  # rendered once
    with pytest.raises(study.StudyError, match='rendered with'):
        study.ensure_synthhands(root, dict(spec, hard_group=False), str(tmp_path / 'log'))
    study.ensure_synthhands(str(tmp_path / 'plain'), dict(spec, hard_group=False),
                            str(tmp_path / 'log'))
    assert '--hard-group' not in calls[-1]
    # RHO = 0 is a value, not an absent option
    study.ensure_synthhands(str(tmp_path / 'rho0'), dict(spec, correlation=0.0),
                            str(tmp_path / 'log'))
    assert calls[-1][calls[-1].index('--correlation') + 1] == '0.0'


def _fake_tool(argv):
    """A tool's main: prints through Python, the raw file descriptor and a child process."""
    import subprocess
    import sys
    print(f'python says {argv[0]}')
    os.write(2, b'fd 2 says progress: step 1\n')
    subprocess.run([sys.executable, '-c', 'print("child says progress: step 2")'], check=True)
    if argv[0] == 'fail':
        raise ValueError('the tool broke')


def test_run_tool_in_process_logs_everything_and_echoes_progress(tmp_path, monkeypatch, capfd):
    from mmselfdis.utils import study
    monkeypatch.setattr(study, '_tool_main', lambda script: _fake_tool)
    monkeypatch.setattr(study, '_IN_PROCESS', True)
    log = str(tmp_path / 'tool.log')
    study.run_tool('fake.py', ['ok'], log, echo='progress')
    text = open(log).read()
    for line in ('python says ok', 'fd 2 says progress: step 1', 'child says progress: step 2'):
        assert line in text
    assert f'(in process {os.getpid()})' in text
    out, _ = capfd.readouterr()
    # only the lines with the echo text reach the terminal, nothing else of the tool's
    assert 'step 1' in out and 'step 2' in out and 'python says' not in out
    print('after the tool')  # the terminal is restored
    assert 'after the tool' in capfd.readouterr().out
    assert 'after the tool' not in open(log).read()
    with pytest.raises(RuntimeError, match='the tool broke') as err:
        study.run_tool('fake.py', ['fail'], log)
    assert 'python says fail' in str(err.value) and log in str(err.value)  # the log's tail


def test_run_tool_in_process_names_each_runner_and_runs_one_at_a_time(tmp_path, monkeypatch):
    from mmselfdis.utils import study
    seen = []
    monkeypatch.setattr(study, '_tool_main', lambda script: seen.append)
    monkeypatch.setattr(study, '_IN_PROCESS', True)
    log = str(tmp_path / 'tool.log')
    for _ in range(2):
        study.run_tool('train.py', ['cfg.py', '--cfg-options', 'randomness.seed=0'], log)
    names = [argv[argv.index('--cfg-options', 2) + 1] for argv in seen]
    # MMEngine names a runner's logger and message hub after it: never the same twice
    assert names[0].startswith('experiment_name=train_') and names[0] != names[1]
    assert study._IN_PROCESS_LOCK.acquire(blocking=False)
    try:
        with pytest.raises(StudyError, match='one at a time'):
            study.run_tool('train.py', ['cfg.py'], log)
    finally:
        study._IN_PROCESS_LOCK.release()
    with pytest.raises(StudyError, match='a thread count .1. is for a tool run in a subprocess'):
        study.run_tool('train.py', ['cfg.py'], log, threads=1)
    # without set_in_process: a subprocess through run_logged
    calls = []
    monkeypatch.setattr(study, '_IN_PROCESS', False)
    monkeypatch.setattr(study, 'run_logged',
                        lambda cmd, log, env=None, echo=None: calls.append((cmd, env)))
    study.run_tool('test.py', ['cfg.py', 'ckpt.pth'], log)
    assert calls[0][0][1:] == ['tools/test.py', 'cfg.py', 'ckpt.pth'] and calls[0][1] is None
    study.run_tool('test.py', ['cfg.py', 'ckpt.pth'], log, threads=1)  # a thread count
    assert calls[1][1] == dict(OMP_NUM_THREADS='1')


def test_run_tool_in_process_gives_each_run_its_own_named_instances(tmp_path, monkeypatch):
    """A second runner in the process must not get the first one's visualizer (MMPose's
    configs name it 'visualizer'): it would write into the first run's vis_data."""
    from mmengine.visualization import Visualizer

    from mmselfdis.utils import study
    made = []

    def tool(argv):
        made.append(Visualizer.get_instance('visualizer', save_dir=argv[0]))

    monkeypatch.setattr(study, '_tool_main', lambda script: tool)
    monkeypatch.setattr(study, '_IN_PROCESS', True)
    log = str(tmp_path / 'tool.log')
    had = Visualizer._instance_dict.pop('visualizer', None)  # an earlier test's, if any
    try:
        mine = Visualizer.get_instance('visualizer')  # one the calling process made
        study.run_tool('fake.py', [str(tmp_path / 'a')], log)
        study.run_tool('fake.py', [str(tmp_path / 'b')], log)
        # each run starts without it, as a process of its own would, and gets its own
        assert len({id(mine), id(made[0]), id(made[1])}) == 3
        assert Visualizer.get_instance('visualizer') is mine  # the caller's is back
    finally:
        Visualizer._instance_dict.pop('visualizer', None)
        if had is not None:
            Visualizer._instance_dict['visualizer'] = had


def test_training_environment_records_what_changes_the_arithmetic(tmp_path, monkeypatch):
    """The kernels' instruction set, the threads and the versions; a restart in another
    environment is kept beside the first, and read back as several."""
    import torch

    from mmselfdis.utils import study
    monkeypatch.setenv('OMP_NUM_THREADS', '3')
    monkeypatch.delenv('ATEN_CPU_CAPABILITY', raising=False)
    env = study.training_environment()
    assert env['threads'] == 3  # what a tool's process gets (run_logged keeps OMP_NUM_THREADS)
    assert env['cpu_capability'] == torch.backends.cpu.get_cpu_capability()
    assert env['torch'] == torch.__version__ and env['cpu'] and 'kernel_env' not in env
    work = str(tmp_path / 'work')
    assert study.read_environment(work) is None
    study.record_environment(work)
    study.record_environment(work)  # a resumed run in the same environment: one entry
    assert study.read_environment(work) == env
    monkeypatch.setenv('ATEN_CPU_CAPABILITY', 'default')
    study.record_environment(work)
    several = study.read_environment(work)['several']
    assert several[0] == env and several[1]['kernel_env'] == {'ATEN_CPU_CAPABILITY': 'default'}


def test_environment_note_warns_when_a_seeds_runs_differ():
    from mmselfdis.utils.study import environment_note
    one = dict(cpu='CPU A', cpu_capability='AVX2', threads=1, torch='2.14.1')
    note = environment_note({'r=0': (0, one), 'r=0.5': (0, one)})
    assert note.startswith('Environment of every training: CPU A (AVX2), 1 thread(s)')
    other = dict(one, cpu_capability='AVX512')
    note = environment_note({'r=0': (0, one), 'r=0.5': (0, other), 'r=0@1': (1, one)})
    assert '**Warning: the runs of seed(s) 0 were trained in different environments**' in note
    assert 'differ in cpu_capability' in note
    assert 'seed 0: r=0: cpu_capability=AVX2; r=0.5: cpu_capability=AVX512' in note
    note = environment_note({'r=0': (0, one), 'r=0@1': (1, other), 'old': (1, None)})
    assert 'Warning' not in note and "seeds' differ in cpu_capability" in note
    assert '1 run(s) without an environment record' in note and 'old' in note
