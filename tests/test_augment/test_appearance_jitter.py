"""AppearanceJitter: the conventional appearance augmentation arm (1 and 3 channels)."""
import numpy as np
import pytest

from mmselfdis.datasets.transforms import AppearanceJitter
from ._fixtures import crop_steps, synth_dataset

OFF = dict(brightness_prob=0, contrast_prob=0, gamma_prob=0, blur_prob=0, noise_prob=0,
           patch_prob=0, background_prob=0)


def _sample(root, mono=True, idx=0):
    ds = synth_dataset(root, crop_steps(mono=mono))
    return ds.prepare_data(idx)


@pytest.mark.parametrize('mono', [True, False])
def test_defaults_change_image_keep_labels(tiny_synth, mono):
    np.random.seed(0)
    t = AppearanceJitter()
    changed = 0
    for idx in range(8):
        r = _sample(tiny_synth, mono, idx)
        img, kpts = r['img'].copy(), r['transformed_keypoints'].copy()
        out = t(r)
        assert out['img'].shape == img.shape and out['img'].dtype == np.uint8
        np.testing.assert_array_equal(out['transformed_keypoints'], kpts)
        changed += int(not np.array_equal(out['img'], img))
    assert changed >= 6


def test_all_steps_off_is_identity(tiny_synth):
    r = _sample(tiny_synth)
    img = r['img'].copy()
    np.testing.assert_array_equal(AppearanceJitter(**OFF)(r)['img'], img)


@pytest.mark.parametrize('mono', [True, False])
def test_patches_avoid_the_hand(tiny_synth, mono):
    t = AppearanceJitter(**dict(OFF, patch_prob=1.0, max_patches=3, patch_size=(0.2, 0.3)))
    np.random.seed(1)
    pasted = 0
    for idx in range(10):
        r = _sample(tiny_synth, mono, idx)
        img = r['img'].copy()
        hand = t._hand_mask(r['transformed_keypoints'][0], 64, 64)
        out = t(r)['img']
        diff = np.any((out != img).reshape(64, 64, -1), axis=2)
        pasted += int(diff.any())
        assert not (diff & hand).any(), f'sample {idx}: a patch covers the hand'
    assert pasted >= 7


def test_background_keeps_the_hand_region(tiny_synth):
    t = AppearanceJitter(**dict(OFF, background_prob=1.0, hand_margin=0.1))
    np.random.seed(2)
    r = _sample(tiny_synth, True, 3)
    img = r['img'].copy()
    mask = t._hand_mask(r['transformed_keypoints'][0], 64, 64)
    out = t(r)['img']
    np.testing.assert_array_equal(out[mask], img[mask])
    assert not np.array_equal(out[~mask], img[~mask])


def test_without_dataset_cut_paste_is_skipped(tiny_synth):
    r = _sample(tiny_synth)
    r.pop('dataset')
    img = r['img'].copy()
    out = AppearanceJitter(**dict(OFF, patch_prob=1.0, background_prob=1.0))(r)
    np.testing.assert_array_equal(out['img'], img)


def test_bad_arguments_and_repr():
    with pytest.raises(ValueError, match='blur_prob must be a probability'):
        AppearanceJitter(blur_prob=2)
    with pytest.raises(ValueError, match='low <= high'):
        AppearanceJitter(contrast_range=(1.5, 0.5))
    assert 'brightness_delta=32.0' in repr(AppearanceJitter())
