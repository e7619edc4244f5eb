"""tools/reproduce_table4.py and tools/demo.py: bookkeeping, and real micro runs."""
import json
import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from tests.conftest import REPO, refused, run_tool
from tests.test_augment._fixtures import load_tool


def _fabricated_row(work_dir, rid, epe_test, epe_shift):
    """Write a FABRICATED rows/<rid>/metrics.json (table bookkeeping only, no training)."""
    d = osp.join(work_dir, 'rows', str(rid))
    os.makedirs(d, exist_ok=True)
    splits = dict(test=dict(EPE=epe_test, PCK=0.5, AUC=0.4),
                  test_shift=dict(EPE=epe_shift, PCK=0.4, AUC=0.3))
    with open(osp.join(d, 'metrics.json'), 'w') as f:
        json.dump(dict(row=rid, splits=splits, total_epochs=4 if rid < 4 else 8,
                       train_seconds=10.0), f)


def test_table4_improvements_and_partial_tables(tmp_path):
    t4 = load_tool('reproduce_table4')
    w = str(tmp_path)
    _fabricated_row(w, 1, 10.0, 20.0)
    _fabricated_row(w, 3, 9.0, 21.0)
    metrics = t4.read_rows(w)
    assert t4.improvement(metrics, 3, 'test') == pytest.approx(10.0)  # lower EPE = better
    assert t4.improvement(metrics, 3, 'test_shift') == pytest.approx(-5.0)
    t4.write_reports(w, 'CMD', 'cpu', progress=(2, 6))
    assert not osp.exists(osp.join(w, 'results.md'))
    partial = open(osp.join(w, 'results.partial.md')).read()
    assert 'incomplete: 2 of 6 rows' in partial and '+10.00 %' in partial
    assert '-5.00 %' in partial and '+6.01 %' in partial  # the paper's row 3, from its EPE
    t4.write_reports(w, 'CMD', 'cpu')
    assert not osp.exists(osp.join(w, 'results.partial.md'))
    final = open(osp.join(w, 'results.md')).read()
    assert 'incomplete' not in final and 'Self-disentanglement' in final
    rows = open(osp.join(w, 'results.csv')).read().splitlines()
    assert len(rows) == 1 + 2 * 2  # header + 2 rows x 2 splits


def test_table4_cpu_preset_changes_scale_not_the_rows_method():
    t4 = load_tool('reproduce_table4')
    preset = t4.PRESETS['cpu']
    for row in t4.ROWS:
        cfg = t4.row_config(row, preset, '/data/x', None)
        assert cfg.model.head.decoder.heatmap_size == (16, 16)
        assert len(cfg.model.head.deconv_out_channels) == 2
        target = [s for s in cfg.train_dataloader.dataset.pipeline
                  if s['type'] == 'GenerateTarget'][0]
        assert target['encoder']['heatmap_size'] == (16, 16)
        assert cfg.train_dataloader.dataset.data_root == '/data/x/'
        written = Config.fromfile(osp.join(t4.CONFIG_DIR, row[1]))
        if 'selfdis' in written.model:
            for key in ('mix_ratio', 'detach_pose_feature', 'detach_pose_estimator'):
                assert cfg.model.selfdis.get(key) == written.model.selfdis.get(key)
            # the paper's spatial appearance code in every row
            assert not cfg.model.selfdis.get('encoder', {}).get('global_pool', False)


def test_table4_refuses_bad_rows_and_another_seed(tmp_path, capsys):
    err = refused('reproduce_table4', ['--work-dir', tmp_path, '--rows', '7'], capsys)
    assert 'rows 1-6' in err
    err = refused('reproduce_table4', ['--work-dir', tmp_path, '--preset', 'micro', '--rows', '4'],
                  capsys)
    assert 'add 3 to --rows' in err
    t4 = load_tool('reproduce_table4')
    man = dict(preset='micro', seed=0, configs_sha='x', data_root='rendered')
    t4.check_manifest(str(tmp_path / 'w'), man, ('preset', 'seed', 'configs_sha', 'data_root'))
    err = refused('reproduce_table4', ['--work-dir', tmp_path / 'w', '--preset', 'micro',
                                       '--seed', '1'], capsys)
    assert 'seed=0' in err and 'another --work-dir' in err


def test_table4_micro_rows_3_and_4_warm_start_and_resume(tmp_path):
    """Row 4 starts from row 3's last checkpoint; a re-run retrains nothing. The rows train in
    the tool's process (``--in-process``), the re-run is the command line's default."""
    w = tmp_path / 't4'
    args = ['tools/reproduce_table4.py', '--preset', 'micro', '--work-dir', w, '--rows', '3', '4']
    proc = run_tool(*args, '--in-process', env=dict(OMP_NUM_THREADS='1'))
    row3 = str(w / 'rows' / '3' / 'work' / 'epoch_1.pth')
    log4 = open(w / 'rows' / '4' / 'train.log').read()
    assert f'Load checkpoint from {row3}' in log4  # warm start, not from scratch
    assert 'Auto resumed' not in log4
    table = open(w / 'results.md').read()
    assert '| 3 | Self-disentanglement | 1 |' in table
    assert '| 4 | Self-disentanglement + resume (**) | 2 |' in table
    m4 = json.load(open(w / 'rows' / '4' / 'metrics.json'))
    assert m4['warm_start'] == row3 and set(m4['splits']) == {'test', 'test_shift'}
    assert 'Epoch(train)' in proc.stdout  # the progress display
    mtime = os.path.getmtime(w / 'rows' / '4' / 'work' / 'epoch_1.pth')
    again = run_tool(*args, env=dict(OMP_NUM_THREADS='1'))
    assert 'row 3: finished earlier' in again.stdout and 'row 4: finished earlier' in again.stdout
    assert os.path.getmtime(w / 'rows' / '4' / 'work' / 'epoch_1.pth') == mtime


def test_demo_micro_end_to_end(tmp_path, capsys):
    w = tmp_path / 'demo'
    proc = run_tool('tools/demo.py', '--work-dir', w, '--num-poses', '40', '--epochs', '1',
                    '--micro', env=dict(OMP_NUM_THREADS='1'))
    for stage in range(1, 6):
        assert f'[demo {stage}/5]' in proc.stdout
    assert 'Epoch(train)' in proc.stdout
    metrics = json.load(open(w / 'metrics.json'))
    for key in ('PCK', 'EPE', 'disent/PCK_mix', 'disent/PCK_truth', 'disent/self_PCK_mix',
                'disent/app_recall@1', 'disent/paired_L1'):
        assert key in metrics
    assert metrics['disent/judged'] == 1.0  # the demo's mixes are scored by its judge
    # the default config averages the weights: the checkpoint that is measured holds the
    # average, its ema_state_dict the trained weights
    from mmselfdis.utils import safe_load_checkpoint
    ckpt = safe_load_checkpoint(str(w / 'train' / 'epoch_1.pth'))
    trained = {k[len('module.'):]: v for k, v in ckpt['ema_state_dict'].items()
               if k.startswith('module.')}
    key = 'selfdis.image_decoder.out_conv.weight'
    assert key in trained and not torch.equal(trained[key], ckpt['state_dict'][key])
    record = json.load(open(w / 'synthhands' / 'judge' / 'judge.json'))
    assert record['epochs'] == 1 and record['train_ann_file'] == 'annotations/train.json'
    import cv2
    grid = cv2.imread(str(w / 'swap_grid.png'))
    assert grid is not None and grid.shape[0] > 100 and grid.shape[1] > 100
    assert cv2.imread(str(w / 'retrieval.png')) is not None
    summary = open(w / 'summary.md').read()
    assert 'appearance recall@1' in summary and 'swap_grid.png' in summary
    assert 'PCK_mix / PCK_truth' in summary and 'judge.pth' in summary
    # the default config (the hands painter) measures each mix at x's crop, and says so
    assert 'selfdis-demo-hands_' in summary and "appearance_crop='pose'" in summary
    # and reports the judge by place along the finger (finger_levels)
    assert 'disent/PCK_mix_truth_ratio@tip' in metrics and 'the same by place' in summary
    assert 'hand tone error' in summary and 'disent/app_recall_truth@1' in metrics
    # another demo setting in the same work dir is refused, nothing is overwritten
    before = open(w / 'metrics.json').read()
    err = refused('demo', ['--work-dir', w, '--num-poses', '60', '--epochs', '1', '--micro'],
                  capsys)
    assert 'another --work-dir' in err
    # so is another training seed on the same data (--train-seed: an A/B over seeds)
    err = refused('demo', ['--work-dir', w, '--num-poses', '40', '--epochs', '1', '--micro',
                           '--train-seed', '5'], capsys)
    assert 'train_seed' in err
    assert open(w / 'metrics.json').read() == before
    # every stage in one process: the same figures as the subprocesses gave
    w1 = tmp_path / 'demo_in_process'
    proc = run_tool('tools/demo.py', '--work-dir', w1, '--num-poses', '40', '--epochs', '1',
                    '--micro', '--in-process', env=dict(OMP_NUM_THREADS='1'))
    assert 'Epoch(train)' in proc.stdout and 'Epoch(test)' in open(w1 / 'test.log').read()
    one = json.load(open(w1 / 'metrics.json'))
    assert one.keys() == metrics.keys()
    for key, value in metrics.items():
        assert one[key] == pytest.approx(value, nan_ok=True), key


def test_demo_config_is_the_row_3_method_with_a_coarse_appearance_code():
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'demo',
                                   'selfdis-demo_unet_synthhands-mono-64x64.py'))
    assert cfg.model.type == 'SelfDisPoseEstimator'
    assert cfg.model.selfdis.encoder.pool_grid == 2
    assert not cfg.model.selfdis.encoder.get('global_pool', False)
    assert cfg.model.selfdis.get('detach_pose_feature', True)
    assert cfg.model.selfdis.get('mix_ratio', 0.5) > 0
    assert any(e['type'] == 'DisentanglementMetric' for e in cfg.test_evaluator)


def _heatmaps_of(cfg, batch=2):
    """Build ``cfg.model`` and return the shape of its heatmaps for a 64x64 batch."""
    import torch
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS

    import mmselfdis  # noqa: F401
    init_default_scope('mmpose')
    model = MODELS.build(cfg.model)
    model.eval()
    with torch.no_grad():
        return tuple(model(torch.zeros(batch, 1, 64, 64), None, mode='tensor').shape)


def test_demo_config_option(capsys):
    demo = load_tool('demo')
    assert demo.parse_args([]).config.endswith('selfdis-demo-hands_unet_synthhands-mono-64x64.py')
    assert demo.parse_args(['--preset', 'gpu']).config == demo.DEMO_CONFIG
    other = osp.join(REPO, 'configs', 'demo',
                     'selfdis-demo-background_unet_synthhands-mono-64x64.py')
    cfg = demo.demo_config(demo.parse_args(['--config', other]))
    assert cfg.model.selfdis.get('loss_img_ssim') is None and cfg.model.selfdis.background.inpaint
    err = refused('demo', ['--config', 'configs/demo/no_such.py'], capsys)
    assert 'no_such.py: no such file' in err


def test_gpu_presets_train_the_paper_networks_on_64x64_heatmaps(monkeypatch):
    t4 = load_tool('reproduce_table4')
    demo = load_tool('demo')
    row3 = [r for r in t4.ROWS if r[0] == '3'][0]
    t4_cfg = t4.row_config(row3, t4.PRESETS['gpu'], '/data/x', None)
    demo_args = demo.parse_args(['--preset', 'gpu'])
    demo_cfg = demo.demo_config(demo_args)
    for cfg in (t4_cfg, demo_cfg):  # the paper's networks, batch and lr
        assert cfg.model.backbone.base_channels == 64
        assert cfg.train_dataloader.batch_size == 128
        assert cfg.optim_wrapper.optimizer.lr == 1e-3
        assert cfg.train_dataloader.num_workers > 0 and cfg.train_dataloader.pin_memory
        assert cfg.env_cfg.cudnn_benchmark
        target = [s for s in cfg.train_dataloader.dataset.pipeline
                  if s['type'] == 'GenerateTarget'][0]
        assert target['encoder']['heatmap_size'] == (64, 64)
        assert _heatmaps_of(cfg) == (2, 21, 64, 64)
    # the demo's method is kept: only scale changes
    assert demo_cfg.model.selfdis.decoder.type == 'PoseModulatedDecoder'
    assert demo_cfg.train_cfg.max_epochs == demo.GPU_PRESET['epochs']
    with pytest.raises(Exception, match='--micro'):
        demo.parse_args(['--preset', 'gpu', '--micro'])
    # both run every stage in their own process by default, one at a time
    assert demo_args.in_process and not demo.parse_args([]).in_process
    assert t4.parse_args(['--work-dir', 'w', '--preset', 'gpu']).in_process
    assert not t4.parse_args(['--work-dir', 'w', '--preset', 'gpu', '--jobs', '2']).in_process
    with pytest.raises(Exception, match='choose one'):
        t4.parse_args(['--work-dir', 'w', '--jobs', '2', '--in-process'])
    with pytest.raises(Exception, match='choose one'):
        demo.parse_args(['--judge-beside', '--in-process'])
    # the judge trains beside the generator on a CPU of 2 or more threads, not in a micro run
    monkeypatch.setenv('OMP_NUM_THREADS', '2')
    assert demo.parse_args([]).judge_beside and not demo.parse_args([]).in_process
    assert not demo.parse_args(['--micro']).judge_beside
    # --micro alone is a short run: a few poses and one epoch unless told otherwise
    micro = demo.parse_args(['--micro'])
    assert (micro.num_poses, micro.epochs) == (demo.MICRO_NUM_POSES, 1)
    assert demo.parse_args(['--micro', '--num-poses', '60', '--epochs', '2']).epochs == 2
    assert not demo.parse_args(['--no-judge-beside']).judge_beside
    assert not demo.parse_args(['--in-process']).judge_beside
    assert not demo_args.judge_beside  # gpu: one stage after the other, in process
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    assert not demo.parse_args([]).judge_beside


def test_table4_max_ratio_sets_the_branch_cap_and_is_checked(tmp_path):
    t4 = load_tool('reproduce_table4')
    row1, row3 = [[r for r in t4.ROWS if r[0] == i][0] for i in ('1', '3')]
    args = t4.parse_args(['--work-dir', str(tmp_path), '--max-ratio', '0.25'])
    cap = t4.grad_balance_arg(args)
    assert cap == 0.25
    cfg = t4.row_config(row3, t4.PRESETS['cpu'], '/data/x', None, grad_balance=cap)
    assert cfg.model.selfdis.grad_balance == dict(mode='norm', max_ratio=0.25)
    assert 'selfdis' not in t4.row_config(row1, t4.PRESETS['cpu'], '/data/x', None,
                                          grad_balance=cap).model
    assert t4.grad_balance_arg(t4.parse_args(['--work-dir', 'w'])) is True
    assert t4.grad_balance_arg(t4.parse_args(['--work-dir', 'w', '--no-grad-balance'])) is False
    for bad in (['--max-ratio', '0'], ['--max-ratio', '0.5', '--no-grad-balance']):
        with pytest.raises(Exception, match='--max-ratio'):
            t4.parse_args(['--work-dir', 'w'] + bad)
    # the table says which cap its rows had
    _fabricated_row(str(tmp_path), 1, 10.0, 12.0)
    _fabricated_row(str(tmp_path), 3, 11.0, 12.5)
    m = json.load(open(tmp_path / 'rows' / '3' / 'metrics.json'))
    m['grad_balance'] = 0.25
    json.dump(m, open(tmp_path / 'rows' / '3' / 'metrics.json', 'w'))
    t4.write_reports(str(tmp_path), 'cmd', 'cpu')
    assert 'rows 3 (max_ratio 0.25)' in open(tmp_path / 'results.md').read()


def test_table4_rows_side_by_side_wait_for_the_row_they_start_from():
    """--jobs N: rows run N at a time; 4-6 start only once row 3 has finished."""
    import threading
    import time
    t4 = load_tool('reproduce_table4')
    lock, events = threading.Lock(), []

    def start(row):
        with lock:
            events.append(('start', row[0]))
        time.sleep(0.05 if row[0] != '3' else 0.2)
        with lock:
            events.append(('end', row[0]))

    counts = list(t4.run_rows_scheduled(t4.ROWS, start, jobs=3))
    assert counts == list(range(1, len(t4.ROWS) + 1))
    started = [rid for kind, rid in events if kind == 'start']
    assert started[0] == '3'  # the row others start from goes first
    end3 = events.index(('end', '3'))
    for rid in ('4', '5', '6'):
        assert events.index(('start', rid)) > end3
    running, most = 0, 0
    for kind, _ in events:
        running += 1 if kind == 'start' else -1
        most = max(most, running)
    assert most == 3  # side by side, never more than --jobs
    # one at a time: the table's order, as before
    events.clear()
    list(t4.run_rows_scheduled(t4.ROWS, start, jobs=1))
    assert [rid for kind, rid in events if kind == 'start'] == list(t4.ROW_IDS)


def test_table4_scheduling_stops_at_a_failed_row():
    t4 = load_tool('reproduce_table4')
    started = []

    def start(row):
        started.append(row[0])
        if row[0] == '3':
            raise RuntimeError('row 3 broke')

    with pytest.raises(RuntimeError, match='row 3 broke'):
        list(t4.run_rows_scheduled(t4.ROWS, start, jobs=2))
    assert not {'4', '5', '6'} & set(started)  # nothing starts from a row that failed


def test_evaluate_splits_side_by_side(tmp_path, monkeypatch):
    from mmselfdis.utils import study
    calls = []

    def fake_run(cmd, log, **kwargs):  # what tools/test.py --out writes
        calls.append(cmd)
        out = cmd[cmd.index('--out') + 1]
        split = cmd[-1].split('/')[-1][:-len('.json')]
        with open(out, 'w') as f:
            json.dump(dict(EPE={'a': 1.0, 'b': 2.0}[split], PCK=0.5), f)

    monkeypatch.setattr(study, 'run_logged', fake_run)
    splits = dict(a='annotations/a.json', b='annotations/b.json')
    res = study.evaluate_splits('cfg.py', 'ckpt.pth', str(tmp_path), splits, ('EPE', ), jobs=2)
    assert res == dict(a=dict(EPE=1.0), b=dict(EPE=2.0)) and len(calls) == 2
    # evaluated once: the metrics files are reused
    assert study.evaluate_splits('cfg.py', 'ckpt.pth', str(tmp_path), splits, ('EPE', ),
                                 jobs=2) == res and len(calls) == 2


def test_demo_micro_trains_the_judge_beside_the_generator(tmp_path):
    """On the CPU the judge's process gets half the threads and the training gives up as
    many (ShareCoresHook) until the judge's weights are written."""
    w = tmp_path / 'demo'
    proc = run_tool('tools/demo.py', '--work-dir', w, '--num-poses', '40', '--epochs', '1',
                    '--micro', '--judge-beside', env=dict(OMP_NUM_THREADS='2'))
    assert 'beside stage 3 in a second process of 1 of 2 threads' in proc.stdout
    assert 'judge ready' in proc.stdout
    assert proc.stdout.index('judge ready') < proc.stdout.index('[demo 4/5]')
    metrics = json.load(open(w / 'metrics.json'))
    assert metrics['disent/judged'] == 1.0 and 'disent/PCK_mix' in metrics
    cfg = Config.fromfile(str(w / 'config.py'))
    judge = [m for m in cfg.test_evaluator if m['type'] == 'DisentanglementMetric'][0]['judge']
    assert judge['checkpoint'] == str(w / 'synthhands' / 'judge' / 'judge.pth')
    assert osp.isfile(judge['checkpoint']) and osp.isfile(judge['config'])
    share = [h for h in cfg.custom_hooks if h['type'] == 'ShareCoresHook']
    assert share == [dict(type='ShareCoresHook', until_exists=judge['checkpoint'], threads=1)]
    assert json.load(open(w / 'synthhands' / 'judge' / 'judge.json'))['train_threads'] == 1
    # the judge is not part of the training's config: a cached judge is reused as it is
    assert 'ShareCoresHook' not in open(w / 'synthhands' / 'judge' / 'config.py').read()
