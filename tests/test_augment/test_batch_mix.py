"""BatchMixReconstruct: the same mixing as a PoseDataPreprocessor batch augment."""
import copy
import pickle

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope

from mmpose.registry import MODELS
from mmselfdis.apis import load_generator, mix_images
from tests.test_models._tiny import make_batch, model_cfg

MEAN, STD = [100.0], [50.0]


def _pose_model(ckpt, prob=1.0, mean=MEAN, std=STD):
    cfg = model_cfg('unet', in_channels=1)
    cfg.pop('selfdis')
    cfg['type'] = 'TopdownPoseEstimator'
    cfg['data_preprocessor'] = dict(
        type='PoseDataPreprocessor', mean=mean, std=std,
        batch_augments=None if ckpt is None else [
            dict(type='BatchMixReconstruct', checkpoint=ckpt, prob=prob, mean=mean, std=std)])
    init_default_scope('mmpose')
    torch.manual_seed(0)
    return MODELS.build(cfg)


def _data(n=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    _, samples = make_batch(n, channels=1, seed=seed)
    for i, s in enumerate(samples):
        s.set_metainfo(dict(img_id=100 + i, img_path=f'img{i}.png'))
    imgs = [torch.randint(0, 256, (1, 64, 64), generator=g, dtype=torch.uint8) for _ in range(n)]
    return dict(inputs=imgs, data_samples=samples)


def test_generator_stays_out_of_the_trained_model(tiny_generator):
    plain, model = _pose_model(None), _pose_model(tiny_generator)
    model.data_preprocessor(_data(), training=True)  # loads the generator
    aug = model.data_preprocessor.batch_augments[0]
    assert aug._generator is not None
    assert set(model.state_dict()) == set(plain.state_dict())
    gen_params = {id(p) for p in aug._generator.parameters()}
    assert not gen_params & {id(p) for p in model.parameters()}
    optim = torch.optim.Adam(model.parameters())
    assert not gen_params & {id(p) for g in optim.param_groups for p in g['params']}
    model.train()
    assert not aug._generator.training  # model.train() does not reach it
    assert pickle.loads(pickle.dumps(aug))._generator is None
    assert copy.deepcopy(model).data_preprocessor.batch_augments[0]._generator is None


def test_prob_one_mixes_all_with_mix_images(tiny_generator):
    model = _pose_model(tiny_generator, prob=1.0)
    data = _data()
    torch.manual_seed(1)
    out = model.data_preprocessor(copy.deepcopy(data), training=True)
    ref = model.data_preprocessor(copy.deepcopy(data), training=False)  # no augments
    gen = load_generator(tiny_generator)
    img = ref['inputs'] * STD[0] + MEAN[0]
    for i, sample in enumerate(out['data_samples']):
        meta = sample.metainfo
        assert meta['mixed'] is True
        j = meta['mix_source']['batch_index']
        assert j != i and meta['mix_source']['img_id'] == 100 + j
        expected = (mix_images(gen, img[i:i + 1].round(), img[j:j + 1].round()).float()
                    - MEAN[0]) / STD[0]
        # one grey level: the batch of 4 and the batch of 1 may round a pixel differently
        torch.testing.assert_close(out['inputs'][i:i + 1], expected, atol=1 / STD[0] + 1e-4,
                                   rtol=0)
        assert (out['inputs'][i:i + 1] - expected).abs().gt(1e-4).float().mean() < 0.01


def test_changes_exactly_the_chosen_samples(tiny_generator):
    model = _pose_model(tiny_generator, prob=0.5)
    data = _data(n=8)
    ref = model.data_preprocessor(copy.deepcopy(data), training=False)['inputs']
    seen = set()
    for seed in range(4):
        torch.manual_seed(seed)
        out = model.data_preprocessor(copy.deepcopy(data), training=True)
        for i, sample in enumerate(out['data_samples']):
            changed = not torch.equal(out['inputs'][i], ref[i])
            assert changed == sample.metainfo['mixed'], f'seed {seed} sample {i}'
            seen.add(changed)
    assert seen == {True, False}


def test_prob_zero_and_eval_leave_inputs(tiny_generator):
    model = _pose_model(tiny_generator, prob=0.0)
    data = _data()
    out = model.data_preprocessor(copy.deepcopy(data), training=True)
    ref = model.data_preprocessor(copy.deepcopy(data), training=False)
    assert torch.equal(out['inputs'], ref['inputs'])
    assert not any(s.metainfo['mixed'] for s in out['data_samples'])


def test_keypoint_mismatch_and_bad_args(tiny_generator, tmp_path):
    from ._fixtures import save_tiny_generator
    ckpt = save_tiny_generator(str(tmp_path / 'g14.pth'), num_keypoints=14)
    model = _pose_model(ckpt, prob=1.0)
    with pytest.raises(ValueError, match='14 keypoints but the batch has 21'):
        model.data_preprocessor(_data(), training=True)
    with pytest.raises(ValueError, match=r'\[0, 1\]'):
        _pose_model(tiny_generator, prob=2.0)
    with pytest.raises(FileNotFoundError, match='generator checkpoint not found'):
        _pose_model(str(tmp_path / 'missing.pth'))


def test_default_normalisation_is_the_generators(tiny_generator):
    """Without mean/std the generator's own preprocessor (128/64 in the tiny one) is assumed."""
    model = _pose_model(tiny_generator, mean=[128.0], std=[64.0])
    aug = model.data_preprocessor.batch_augments[0]
    aug.mean = aug.std = None
    data = _data()
    torch.manual_seed(0)
    out = model.data_preprocessor(copy.deepcopy(data), training=True)
    assert all(s.metainfo['mixed'] for s in out['data_samples'])
    raw = out['inputs'] * 64.0 + 128.0
    np.testing.assert_allclose(raw.numpy(), raw.round().numpy(), atol=1e-3)  # uint8 levels


def _augmented(ckpt, data):
    """The batch augmented (seed 1) and the plain batch in image space, and the generator."""
    model = _pose_model(ckpt, prob=1.0)
    torch.manual_seed(1)
    out = model.data_preprocessor(copy.deepcopy(data), training=True)
    ref = model.data_preprocessor(copy.deepcopy(data), training=False)
    return out, ref['inputs'] * STD[0] + MEAN[0], load_generator(ckpt)


def _mixed(gen, img, i, j, **kwargs):
    """mix_images of samples i (pose) and j (appearance), normalised like the batch."""
    return (mix_images(gen, img[i:i + 1].round(), img[j:j + 1].round(), **kwargs).float() -
            MEAN[0]) / STD[0]


def test_a_label_generator_draws_the_samples_target_heatmaps(tiny_label_generator):
    out, img, gen = _augmented(tiny_label_generator, _data())
    for i, sample in enumerate(out['data_samples']):
        j = sample.metainfo['mix_source']['batch_index']
        maps = sample.gt_fields.heatmaps[None]
        torch.testing.assert_close(out['inputs'][i:i + 1], _mixed(gen, img, i, j, pose_maps=maps),
                                   atol=1 / STD[0] + 1e-4, rtol=0)
        other = _mixed(gen, img, i, j, pose_maps=maps.flip(-1))
        assert (out['inputs'][i:i + 1] - other).abs().mean() > 1e-3


def test_a_background_generator_cuts_the_appearance_samples_labelled_hand(
        tiny_background_generator):
    """selfdis.background: each mix is painted over its appearance sample, whose hand is cut
    out where that sample's crop keypoints are (not where the generator's pose model guesses)."""
    data = _data()
    g = torch.Generator().manual_seed(3)
    vis = np.ones((1, 21), np.float32)
    for s in data['data_samples']:
        s.gt_instances.transformed_keypoints = (torch.rand(1, 21, 2, generator=g) * 40 +
                                                12).numpy()
        s.gt_instances.keypoints_visible = vis
    out, img, gen = _augmented(tiny_background_generator, data)
    for i, sample in enumerate(out['data_samples']):
        j = sample.metainfo['mix_source']['batch_index']
        maps = sample.gt_fields.heatmaps[None]
        app_kpts = data['data_samples'][j].gt_instances.transformed_keypoints
        expected = _mixed(gen, img, i, j, pose_maps=maps, app_keypoints=app_kpts,
                          app_keypoints_visible=vis)
        torch.testing.assert_close(out['inputs'][i:i + 1], expected, atol=1 / STD[0] + 1e-4,
                                   rtol=0)
        guessed = _mixed(gen, img, i, j, pose_maps=maps)
        assert (out['inputs'][i:i + 1] - guessed).abs().mean() > 1e-3
