"""configs/selfdis: every file builds; the Table 4 rows differ only where they should."""
import glob
import os.path as osp
import re

import pytest
from mmengine.config import Config

from tests.conftest import REPO

CFG_DIR = osp.join(REPO, 'configs', 'selfdis')
CONFIGS = sorted(glob.glob(osp.join(CFG_DIR, '*.py')))
ROWS = {int(osp.basename(p)[3]): p for p in CONFIGS if osp.basename(p).startswith('t4-')}


def _cfg(path):
    return Config.fromfile(path)


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_builds(path):
    import mmselfdis  # noqa: F401
    from mmengine.registry import init_default_scope

    from mmpose.registry import MODELS
    cfg = _cfg(path)
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    assert cfg.custom_imports == dict(imports=['mmselfdis'], allow_failed_imports=False)
    assert "custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)" in \
        open(path).read()  # every file says it, not only through _base_
    model = MODELS.build(cfg.model)
    expected = 'TopdownPoseEstimator' if 't4-1_' in path else 'SelfDisPoseEstimator'
    assert type(model).__name__ == expected


def test_snippet_is_short_and_pasteable():
    text = open(osp.join(CFG_DIR, 'selfdis_res50_onehand10k-256x256.py')).read()
    snippet = re.search(r'# --- self-disentanglement snippet ---\n(.*?)# --- end of snippet ---',
                        text, re.S).group(1)
    lines = [ln for ln in snippet.splitlines() if ln.strip() and not ln.startswith('#')]
    assert lines[0].startswith('custom_imports = ')
    assert len(lines) - 1 <= 5
    cfg = _cfg(osp.join(CFG_DIR, 'selfdis_res50_onehand10k-256x256.py'))
    assert cfg.model.backbone.depth == 50 and cfg.model.head.in_channels == 2048


def test_table4_rows_change_only_what_differs():
    assert sorted(ROWS) == [1, 2, 3, 4, 5, 6]
    cfgs = {i: _cfg(p) for i, p in ROWS.items()}
    assert 'selfdis' not in cfgs[1].model
    sd = {i: cfgs[i].model.selfdis for i in range(2, 7)}
    assert sd[2].mix_ratio == 0.0 and 'mix_ratio' not in sd[3]
    for i in (3, 4):
        assert sd[i].get('detach_pose_feature', True) and sd[i].get('detach_pose_estimator', True)
    assert sd[5].detach_pose_estimator is False and sd[5].get('detach_pose_feature', True)
    assert sd[6].detach_pose_estimator is False and sd[6].detach_pose_feature is False
    for i in (4, 5, 6):
        assert 't4-3_selfdis' in cfgs[i].load_from and cfgs[i].resume is False
        assert cfgs[i].train_cfg.max_epochs == cfgs[3].train_cfg.max_epochs
    # everything else is shared
    for i in range(2, 7):
        for key in ('backbone', 'head', 'data_preprocessor'):
            assert cfgs[i].model[key] == cfgs[1].model[key], (i, key)
        assert cfgs[i].train_dataloader == cfgs[1].train_dataloader
        assert cfgs[i].optim_wrapper == cfgs[1].optim_wrapper
    assert cfgs[1].optim_wrapper.optimizer == dict(type='Adam', lr=1e-3)
    assert cfgs[1].model.backbone.type == 'UNetEncoder'
    assert cfgs[1].model.head.deconv_kernel_sizes == (2, 2, 2, 2)


def test_paired_baseline_config():
    cfg = _cfg(osp.join(CFG_DIR, 'paired-baseline_unet_synthhands-mono-64x64.py'))
    assert cfg.model.selfdis.mode == 'paired'
    assert cfg.train_dataloader.sampler == dict(type='PosePairSampler', shuffle=True)
    assert cfg.train_dataloader.batch_size % 2 == 0
    pack = cfg.train_dataloader.dataset.pipeline[-1]
    assert pack.type == 'PackPoseInputs' and 'pose_id' in pack.meta_keys


def test_demo_background_config_paints_over_the_appearance_image():
    import mmselfdis  # noqa: F401
    from mmengine.registry import init_default_scope

    from mmpose.registry import MODELS
    path = osp.join(REPO, 'configs', 'demo', 'selfdis-demo-background_unet_synthhands-mono-64x64.py')
    cfg = _cfg(path)
    demo = _cfg(osp.join(REPO, 'configs', 'demo', 'selfdis-demo_unet_synthhands-mono-64x64.py'))
    init_default_scope('mmpose')
    model = MODELS.build(cfg.model)
    assert model.selfdis.background.region_options == dict(radius=0.07, arm_radius=0.1,
                                                           arm_length=2.5)
    assert model.selfdis.background.inpaint and not model.selfdis.background.context
    assert model.selfdis.image_decoder.out_channels == 2  # grey + opacity
    assert model.selfdis.loss_cycle_pose.loss_weight == 0  # no marks at the joints
    cfg.model.selfdis.pop('background')
    cfg.model.selfdis.loss_cycle_pose.loss_weight = demo.model.selfdis.loss_cycle_pose.loss_weight
    assert cfg.model == demo.model  # only those differ


def test_demo_hands_config_is_the_background_painter_with_its_changes():
    """The demo's default: the background config + the SSIM term at 0.3 + the fill's
    low-pass and margin when mixing + the own hand inpainted over a grown region + one
    global appearance code + averaged weights, 10 epochs; its metric gives each mix y at x's
    crop and reports the judge by place along the finger."""
    import mmselfdis  # noqa: F401
    from mmengine.registry import init_default_scope

    from mmpose.registry import MODELS
    demo_dir = osp.join(REPO, 'configs', 'demo')
    cfg = _cfg(osp.join(demo_dir, 'selfdis-demo-hands_unet_synthhands-mono-64x64.py'))
    bg = _cfg(osp.join(demo_dir, 'selfdis-demo-background_unet_synthhands-mono-64x64.py'))
    init_default_scope('mmpose')
    painter = MODELS.build(cfg.model).selfdis.background
    assert painter.inpaint and (painter.fill_sigma, painter.fill_margin) == (2.0, 0.01)
    assert painter.inpaint_margin == 0.03
    assert (cfg.model.selfdis.encoder.pool_grid, bg.model.selfdis.encoder.pool_grid) == (1, 2)
    assert cfg.model.selfdis.loss_img_ssim == dict(type='ImageSSIMLoss', loss_weight=0.3)
    metric = [m for m in cfg.test_evaluator if m['type'] == 'DisentanglementMetric']
    assert len(metric) == 1 and metric[0]['appearance_crop'] == 'pose'
    assert metric[0]['finger_levels'] is True
    assert [m['type'] for m in cfg.test_evaluator] == [m['type'] for m in bg.test_evaluator]
    for key in ('fill_sigma', 'fill_margin', 'inpaint_margin'):
        cfg.model.selfdis.background.pop(key)
    cfg.model.selfdis.pop('loss_img_ssim')
    cfg.model.selfdis.encoder.pool_grid = bg.model.selfdis.encoder.pool_grid
    assert cfg.model == bg.model  # only those differ
    assert cfg.train_dataloader == bg.train_dataloader
    assert (cfg.train_cfg.max_epochs, bg.train_cfg.max_epochs) == (10, 14)
    assert (cfg.max_epochs, bg.max_epochs) == (10, 14)  # the dumped config says one length
    cfg.train_cfg.max_epochs = bg.train_cfg.max_epochs
    assert cfg.train_cfg == bg.train_cfg  # only the length differs
    # and the weights averaged over training: the background config's hooks + EMAHook
    assert cfg.custom_hooks[:-1] == bg.custom_hooks
    assert cfg.custom_hooks[-1] == dict(type='EMAHook', ema_type='ExponentialMovingAverage',
                                        momentum=0.01, update_buffers=True)
