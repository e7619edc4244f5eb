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
