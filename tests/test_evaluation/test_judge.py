"""The independent judge: its config, its cache, and that it is not fooled by a coded mix.

The central test (issue 13): a "mix" that is the appearance image y plus a faint
pattern that carries x's pose for the generator's own pose branch must score
near the copy-y floor with the judge, while the generator's own reading calls it
x's pose. It fails if the metric's judge were the generator's branch (shown by
the companion test, which judges with a copy of that branch).
"""
import copy
import json
import os
import os.path as osp
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

from mmpose.models.pose_estimators import TopdownPoseEstimator
from mmpose.registry import MODELS
from mmpose.structures import PoseDataSample
from mmselfdis.engine.hooks import DisentanglementMetricHook
from mmselfdis.evaluation import (DisentanglementMetric, JudgeError, ensure_judge, find_judge,
                                  judge_config, load_judge, predict_crop_keypoints)
from tests.conftest import REPO
from tests.test_evaluation._helpers import (VAL_PIPELINE, batches, make_synthhands,
                                            synth_dataset)
from tests.test_models._tiny import build_model, codec, model_cfg

DEMO = osp.join(REPO, 'configs', 'demo', 'selfdis-demo_unet_synthhands-mono-64x64.py')
MIXING = osp.join(REPO, 'configs', 'augment', 'mixreconstruct_unet_synthhands-mono-64x64.py')
SELFDIS_TRANSFORMS = ('MixReconstruct', 'AppearanceJitter', 'SynthesizedImages')


@pytest.fixture(scope='module')
def synth_root(tmp_path_factory):
    return make_synthhands(str(tmp_path_factory.mktemp('judge') / 'synthhands'), num_poses=40)


# ------------------------------------------------------------------ the config
def test_judge_config_copies_the_pose_path_and_trains_on_real_images_only():
    src = Config.fromfile(MIXING)
    cfg = judge_config(MIXING, epochs=3, seed=5, data_root='/data/x')
    assert cfg.model.type == 'TopdownPoseEstimator' and 'selfdis' not in cfg.model
    assert 'batch_augments' not in cfg.model.data_preprocessor
    assert cfg.model.backbone == src.model.backbone and cfg.model.head == src.model.head
    steps = [s['type'] for s in cfg.train_dataloader.dataset.pipeline]
    # the source trains on mixes; the judge never does
    assert 'MixReconstruct' in [s['type'] for s in src.train_dataloader.dataset.pipeline]
    assert not set(steps) & set(SELFDIS_TRANSFORMS), steps
    assert steps[-2:] == ['GenerateTarget', 'PackPoseInputs']
    assert cfg.train_dataloader.dataset.ann_file == 'annotations/train.json'
    assert cfg.train_dataloader.dataset.data_root == '/data/x/'
    assert cfg.train_cfg.max_epochs == 3 and cfg.randomness.seed == 5
    assert cfg.custom_hooks == [] and cfg.load_from is None
    assert all(m['type'] != 'DisentanglementMetric' for m in cfg.test_evaluator)
    # of the demo's hooks (swap grids, metrics, memory format) the judge keeps the speed one
    demo = Config.fromfile(DEMO)
    assert {h['type'] for h in demo.custom_hooks} >= {'SwapGridHook', 'ChannelsLastHook'}
    assert judge_config(DEMO).custom_hooks == [dict(type='ChannelsLastHook')]
    # and its batching: one shared-memory block per field, as the generator's loader
    assert demo.train_dataloader.collate_fn == dict(type='shared_pseudo_collate')
    assert judge_config(DEMO).train_dataloader.collate_fn == dict(type='shared_pseudo_collate')


def test_the_second_judge_has_another_architecture_on_the_same_data():
    """configs/judge/...: a ResNet-18 judge of the demo's data (not the pose model's UNet)."""
    path = osp.join(REPO, 'configs', 'judge', 'judge-res18_synthhands-mono-64x64.py')
    demo = judge_config(DEMO, epochs=2, data_root='/data/x')
    other = judge_config(path, epochs=2, data_root='/data/x')
    assert demo.model.backbone.type == 'UNetEncoder' and other.model.backbone.type == 'ResNet'
    assert other.model.head.decoder == demo.model.head.decoder  # the same heatmaps
    assert other.train_dataloader == demo.train_dataloader  # the same real training crops
    init_default_scope('mmpose')
    model = MODELS.build(other.model)
    model.eval()
    with torch.no_grad():
        assert model(torch.zeros(1, 1, 64, 64), None, mode='tensor').shape == (1, 21, 16, 16)


def test_load_judge_refuses_a_generator(tmp_path):
    with pytest.raises(JudgeError, match='self-grading'):
        load_judge(DEMO, str(tmp_path / 'none.pth'))


# ------------------------------------------------------------------ the cache
def _micro_source() -> Config:
    """The demo config with the micro networks: the source of the tests' cached judge."""
    from mmselfdis.utils.study import apply_options, micro_options

    src = Config.fromfile(DEMO)
    apply_options(src, micro_options((8, 8)))
    return src


def _cached_judge(synth_root):
    """The micro judge cached in ``synth_root``: the first test's, or trained here when that
    test ran in another pytest-xdist worker (each worker has its own ``synth_root``)."""
    return ensure_judge(_micro_source(), synth_root, epochs=1, seed=0)


def test_judge_is_trained_once_cached_next_to_the_data_and_never_overwritten(synth_root):
    src = _micro_source()
    assert find_judge(synth_root) is None
    config, ckpt = ensure_judge(src, synth_root, epochs=1, seed=0)
    assert (config, ckpt) == find_judge(synth_root)
    record = json.load(open(osp.join(synth_root, 'judge', 'judge.json')))
    assert record['epochs'] == 1 and record['seed'] == 0
    assert record['train_ann_file'] == 'annotations/train.json'
    assert record['iterations'] == -(-record['train_samples'] // record['batch_size'])
    judge = load_judge(config, ckpt)
    assert type(judge) is TopdownPoseEstimator and not judge.training
    assert not any(p.requires_grad for p in judge.parameters())
    mtime = os.path.getmtime(ckpt)
    assert ensure_judge(src, synth_root, epochs=1, seed=0) == (config, ckpt)  # reused
    with pytest.raises(JudgeError, match='not overwritten'):
        ensure_judge(src, synth_root, epochs=2, seed=0)
    assert os.path.getmtime(ckpt) == mtime


def test_train_judge_tool_refuses_to_replace_a_judge_and_names_missing_data(synth_root,
                                                                            tmp_path):
    from tests.conftest import run_tool
    _cached_judge(synth_root)
    before = open(osp.join(synth_root, 'judge', 'judge.json')).read()
    # the demo config at full width is another architecture than the cached micro judge
    proc = run_tool('tools/train_judge.py', DEMO, '--data-root', synth_root, '--epochs', '1',
                    check=False)
    assert proc.returncode == 2 and 'not overwritten' in proc.stderr, proc.stderr[-2000:]
    assert open(osp.join(synth_root, 'judge', 'judge.json')).read() == before
    proc = run_tool('tools/train_judge.py', DEMO, '--data-root', tmp_path / 'none', check=False)
    assert proc.returncode == 2 and '--data-root' in proc.stderr, proc.stderr[-2000:]


def test_metric_finds_the_cached_judge_through_the_hook(synth_root, tmp_path):
    _cached_judge(synth_root)
    metric = DisentanglementMetric()
    loop = SimpleNamespace(evaluator=SimpleNamespace(metrics=[metric]),
                           dataloader=SimpleNamespace(dataset=SimpleNamespace(
                               data_root=synth_root)))
    model = build_model(model_cfg('unet', in_channels=1))
    DisentanglementMetricHook().before_test(SimpleNamespace(model=model, test_loop=loop))
    assert metric.model is model
    assert type(metric._get_judge(torch.device('cpu'))) is TopdownPoseEstimator
    # no judge cached there: none (and the metric says so when it computes)
    other = DisentanglementMetric()
    other.bind_model(model, data_root=str(tmp_path))
    assert other._get_judge(torch.device('cpu')) is None
    with pytest.raises(ValueError, match='self-disentanglement model'):
        other.bind_judge(model)


# ------------------------------------------------------------------ not fooled
def _train_pose(model: torch.nn.Module, data: list, steps: int, seed: int) -> None:
    """Fit the pose path (backbone + heatmap head) of ``model`` to ``data``."""
    torch.manual_seed(seed)
    model.train()
    params = [p for n, p in model.named_parameters() if not n.startswith('selfdis.')]
    opt = torch.optim.Adam(params, lr=3e-3)
    for _ in range(steps):
        for batch in data:
            batch = model.data_preprocessor(batch, True)
            losses = TopdownPoseEstimator.loss(model, batch['inputs'], batch['data_samples'])
            opt.zero_grad()
            sum(v for k, v in losses.items() if k.startswith('loss')).backward()
            opt.step()
    model.eval()


def _heatmaps(model: torch.nn.Module, imgs: torch.Tensor) -> torch.Tensor:
    samples = [PoseDataSample() for _ in range(len(imgs))]
    inputs = model.data_preprocessor(dict(inputs=imgs, data_samples=samples), False)['inputs']
    return model.head.forward(model.extract_feat(inputs))


def _coded_mix(model: torch.nn.Module, eps: float, steps: int = 40):
    """mix(x, y) = y + a pattern of at most ``eps`` grey levels that the model reads as x's pose.

    The pattern is found by gradient steps on the model's own pose branch: what
    a cycle-trained generator can learn to do (Chu et al. 2017).
    """
    def mix(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            target = _heatmaps(model, x).detach()
            delta = torch.zeros_like(y, requires_grad=True)
            for _ in range(steps):
                loss = (_heatmaps(model, (y + delta).clamp(0, 255)) - target).pow(2).sum()
                grad, = torch.autograd.grad(loss, delta)
                with torch.no_grad():
                    delta -= 1.0 * grad.sign()
                    delta.clamp_(-eps, eps)
        return (y + delta.detach()).clamp(0, 255).round()

    return mix


@pytest.fixture(scope='module')
def fitted(synth_root):
    """A tiny generator whose pose branch reads the crops, and a judge that does too."""
    import mmselfdis  # noqa: F401
    from mmpose.registry import DATASETS
    init_default_scope('mmpose')
    train_pipeline = VAL_PIPELINE[:-1] + [dict(type='GenerateTarget', encoder=codec()),
                                          dict(type='PackPoseInputs')]
    ds = DATASETS.build(dict(type='SynthHandDataset', data_root=synth_root, data_mode='topdown',
                             ann_file='annotations/train.json', data_prefix=dict(img=''),
                             pipeline=train_pipeline))
    n = 32
    data = [pseudo_collate([ds[i] for i in range(n)])]
    gen = build_model(model_cfg('unet', in_channels=1), seed=0)
    _train_pose(gen, data, steps=150, seed=0)
    judge_cfg = model_cfg('unet', in_channels=1)
    judge_cfg.pop('selfdis')
    judge_cfg['type'] = 'TopdownPoseEstimator'
    torch.manual_seed(1)
    judge = MODELS.build(judge_cfg)
    judge.init_weights()
    _train_pose(judge, data, steps=150, seed=1)
    return gen, judge.requires_grad_(False), batches(synth_dataset(synth_root, 'train'), 16, n)


# The pattern's bound, in grey levels (of 255): faint, and strong enough that the generator's
# branch reads x's pose in it by a wide margin. At 8 the branch's PCK on the mix was 0.30 above
# the floor on one machine and just under it on another (the threshold below is 0.3); at 12,
# 0.43 above, while the judge stays within 0.03 of the floor.
EPS = 12.0


def _score(gen, judge, data, eps: float) -> dict:
    metric = DisentanglementMetric(paired=False)
    metric.bind_model(gen)
    metric.bind_judge(judge)
    with torch.no_grad():
        for batch in data:
            metric.process(batch, [s.to_dict() for s in gen.test_step(batch)])
    gen.mix = _coded_mix(gen, eps)
    try:
        return metric.compute_metrics(metric.results)
    finally:
        del gen.mix


def test_a_mix_that_hides_x_pose_from_everyone_but_the_generator_scores_the_floor(fitted):
    gen, judge, data = fitted
    m = _score(gen, judge, data, eps=EPS)
    # both readers see the poses of real crops (else nothing can be concluded)
    assert m['PCK_x'] > m['PCK_copy_app'] + 0.3, m
    assert m['self_PCK_x'] > m['self_PCK_copy_app'] + 0.3, m
    # the generator's own branch is fooled: it reads x's pose in what is y ...
    assert m['self_PCK_mix'] > m['self_PCK_copy_app'] + 0.3, m
    # ... the judge is not: it scores the mix near the copy-y floor
    assert abs(m['PCK_mix'] - m['PCK_copy_app']) < 0.15, m
    assert m['PCK_mix'] < m['PCK_x'] - 0.3, m
    assert m['judged'] == 1.0


def test_the_same_test_fails_when_the_judge_is_the_generators_own_branch(fitted):
    gen, _, data = fitted
    branch_cfg = model_cfg('unet', in_channels=1)
    branch_cfg.pop('selfdis')
    branch_cfg['type'] = 'TopdownPoseEstimator'
    branch = MODELS.build(branch_cfg)
    own = {k: v for k, v in gen.state_dict().items() if not k.startswith('selfdis.')}
    branch.load_state_dict(own)  # the generator's pose path, passed off as a judge
    m = _score(gen, branch.eval(), data, eps=EPS)
    assert abs(m['PCK_mix'] - m['PCK_copy_app']) > 0.3, m  # fooled: the floor test fails
    np.testing.assert_allclose(m['PCK_mix'], m['self_PCK_mix'])


def test_predict_crop_keypoints_agrees_with_the_estimators_own_test_step(fitted, synth_root):
    _, judge, data = fitted
    batch = data[0]
    out = judge.test_step(copy.deepcopy(batch))
    ours = predict_crop_keypoints(judge, torch.stack(batch['inputs']).float())
    for s, kp in zip(out, ours):
        center = np.asarray(s.metainfo['input_center'])
        scale = np.asarray(s.metainfo['input_scale'])
        size = np.asarray(s.metainfo['input_size'])
        theirs = (np.asarray(s.pred_instances.keypoints)[0] - center + 0.5 * scale) / scale * size
        np.testing.assert_allclose(kp, theirs, atol=1e-3)
