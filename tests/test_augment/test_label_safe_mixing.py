"""Label-safe mixing: MixReconstruct gated by a judge, and MixRatioHook's schedule and counts."""
import logging
import types

import numpy as np
import pytest
import torch

from mmselfdis.datasets.transforms import MIX_META_KEYS, MixReconstruct
from mmselfdis.datasets.transforms import mix_reconstruct as mr
from mmselfdis.engine.hooks import MixRatioHook
from ._fixtures import crop_steps, heatmap_codec, synth_dataset

PACK = dict(type='PackPoseInputs',
            meta_keys=('id', 'img_id', 'img_path', 'input_size', 'pose_id') + MIX_META_KEYS)


def _judge_files(tmp_path, seed=0):
    """A tiny plain TopdownPoseEstimator (untrained) saved as config + checkpoint."""
    import mmselfdis  # noqa: F401
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmpose.registry import MODELS
    from tests.test_models._tiny import backbone_cfg
    backbone, head, _ = backbone_cfg('unet', in_channels=1)
    head.update(loss=dict(type='KeypointMSELoss', use_target_weight=True),
                decoder=heatmap_codec())
    model = dict(type='TopdownPoseEstimator',
                 data_preprocessor=dict(type='PoseDataPreprocessor', mean=[128.0], std=[64.0]),
                 backbone=backbone, head=head, test_cfg=dict(flip_test=False))
    cfg = Config(dict(model=model, default_scope='mmpose'))
    cfg_path = str(tmp_path / 'judge.py')
    cfg.dump(cfg_path)
    init_default_scope('mmpose')
    torch.manual_seed(seed)
    net = MODELS.build(model)
    ckpt = str(tmp_path / 'judge.pth')
    torch.save({'state_dict': net.state_dict()}, ckpt)
    return dict(config=cfg_path, checkpoint=ckpt)


def _pipeline(gen, **kw):
    return crop_steps() + [dict(type='MixReconstruct', checkpoint=gen, prob=1.0,
                                pre_transform=crop_steps(), **kw), PACK]


def test_judge_pck_counts_keypoints_within_the_threshold_of_the_box():
    target = np.array([[[10.0, 10.0], [20.0, 20.0], [30.0, 30.0], [40.0, 40.0]]])
    results = dict(transformed_keypoints=target, keypoints_visible=np.array([[1, 1, 1, 0]]),
                   bbox=np.array([[0.0, 0.0, 100.0, 50.0]]), bbox_scale=np.array([[200.0, 200.0]]),
                   input_size=(64, 64))
    # box side 100 px of the image = 32 crop px; thr 0.2 -> 6.4 crop px
    pred = target[0] + np.array([[6.0, 0.0], [0.0, 6.5], [3.0, 3.0], [90.0, 0.0]])
    assert mr.judge_pck(pred, results, 0.2) == pytest.approx(2 / 3)  # 4th: unlabelled
    assert mr.judge_pck(target[0], results, 0.2) == 1.0
    results['keypoints_visible'] = np.zeros((1, 4))
    assert np.isnan(mr.judge_pck(pred, results, 0.2))


@pytest.mark.parametrize('found, dropped', [(True, False), (False, True)])
def test_a_mix_the_judge_rejects_is_dropped_for_the_real_sample(tiny_synth, tiny_generator,
                                                                tmp_path, monkeypatch, found,
                                                                dropped):
    """The judge's verdict decides: x's keypoints found -> mix kept, else the real crop."""
    judge = _judge_files(tmp_path)
    seen = []

    def fake_judge(model, img, flip_indices=None):
        seen.append(img.copy())
        kps = np.asarray(fake_judge.results['transformed_keypoints'])[0, :, :2]
        return kps if found else kps + 40.0

    real_transform = MixReconstruct.transform

    def spy(self, results):
        fake_judge.results = results
        return real_transform(self, results)

    monkeypatch.setattr(mr, '_crop_keypoints', fake_judge)
    monkeypatch.setattr(MixReconstruct, 'transform', spy)
    plain = synth_dataset(tiny_synth, crop_steps() + [PACK])
    ds = synth_dataset(tiny_synth, _pipeline(tiny_generator, judge=judge, judge_min_pck=0.5))
    np.random.seed(0)
    out = ds[3]
    meta = out['data_samples'].metainfo
    assert meta['mix_dropped'] is dropped and meta['mixed'] is (not dropped)
    assert meta['mix_judge_pck'] == (1.0 if found else 0.0)
    real = plain[3]['inputs']
    assert torch.equal(out['inputs'], real) is dropped
    # the judge looked at the generator's mix, not at the real crop
    assert len(seen) == 1 and not np.array_equal(seen[0], real[0].numpy())
    if dropped:
        assert meta['mix_source'] is None
    np.testing.assert_array_equal(out['data_samples'].gt_instances.keypoints,
                                  plain[3]['data_samples'].gt_instances.keypoints)


def test_mask_mode_unlabels_the_keypoints_the_judge_misses(tiny_synth, tiny_generator,
                                                          tmp_path, monkeypatch):
    """judge_mode='mask': a kept mix loses the labels (weights) of the keypoints not found."""
    judge = _judge_files(tmp_path)
    missed = [1, 5, 9, 20]

    def fake_judge(model, img, flip_indices=None):
        kps = np.array(fake_judge.results['transformed_keypoints'][0, :, :2])
        kps[missed] += 40.0
        return kps

    real_transform = MixReconstruct.transform

    def spy(self, results):
        fake_judge.results = results
        return real_transform(self, results)

    monkeypatch.setattr(mr, '_crop_keypoints', fake_judge)
    monkeypatch.setattr(MixReconstruct, 'transform', spy)
    target = [dict(type='GenerateTarget', encoder=heatmap_codec())]
    plain = synth_dataset(tiny_synth, crop_steps() + target + [PACK])[0]
    masked = synth_dataset(tiny_synth, crop_steps() + [
        dict(type='MixReconstruct', checkpoint=tiny_generator, prob=1.0,
             pre_transform=crop_steps(), judge=judge, judge_min_pck=0.5, judge_mode='mask')
    ] + target + [PACK])[0]
    meta = masked['data_samples'].metainfo
    assert meta['mixed'] is True and meta['mix_judge_pck'] == pytest.approx(17 / 21)
    w_plain = plain['data_samples'].gt_instance_labels.keypoint_weights[0]
    w_mask = masked['data_samples'].gt_instance_labels.keypoint_weights[0]
    assert float(w_plain.min()) > 0  # every keypoint labelled in the real sample
    assert torch.nonzero(w_mask == 0).flatten().tolist() == missed
    assert torch.equal(w_mask[w_mask > 0], w_plain[w_mask > 0])
    with pytest.raises(ValueError, match="judge_mode must be 'drop' or 'mask'"):
        MixReconstruct(checkpoint=tiny_generator, pre_transform=crop_steps(), judge_mode='soft')


def test_a_real_judge_runs_on_the_mix_and_is_never_pickled(tiny_synth, tiny_generator,
                                                           tmp_path):
    import pickle
    judge = _judge_files(tmp_path)
    t = MixReconstruct(checkpoint=tiny_generator, prob=1.0, pre_transform=crop_steps(),
                       judge=judge, judge_min_pck=1.0)
    ds = synth_dataset(tiny_synth, crop_steps())
    np.random.seed(1)
    results = t(ds.prepare_data(2))
    pck = results['mix_judge_pck']
    assert 0.0 <= pck < 1.0  # an untrained judge misses keypoints: with min 1.0 it drops
    assert results['mix_dropped'] is True and results['mixed'] is False
    assert t._judge is not None
    assert pickle.loads(pickle.dumps(t))._judge is None


def test_judge_options_are_checked(tiny_generator, tmp_path):
    with pytest.raises(ValueError, match=r'judge must be dict\(config=..., checkpoint=...\)'):
        MixReconstruct(checkpoint=tiny_generator, pre_transform=crop_steps(),
                       judge=dict(config='x.py'))
    with pytest.raises(FileNotFoundError, match='judge checkpoint not found'):
        MixReconstruct(checkpoint=tiny_generator, pre_transform=crop_steps(),
                       judge=dict(config='x.py', checkpoint=str(tmp_path / 'none.pth')))
    with pytest.raises(ValueError, match=r'judge_min_pck must be a number in \[0, 1\]'):
        MixReconstruct(checkpoint=tiny_generator, pre_transform=crop_steps(), judge_min_pck=2)


# ------------------------------------------------------------------ MixRatioHook
def _stub(prob):
    """A stand-in transform that MixRatioHook finds by its class name."""
    t = type('MixReconstruct', (), {})()
    t.prob = prob
    return t


class _Loader:
    def __init__(self, transforms, num_workers=0, persistent=False):
        self.dataset = types.SimpleNamespace(
            dataset=types.SimpleNamespace(pipeline=types.SimpleNamespace(transforms=transforms)))
        self.num_workers = num_workers
        self.persistent_workers = persistent
        self._iterator = 'old workers'


class _Runner:
    def __init__(self, loader, max_epochs=6, max_iters=60):
        from mmengine.logging import MessageHub
        self.train_dataloader = loader
        self.max_epochs, self.max_iters = max_epochs, max_iters
        self.epoch, self.iter = 0, 0
        self.records = []
        self.logger = logging.getLogger('mix_ratio_hook_test')
        self.logger.info = lambda msg: self.records.append(msg)
        self.logger.warning = lambda msg: self.records.append('WARNING ' + msg)
        self.message_hub = MessageHub.get_instance('mix_ratio_hook_test')
        self.train_loop = types.SimpleNamespace()


def test_schedule_warm_up_mixing_and_real_only_phase():
    a, b = _stub(0.5), _stub(0.25)
    runner = _Runner(_Loader([a, b], num_workers=2, persistent=True), max_epochs=6)
    hook = MixRatioHook(start=2, real_only_last=1)
    hook.before_train(runner)
    probs = []
    for epoch in range(6):
        runner.epoch = epoch
        hook.before_train_epoch(runner)
        probs.append((a.prob, b.prob))
    assert probs == [(0, 0), (0, 0), (0.5, 0.25), (0.5, 0.25), (0.5, 0.25), (0, 0)]
    # persistent workers hold a copy of the pipeline: restarted at each change
    assert runner.train_dataloader._iterator is None
    assert sum('mixing prob' in r for r in runner.records) == 3


def test_schedule_by_iteration_sets_the_next_batch():
    t = _stub(0.5)
    runner = _Runner(_Loader([t]), max_iters=10)
    hook = MixRatioHook(start=3, real_only_last=2, by_epoch=False)
    hook.before_train(runner)
    seen = [t.prob]  # batch 0
    for it in range(9):
        runner.iter = it
        hook.before_train_iter(runner, it)
        seen.append(t.prob)  # batch it + 1
    assert seen == [0, 0, 0, 0.5, 0.5, 0.5, 0.5, 0.5, 0, 0]


def test_schedule_errors_name_the_fix():
    with pytest.raises(ValueError, match=r'no MixReconstruct \(or TruthMix\); add the transform'):
        MixRatioHook().before_train(_Runner(_Loader([])))
    with pytest.raises(ValueError, match='leave no epoch with mixing in a run of 3 epochs'):
        MixRatioHook(start=2, real_only_last=1).before_train(_Runner(_Loader([_stub(.5)]), 3))
    with pytest.raises(ValueError, match='start must be an integer >= 0'):
        MixRatioHook(start=-1)


def test_counts_mixes_and_drops_from_the_data_samples():
    from mmpose.structures import PoseDataSample
    runner = _Runner(_Loader([_stub(0.5)]))
    hook = MixRatioHook(log_interval=2)
    hook.before_train(runner)
    flags = [(True, False), (False, True), (False, False), (True, False)]
    for it, batch in enumerate([flags[:2], flags[2:]]):
        samples = []
        for mixed, dropped in batch:
            s = PoseDataSample()
            s.set_metainfo(dict(mixed=mixed, mix_dropped=dropped))
            samples.append(s)
        runner.iter = it
        hook.after_train_iter(runner, it, dict(data_samples=samples))
    assert hook.totals == dict(samples=4, mixed=2, dropped=1)
    hook.after_train_epoch(runner)
    line = runner.records[-1]
    assert line.startswith('MixRatioHook (epoch 0): 4 samples, 2 mixed, 1 mixes dropped by the '
                           'judge (33.3 % of the mixes made), 2 real')
    assert any(r.startswith('MixRatioHook (last 2 iterations)') for r in runner.records)
    # without the mix marks in the packed samples it says how to add them
    hook.after_train_iter(runner, 3, dict(data_samples=[PoseDataSample()]))
    assert 'MIX_META_KEYS' in runner.records[-1]


def test_judged_config_gates_mixes_and_schedules_them(tiny_synth, tiny_generator, tmp_path):
    """configs/augment/mixreconstruct-judged_*: a judge that drops, marks packed, the hook."""
    import os.path as osp

    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmpose.registry import DATASETS
    from tests.conftest import REPO
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'augment',
                                   'mixreconstruct-judged_unet_synthhands-mono-64x64.py'))
    assert dict(type='MixRatioHook', start=1, real_only_last=1) in cfg.custom_hooks
    ds_cfg = cfg.train_dataloader.dataset
    ds_cfg.data_root = tiny_synth + '/'
    mix = ds_cfg.pipeline[4]
    assert mix.type == 'MixReconstruct' and mix.judge_min_pck == 0.5
    mix.update(checkpoint=tiny_generator, prob=1.0, judge=_judge_files(tmp_path),
               judge_min_pck=1.0)  # an untrained judge never finds every keypoint: drops
    init_default_scope('mmpose')
    meta = DATASETS.build(ds_cfg)[0]['data_samples'].metainfo
    assert meta['mix_dropped'] is True and meta['mixed'] is False
    assert 0 <= meta['mix_judge_pck'] < 1
