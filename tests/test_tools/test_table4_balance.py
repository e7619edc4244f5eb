"""reproduce_table4: 1-long, budgets, trend, balancing and L1 switches; tools/grad_probe.py."""
import json
import os
import os.path as osp
import statistics

import pytest

from tests.test_augment._fixtures import load_tool, make_tiny_synthhands


def _row(t4, rid):
    return {r[0]: r for r in t4.ROWS}[rid]


def test_row_config_budget_long_row_balance_and_l1_switches():
    t4 = load_tool('reproduce_table4')
    preset = t4.PRESETS['cpu']
    epochs = preset['options']['train_cfg.max_epochs']
    base = t4.row_config(_row(t4, '1'), preset, '/d', None)
    long = t4.row_config(_row(t4, '1-long'), preset, '/d', None)
    assert base.train_cfg.max_epochs == epochs and long.train_cfg.max_epochs == 2 * epochs
    assert long.model == base.model  # the same baseline, only longer
    r3 = t4.row_config(_row(t4, '3'), preset, '/d', None, budget=4)
    assert r3.train_cfg.max_epochs == 4 * epochs
    assert r3.model.selfdis.get('grad_balance', 'default') == 'default'  # the head's default
    plain = t4.row_config(_row(t4, '3'), preset, '/d', None, grad_balance=False)
    assert plain.model.selfdis.grad_balance is None
    assert 'selfdis' not in t4.row_config(_row(t4, '1'), preset, '/d', None,
                                          grad_balance=False).model
    l1 = t4.row_config(_row(t4, '3'), preset, '/d', None, pose_loss='l1')
    assert l1.model.head.loss.type == 'KeypointL1Loss'
    from mmpose.registry import MODELS
    assert MODELS.get('KeypointL1Loss') is not None  # registered by `import mmselfdis`


def _finished(work_dir, rid, epochs, ckpt_epoch, record=True):
    work = osp.join(work_dir, 'rows', rid, 'work')
    os.makedirs(work, exist_ok=True)
    path = osp.join(work, f'epoch_{ckpt_epoch}.pth')
    open(path, 'w').close()
    if record:
        with open(osp.join(work, 'last_checkpoint'), 'w') as f:
            f.write(path)
    return dict(row=rid, epochs=epochs, checkpoint=osp.join(work, f'epoch_{epochs}.pth'))


def test_rows_4_to_6_start_from_the_checkpoint_row_3_wrote_last(tmp_path):
    t4 = load_tool('reproduce_table4')
    m = _finished(str(tmp_path / 'a'), '3', 8, 8)
    assert t4.last_checkpoint(m) == m['checkpoint']
    m = _finished(str(tmp_path / 'b'), '3', 8, 8, record=False)  # no record: by epoch count
    assert t4.last_checkpoint(m) == m['checkpoint']
    m = _finished(str(tmp_path / 'c'), '3', 8, 4)  # stale: row 3 stopped at epoch 4 of 8
    with pytest.raises(t4.StudyError, match='epoch_8.pth of its 8 epochs'):
        t4.last_checkpoint(m)


def _metrics(work_dir, rid, test, shift, epochs):
    d = osp.join(work_dir, 'rows', rid)
    os.makedirs(d, exist_ok=True)
    with open(osp.join(d, 'metrics.json'), 'w') as f:
        json.dump(dict(row=rid, total_epochs=epochs, train_seconds=1.0, grad_balance=rid != '1',
                       splits=dict(test=dict(EPE=test, PCK=0.5), test_shift=dict(EPE=shift,
                                                                                 PCK=0.4))), f)


def test_long_rows_are_compared_with_1_long(tmp_path):
    t4 = load_tool('reproduce_table4')
    w = str(tmp_path)
    _metrics(w, '1', 10.0, 12.0, 4)
    _metrics(w, '1-long', 8.0, 10.0, 8)
    _metrics(w, '4', 9.0, 9.0, 8)
    metrics = t4.read_rows(w)
    assert t4.improvement(metrics, '4', 'test') == pytest.approx(10.0)
    assert t4.improvement(metrics, '4', 'test', '1-long') == pytest.approx(-12.5)
    csv_text, table = t4.build_tables(metrics)
    line4 = [ln for ln in table.splitlines() if ln.startswith('| 4 |')][0]
    assert '+10.00 %' in line4 and '-12.50 %' in line4 and '+10.00 %' in line4
    line_long = [ln for ln in table.splitlines() if ln.startswith('| 1-long |')][0]
    assert '| 8 |' in line_long and '-12.50' not in line_long
    assert len(csv_text.splitlines()) == 1 + 3 * 2


def test_trend_over_budgets_and_seeds(tmp_path):
    t4 = load_tool('reproduce_table4')
    w = str(tmp_path)
    values = {(1, 0): (10.0, 13.0), (1, 1): (11.0, 12.0), (1, 2): (12.5, 12.5),
              (2, 0): (9.0, 9.5)}
    for (budget, seed), (r1, r3) in values.items():
        sub = osp.join(w, f'b{budget}x-s{seed}')
        _metrics(sub, '1', r1, r1 + 1, 4 * budget)
        _metrics(sub, '3', r3, r3 + 1, 4 * budget)
    os.makedirs(osp.join(w, 'data'))  # other folders are ignored
    md = t4.write_trend(w, 'CMD')
    r1 = [10.0, 11.0, 12.5]
    assert f'| 1 | 4 | 3 | {statistics.mean(r1):.3f} ± {statistics.stdev(r1):.3f} |' in md
    assert '| 3 | 8 | 1 | 9.500 |' in md
    rows = open(osp.join(w, 'trend.csv')).read().splitlines()
    assert len(rows) == 1 + 8 and rows[1].startswith('1,1,0,4,10.0,11.0')
    import cv2
    assert cv2.imread(osp.join(w, 'trend.png')) is not None


def test_table4_bad_options_are_named(tmp_path):
    t4 = load_tool('reproduce_table4')
    with pytest.raises(t4.StudyError, match="rows 1-6 \\(and 1-long\\), got \\['7'\\]"):
        t4.parse_args(['--work-dir', str(tmp_path), '--rows', '7'])
    with pytest.raises(t4.StudyError, match='--budgets'):
        t4.parse_args(['--work-dir', str(tmp_path), '--budgets', '0'])


def test_grad_probe_micro_run(tmp_path):
    probe = load_tool('grad_probe')
    root = make_tiny_synthhands(str(tmp_path / 'synth'))
    out = tmp_path / 'probe'
    probe.main(['--row', '3', '--preset', 'micro', '--data-root', root, '--iters', '3',
                '--every', '2', '--out', str(out)])
    data = json.load(open(out / 'probe.json'))
    recs = data['records']
    assert [r['iter'] for r in recs] == [0, 2]
    assert list(recs[0]['groups']) == ['backbone.stages.0', 'backbone.stages.1',
                                       'backbone.stages.2']
    g = recs[0]['groups']['backbone.stages.2']
    assert g['norm/loss_kpt'] > 0 and g['norm/loss_img'] > 0 and g['norm/loss_d'] == 0
    assert -1 <= g['cos'] <= 1 and 'applied_other' in g
    assert 0 < recs[0]['feature']['scale'] <= 1 + 1e-6
    md = open(out / 'probe.md').read()
    assert 'backbone.stages.2' in md and 'first half' in md
    with pytest.raises(probe.StudyError, match='already holds a probe'):
        probe.main(['--row', '3', '--preset', 'micro', '--data-root', root, '--out', str(out)])
    with pytest.raises(probe.StudyError, match="starts from row 3"):
        probe.main(['--row', '4', '--preset', 'micro', '--data-root', root,
                    '--out', str(tmp_path / 'p4')])
