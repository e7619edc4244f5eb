"""TruthMix: the renderer's own "pose of x, appearance of y" images, the oracle of mixing."""
import json
import os.path as osp

import cv2
import numpy as np
import pytest
import torch

from mmselfdis.datasets.synthhands import render
from mmselfdis.datasets.transforms import TruthMix
from ._fixtures import STUDY_CFG, crop_steps, heatmap_codec, load_tool, synth_dataset

PACK = dict(type='PackPoseInputs', meta_keys=('id', 'img_path', 'mixed', 'mix_source'))


def _annotations(root):
    with open(osp.join(root, 'annotations', 'train.json')) as f:
        data = json.load(f)
    return {a['image_id']: a for a in data['annotations']}, \
        {im['id']: im for im in data['images']}


def test_rendering_a_sample_in_its_own_appearance_gives_the_file_back(tiny_synth):
    anns, images = _annotations(tiny_synth)
    for img_id in list(anns)[:3]:
        ann = anns[img_id]
        stored = cv2.imread(osp.join(tiny_synth, images[img_id]['file_name']),
                            cv2.IMREAD_UNCHANGED)
        drawn, _, _ = render(ann['pose'], ann['appearance'], size=stored.shape[0], rgb=False)
        np.testing.assert_array_equal(drawn, stored)


def test_truth_mix_draws_x_pose_in_y_appearance_with_x_labels(tiny_synth):
    anns, _ = _annotations(tiny_synth)
    tail = crop_steps()[1:] + [dict(type='GenerateTarget', encoder=heatmap_codec()), PACK]
    plain = synth_dataset(tiny_synth, crop_steps()[:1] + tail)
    mixed = synth_dataset(tiny_synth, crop_steps()[:1] + [dict(type='TruthMix', prob=1.0)] + tail)
    np.random.seed(0)
    for i in range(4):
        a, b = plain[i], mixed[i]
        meta = b['data_samples'].metainfo
        assert meta['mixed'] is True
        y = anns[meta['mix_source']['img_id']]
        x = anns[a['data_samples'].metainfo['id']]
        assert y['pose_id'] != x['pose_id']  # the default policy: another pose's appearance
        assert not torch.equal(a['inputs'], b['inputs'])
        # x's labels, unchanged (keypoints and targets)
        np.testing.assert_array_equal(a['data_samples'].gt_instances.keypoints,
                                      b['data_samples'].gt_instances.keypoints)
        assert torch.equal(a['data_samples'].gt_fields.heatmaps,
                           b['data_samples'].gt_fields.heatmaps)
    # prob 0: the file as it is, marked unmixed
    zero = synth_dataset(tiny_synth, crop_steps()[:1] + [dict(type='TruthMix', prob=0.0)] + tail)
    assert torch.equal(zero[0]['inputs'], plain[0]['inputs'])
    assert zero[0]['data_samples'].metainfo['mixed'] is False


def test_truth_mix_image_equals_the_render(tiny_synth):
    """Right after LoadImage the transform's image is the renderer's, pixel for pixel."""
    anns, _ = _annotations(tiny_synth)
    ds = synth_dataset(tiny_synth, [dict(type='LoadImage'), dict(type='TruthMix', prob=1.0)])
    np.random.seed(1)
    out = ds[2]
    x = anns[out['id']]
    y = anns[out['mix_source']['img_id']]
    drawn, _, _ = render(x['pose'], y['appearance'], size=64, rgb=False)
    assert out['img'].shape == (64, 64, 3)  # LoadImage's colour layout is kept
    for c in range(3):
        np.testing.assert_array_equal(out['img'][..., c], drawn)
    assert not np.array_equal(drawn, render(x['pose'], x['appearance'], size=64, rgb=False)[0])


def test_truth_mix_refuses_data_without_render_parameters_and_a_crop(tiny_synth):
    t = TruthMix(prob=1.0)
    base = dict(img=np.zeros((64, 64, 3), np.uint8), img_path='a.png',
                raw_ann_info=dict(id=1))
    with pytest.raises(ValueError, match="no 'pose' in its annotation.*MixReconstruct"):
        t.transform(dict(base))
    with pytest.raises(ValueError, match='right after LoadImage'):
        t.transform(dict(base, input_size=(64, 64)))
    with pytest.raises(ValueError, match='prob is the share'):
        TruthMix(prob=2.0)


def test_ratio_study_truth_arm_puts_truth_mix_after_load_image():
    from mmengine.config import Config
    study = load_tool('ratio_study')
    arms = study.arm_list([0, 0.25], [], False, truth=[0.25])
    assert [a['name'] for a in arms] == ['r=0', 'r=0.25', 'truth_r=0.25']
    cfg = study.make_arm_config(Config.fromfile(STUDY_CFG), arms[2], None)
    names = [t['type'] for t in cfg.train_dataloader.dataset.pipeline]
    assert names[:2] == ['LoadImage', 'TruthMix'] and 'MixReconstruct' not in names
    assert cfg.train_dataloader.dataset.pipeline[1]['prob'] == 0.25
    assert 'mixed' in cfg.train_dataloader.dataset.pipeline[-1]['meta_keys']
    assert any(h['type'] == 'MixRatioHook' for h in cfg.custom_hooks)
    # the crop pipeline of a generator's MixReconstruct never re-renders
    from mmselfdis.apis import crop_pipeline
    assert 'TruthMix' not in [t['type'] for t in crop_pipeline(
        cfg.train_dataloader.dataset.pipeline)]


def test_truth_mix_factors_take_only_the_named_parts_of_y(tiny_synth):
    anns, _ = _annotations(tiny_synth)
    ds = synth_dataset(tiny_synth, [dict(type='LoadImage'),
                                    dict(type='TruthMix', prob=1.0, factors=['background'])])
    np.random.seed(2)
    out = ds[3]
    x = anns[out['id']]
    y = anns[out['mix_source']['img_id']]
    want = dict(x['appearance'], background=y['appearance']['background'])
    drawn, _, _ = render(x['pose'], want, size=64, rgb=False)
    np.testing.assert_array_equal(out['img'][..., 0], drawn)
    with pytest.raises(ValueError, match='factors must be a non-empty list'):
        TruthMix(factors=['texture'])
    with pytest.raises(ValueError, match='factors must be a non-empty list'):
        TruthMix(factors='skin')


def test_ratio_study_truth_keep_arm_takes_every_other_factor():
    from mmengine.config import Config
    study = load_tool('ratio_study')
    arms = study.arm_list([0], [], False, truth=[0.25], truth_keep=['skin'])
    assert [a['name'] for a in arms] == ['r=0', 'truth-keep-skin_r=0.25']
    cfg = study.make_arm_config(Config.fromfile(STUDY_CFG), arms[1], None)
    step = cfg.train_dataloader.dataset.pipeline[1]
    assert step['type'] == 'TruthMix'
    assert step['factors'] == ['lighting', 'sleeve', 'background', 'camera', 'seed']
