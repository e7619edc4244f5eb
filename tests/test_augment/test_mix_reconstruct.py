"""MixReconstruct: the pipeline transform that adds mixed images (paper §4.5)."""
import pickle

import numpy as np
import pytest
import torch

from mmselfdis.apis import load_generator, mix_images
from mmselfdis.datasets.transforms import MIX_META_KEYS, MixReconstruct
from mmselfdis.utils import CheckpointLoadError
from ._fixtures import MIX_META, crop_steps, heatmap_codec, save_tiny_generator, synth_dataset


def _mix(ckpt, prob=1.0, **kw):
    return dict(type='MixReconstruct', checkpoint=ckpt, prob=prob, pre_transform=crop_steps(),
                **kw)


def _pipeline(ckpt=None, prob=1.0, **kw):
    steps = crop_steps()
    if ckpt is not None:
        steps.append(_mix(ckpt, prob, **kw))
    return steps + [dict(type='GenerateTarget', encoder=heatmap_codec()),
                    dict(type='PackPoseInputs', meta_keys=MIX_META)]


def _items(dataset, n, seed=0):
    np.random.seed(seed)
    return [dataset[i] for i in range(n)]


def test_meta_keys_carry_the_mix_marks_into_the_data_sample(tiny_synth, tiny_generator):
    """Packing with MIX_META_KEYS puts every mark the transform adds into the metainfo."""
    steps = crop_steps() + [_mix(tiny_generator, prob=1.0),
                            dict(type='PackPoseInputs', meta_keys=('img_path', ) + MIX_META_KEYS)]
    meta = synth_dataset(tiny_synth, steps)[0]['data_samples'].metainfo
    assert set(MIX_META_KEYS) <= set(meta)
    assert meta['mixed'] is True and meta['mix_dropped'] is False
    assert meta['mix_source']['img_path'] != meta['img_path']
    assert meta['mix_judge_pck'] is None  # no judge configured


def test_prob_zero_is_identity(tiny_synth, tiny_generator):
    plain = _items(synth_dataset(tiny_synth, _pipeline()), 6)
    zero = _items(synth_dataset(tiny_synth, _pipeline(tiny_generator, prob=0.0)), 6)
    for a, b in zip(plain, zero):
        assert torch.equal(a['inputs'], b['inputs'])
        assert b['data_samples'].metainfo['mixed'] is False
        assert b['data_samples'].metainfo['mix_source'] is None


def test_prob_one_mixes_every_sample_and_keeps_labels(tiny_synth, tiny_generator):
    ds_plain = synth_dataset(tiny_synth, _pipeline())
    ds_mix = synth_dataset(tiny_synth, _pipeline(tiny_generator, prob=1.0))
    plain, mixed = _items(ds_plain, 6), _items(ds_mix, 6)
    for i, (a, b) in enumerate(zip(plain, mixed)):
        meta = b['data_samples'].metainfo
        assert meta['mixed'] is True
        src = meta['mix_source']
        assert src['img_path'] != meta['img_path']
        # default policy 'other_pose': the appearance source shows another pose
        src_idx = next(j for j in range(len(ds_plain))
                       if ds_plain.get_data_info(j)['img_id'] == src['img_id'])
        assert ds_plain.get_data_info(src_idx)['pose_id'] != meta['pose_id']
        assert not torch.equal(a['inputs'], b['inputs']), f'sample {i} was not changed'
        # labels are the pose source's
        np.testing.assert_array_equal(a['data_samples'].gt_instances.keypoints,
                                      b['data_samples'].gt_instances.keypoints)
        assert torch.equal(a['data_samples'].gt_fields.heatmaps,
                           b['data_samples'].gt_fields.heatmaps)


def _mixed_sample(root, ckpt, index=2, seed=3):
    """The crops, sample ``index`` mixed with prob 1, and the crop index of its source."""
    crops = synth_dataset(root, crop_steps())
    np.random.seed(seed)
    out = synth_dataset(root, _pipeline(ckpt, prob=1.0))[index]
    src_id = out['data_samples'].metainfo['mix_source']['img_id']
    src_idx = next(j for j in range(len(crops)) if crops.get_data_info(j)['img_id'] == src_id)
    return crops, out, src_idx


def test_mixed_image_is_mix_images_of_pose_and_source(tiny_synth, tiny_generator):
    """The transform uses THE mixing function on the two crops."""
    crops, out, src_idx = _mixed_sample(tiny_synth, tiny_generator)
    expected = mix_images(load_generator(tiny_generator), crops[2]['img'], crops[src_idx]['img'])
    assert expected.dtype == np.uint8
    np.testing.assert_array_equal(out['inputs'][0].numpy(), expected)
    # the pose source before mixing travels with the sample (MixConsistencyEstimator's x)
    steps = crop_steps() + [_mix(tiny_generator, prob=1.0),
                            dict(type='PackPoseInputs', meta_keys=MIX_META_KEYS)]
    np.random.seed(3)
    meta = synth_dataset(tiny_synth, steps)[2]['data_samples'].metainfo
    np.testing.assert_array_equal(meta['mix_pose_image'], crops[2]['img'])
    steps[-2] = _mix(tiny_generator, prob=0.0)
    assert synth_dataset(tiny_synth, steps)[2]['data_samples'].metainfo['mix_pose_image'] is None


def test_a_label_generator_draws_the_crops_keypoints(tiny_synth, tiny_label_generator):
    """With pose_maps_from='labels' the mix is drawn from the crop's transformed keypoints."""
    crops, out, src_idx = _mixed_sample(tiny_synth, tiny_label_generator)
    gen = load_generator(tiny_label_generator)
    pose, app = crops[2], crops[src_idx]
    expected = mix_images(gen, pose['img'], app['img'], keypoints=pose['transformed_keypoints'],
                          keypoints_visible=pose['keypoints_visible'])
    np.testing.assert_array_equal(out['inputs'][0].numpy(), expected)
    moved = mix_images(gen, pose['img'], app['img'],
                       keypoints=pose['transformed_keypoints'][:, ::-1].copy(),
                       keypoints_visible=pose['keypoints_visible'])
    assert np.abs(moved.astype(float) - expected).mean() > 0.1
    with pytest.raises(ValueError, match="pose_maps_from='labels'"):
        mix_images(gen, pose['img'], app['img'])


def test_self_policy_is_the_generators_reconstruction(tiny_synth, tiny_generator):
    """appearance_policy='self': D_I([p(x), a(x)]), labels unchanged, the sample is its source."""
    crops = synth_dataset(tiny_synth, crop_steps())
    plain = synth_dataset(tiny_synth, _pipeline())[2]
    out = synth_dataset(tiny_synth, _pipeline(tiny_generator, appearance_policy='self'))[2]
    meta = out['data_samples'].metainfo
    assert meta['mixed'] is True and meta['mix_source']['img_path'] == meta['img_path']
    expected = mix_images(load_generator(tiny_generator), crops[2]['img'], crops[2]['img'])
    np.testing.assert_array_equal(out['inputs'][0].numpy(), expected)
    assert not torch.equal(out['inputs'], plain['inputs'])
    np.testing.assert_array_equal(out['data_samples'].gt_instances.keypoints,
                                  plain['data_samples'].gt_instances.keypoints)


@pytest.mark.parametrize('prob', [0.3, 0.5])
def test_fraction_follows_prob(tiny_synth, tiny_generator, prob):
    """Seeded: the share of mixed samples is prob within 0.06 (2 sd at n = 300), so the two
    probabilities cannot be told apart by accident (their shares differ by 0.2)."""
    ds = synth_dataset(tiny_synth, _pipeline(tiny_generator, prob=prob))
    np.random.seed(123)
    flags = [ds[i % len(ds)]['data_samples'].metainfo['mixed'] for i in range(300)]
    assert abs(sum(flags) / 300 - prob) <= 0.06


def test_pickle_before_and_after_first_use(tiny_synth, tiny_generator):
    t = MixReconstruct(**{k: v for k, v in _mix(tiny_generator).items() if k != 'type'})
    fresh = pickle.loads(pickle.dumps(t))
    assert fresh._generator is None
    ds = synth_dataset(tiny_synth, crop_steps())
    results = ds.prepare_data(0)
    np.random.seed(0)
    a = t(dict(results))['img']
    assert t._generator is not None  # loaded on first use
    blob = pickle.dumps(t)
    assert len(blob) < 20000, 'the generator must not be pickled'
    again = pickle.loads(blob)
    assert again._generator is None
    np.random.seed(0)
    b = again(ds.prepare_data(0))['img']  # reloads lazily, same result
    np.testing.assert_array_equal(a, b)


def test_repr_names_settings(tiny_generator):
    t = MixReconstruct(checkpoint=tiny_generator, prob=0.25, pre_transform=crop_steps())
    text = repr(t)
    assert text.startswith('MixReconstruct(') and 'prob=0.25' in text and 'TopdownAffine' in text


def test_keypoint_count_mismatch_is_refused(tiny_synth, tmp_path):
    ckpt = save_tiny_generator(str(tmp_path / 'gen14.pth'), num_keypoints=14)
    ds = synth_dataset(tiny_synth, crop_steps() + [_mix(ckpt)])
    with pytest.raises(ValueError, match='14 keypoints but the dataset .* has 21'):
        ds[0]


@pytest.mark.parametrize('prob', [-0.1, 1.5, True])
def test_prob_outside_unit_interval(tiny_generator, prob):
    with pytest.raises(ValueError, match=r'must be a number in \[0, 1\]'):
        MixReconstruct(checkpoint=tiny_generator, prob=prob, pre_transform=crop_steps())


def test_missing_truncated_and_foreign_checkpoints(tmp_path, tiny_generator):
    with pytest.raises(FileNotFoundError, match='generator checkpoint not found'):
        MixReconstruct(checkpoint=str(tmp_path / 'nope.pth'), pre_transform=crop_steps())
    blob = open(tiny_generator, 'rb').read()
    (tmp_path / 'cut.pth').write_bytes(blob[:len(blob) // 2])
    with pytest.raises(CheckpointLoadError, match='truncated'):
        MixReconstruct(checkpoint=str(tmp_path / 'cut.pth'), pre_transform=crop_steps())
    (tmp_path / 'text.pth').write_text('not a checkpoint')
    with pytest.raises(CheckpointLoadError, match='text.pth'):
        MixReconstruct(checkpoint=str(tmp_path / 'text.pth'), pre_transform=crop_steps())
    torch.save([1, 2], tmp_path / 'list.pth')
    with pytest.raises(CheckpointLoadError, match='not a checkpoint dict'):
        MixReconstruct(checkpoint=str(tmp_path / 'list.pth'), pre_transform=crop_steps())
    no_cfg = save_tiny_generator(str(tmp_path / 'nocfg.pth'), with_cfg=False)
    with pytest.raises(CheckpointLoadError, match='config'):
        MixReconstruct(checkpoint=no_cfg, pre_transform=crop_steps())


def test_placed_before_topdown_affine(tiny_synth, tiny_generator):
    steps = [dict(type='LoadImage'), dict(type='ToMonochrome'), _mix(tiny_generator)]
    with pytest.raises(ValueError, match='after TopdownAffine'):
        synth_dataset(tiny_synth, steps)[0]


def test_crop_size_differs_from_generator(tiny_synth, tiny_generator):
    steps = crop_steps(size=32) + [dict(type='MixReconstruct', checkpoint=tiny_generator,
                                        prob=1.0, pre_transform=crop_steps(size=32))]
    with pytest.raises(ValueError, match=r'input_size=\(64, 64\)'):
        synth_dataset(tiny_synth, steps)[0]


def test_channels_differ_from_generator(tiny_synth, tiny_generator):
    steps = crop_steps(mono=False) + [dict(type='MixReconstruct', checkpoint=tiny_generator,
                                           prob=1.0, pre_transform=crop_steps(mono=False))]
    with pytest.raises(ValueError, match='ToMonochrome'):
        synth_dataset(tiny_synth, steps)[0]


def test_no_dataset_in_results(tiny_synth, tiny_generator):
    ds = synth_dataset(tiny_synth, crop_steps())
    results = ds.prepare_data(0)
    results.pop('dataset')
    t = MixReconstruct(checkpoint=tiny_generator, prob=1.0, pre_transform=crop_steps())
    with pytest.raises(ValueError, match=r'results\["dataset"\] is missing.*appearance_pool'):
        t(results)


def test_dataset_of_one_image(samples_dir, tiny_generator):
    ds = synth_dataset(samples_dir + '/onehand10k', crop_steps(), dataset_type='OneHand10KDataset',
                       ann_file='test_onehand10k.json')
    results = ds.prepare_data(0)

    class One:
        metainfo = ds.metainfo

        def __len__(self):
            return 1

        def get_data_info(self, idx):
            return ds.get_data_info(0)

    results['dataset'] = One()
    t = MixReconstruct(checkpoint=tiny_generator, prob=1.0, pre_transform=crop_steps())
    with pytest.raises(ValueError, match='one sample.*appearance_pool'):
        t(results)


def test_real_samples_and_appearance_pool(samples_dir, tiny_synth, tiny_generator):
    """OneHand10K samples as pose sources, SynthHands test crops as the appearance pool."""
    pool = dict(type='SynthHandDataset', data_root=tiny_synth,
                ann_file='annotations/test.json', data_prefix=dict(img=''), test_mode=True)
    steps = crop_steps() + [dict(type='MixReconstruct', checkpoint=tiny_generator, prob=1.0,
                                 pre_transform=crop_steps(), appearance_pool=pool),
                            dict(type='PackPoseInputs', meta_keys=MIX_META)]
    ds = synth_dataset(samples_dir + '/onehand10k', steps, dataset_type='OneHand10KDataset',
                       ann_file='test_onehand10k.json')
    out = ds[1]
    meta = out['data_samples'].metainfo
    assert meta['mixed'] and '/images/test/' in meta['mix_source']['img_path']
    assert out['inputs'].shape == (1, 64, 64)


def test_uniform_policy_on_real_samples(samples_dir, tiny_generator):
    steps = crop_steps() + [_mix(tiny_generator, appearance_policy='uniform'),
                            dict(type='PackPoseInputs', meta_keys=MIX_META)]
    ds = synth_dataset(samples_dir + '/freihand', steps, dataset_type='FreiHandDataset',
                       ann_file='test_freihand.json')
    for i in range(len(ds)):
        meta = ds[i]['data_samples'].metainfo
        assert meta['mixed'] and meta['mix_source']['img_path'] != meta['img_path']
