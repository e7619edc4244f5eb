"""The label-exact conventional arms: AmplitudeMix (FACT) and MixStyle."""
import numpy as np
import pytest
import torch

from mmselfdis.datasets.transforms import AmplitudeMix
from mmselfdis.datasets.transforms.amplitude_mix import amplitude_mix
from mmselfdis.models.backbones import MixStyle, MixStyleBackbone
from ._fixtures import crop_steps, heatmap_codec, synth_dataset


def _images(seed=0, size=32):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:size, :size]
    a = 128 + 40 * np.sin(x / 3.0) + 20 * np.cos(y / 5.0) + rng.normal(0, 3, (size, size))
    b = 120 + 50 * np.cos((x + y) / 2.0) + rng.normal(0, 8, (size, size))
    return np.clip(a, 0, 255).astype(np.uint8), np.clip(b, 0, 255).astype(np.uint8)


def _amp(img):
    return np.abs(np.fft.fft2(img.astype(np.float64)))


def test_amplitude_mix_keeps_the_phase_and_takes_the_amplitude():
    img, other = _images()
    np.testing.assert_array_equal(amplitude_mix(img, other, 0.0), img)  # lam 0: unchanged
    out = amplitude_mix(img, other, 1.0)
    # lam 1, whole spectrum: the amplitude is other's (up to 8-bit rounding) ...
    err_other = np.abs(_amp(out) - _amp(other)).mean()
    err_img = np.abs(_amp(out) - _amp(img)).mean()
    assert err_other < 0.05 * err_img
    # ... and the phase img's (where the amplitude is well above the rounding noise)
    f_out, f_img, f_other = (np.fft.fft2(a.astype(np.float64)) for a in (out, img, other))
    strong = np.abs(f_out) > 200
    assert strong.sum() >= 20

    def phase_gap(f):
        return np.abs(np.angle(f_out[strong] / f[strong]))

    assert np.median(phase_gap(f_img)) < 0.05 and np.median(phase_gap(f_other)) > 0.3
    # lam 0.5 lies in between
    half = _amp(amplitude_mix(img, other, 0.5))
    assert np.abs(half - _amp(img)).mean() < err_img


def test_amplitude_mix_ratio_touches_only_the_low_frequencies():
    img, other = _images(1)
    out = amplitude_mix(img, other, 1.0, ratio=0.04)  # a 6x6 window of a 32x32 spectrum
    shifted = np.fft.fftshift(_amp(out) - _amp(img))
    mask = np.zeros(shifted.shape, bool)
    mask[13:19, 13:19] = True
    assert np.abs(shifted[mask]).mean() > 20 * np.abs(shifted[~mask]).mean()


def test_amplitude_mix_transform_keeps_labels_and_draws_another_sample(tiny_synth):
    steps = crop_steps()
    pack = dict(type='PackPoseInputs', meta_keys=('id', 'img_path', 'amplitude_mixed'))
    plain = synth_dataset(tiny_synth, steps + [dict(type='GenerateTarget',
                                                    encoder=heatmap_codec()), pack])
    mixed = synth_dataset(tiny_synth, steps + [
        dict(type='AmplitudeMix', prob=1.0, pre_transform=crop_steps()),
        dict(type='GenerateTarget', encoder=heatmap_codec()), pack])
    np.random.seed(0)
    for i in range(4):
        a, b = plain[i], mixed[i]
        assert b['data_samples'].metainfo['amplitude_mixed'] is True
        assert not torch.equal(a['inputs'], b['inputs'])
        np.testing.assert_array_equal(a['data_samples'].gt_instances.keypoints,
                                      b['data_samples'].gt_instances.keypoints)
        assert torch.equal(a['data_samples'].gt_fields.heatmaps,
                           b['data_samples'].gt_fields.heatmaps)
    zero = synth_dataset(tiny_synth, steps + [
        dict(type='AmplitudeMix', prob=0.0, pre_transform=crop_steps()), pack])
    assert torch.equal(zero[0]['inputs'], synth_dataset(tiny_synth, steps + [pack])[0]['inputs'])


def test_amplitude_mix_errors():
    with pytest.raises(ValueError, match=r'alpha must be a number in \(0, 1\]'):
        AmplitudeMix(pre_transform=crop_steps(), alpha=0)
    with pytest.raises(ValueError, match='pre_transform is needed'):
        AmplitudeMix()
    t = AmplitudeMix(prob=1.0, pre_transform=crop_steps())
    with pytest.raises(ValueError, match='after TopdownAffine'):
        t(dict(img=np.zeros((8, 8), np.uint8)))


def _stats(x):
    return x.mean(dim=(2, 3)), x.std(dim=(2, 3))


def test_mixstyle_mixes_instance_statistics_between_samples():
    torch.manual_seed(0)
    x = torch.randn(6, 4, 8, 8) * torch.rand(6, 4, 1, 1) * 3 + torch.randn(6, 4, 1, 1) * 2
    ms = MixStyle(p=1.0, alpha=0.3)
    ms.eval()
    assert torch.equal(ms(x), x)  # identity in evaluation
    ms.train()
    out = ms(x)
    mu, sd = _stats(x)
    mu_o, sd_o = _stats(out)
    for i in range(6):
        # the layout stays: per channel an increasing affine map of the input
        for c in range(4):
            r = np.corrcoef(x[i, c].flatten(), out[i, c].flatten())[0, 1]
            assert r > 0.9999
        if torch.allclose(mu_o[i], mu[i], atol=1e-4) and torch.allclose(sd_o[i], sd[i],
                                                                        atol=1e-3):
            continue  # its own partner (the permutation's fixed point) or lam = 1
        # its statistics are a convex mix of its own and ONE partner's, with one weight
        fits = []
        for j in range(6):
            den = mu[i] - mu[j]
            if j == i or den.abs().min() < 1e-3:
                continue
            lam = ((mu_o[i] - mu[j]) / den).mean()
            if -1e-4 <= lam <= 1 + 1e-4 and torch.allclose(lam * mu[i] + (1 - lam) * mu[j],
                                                          mu_o[i], atol=1e-4) and \
                    torch.allclose(lam * sd[i] + (1 - lam) * sd[j], sd_o[i], atol=1e-3):
                fits.append(j)
        assert len(fits) == 1, (i, fits)
    assert not torch.allclose(out, x)
    assert torch.equal(MixStyle(p=0.0).train()(x), x)


def test_mixstyle_backbone_mixes_in_training_only():
    import mmselfdis  # noqa: F401
    from mmengine.registry import init_default_scope

    from mmpose.registry import MODELS
    init_default_scope('mmpose')
    inner = dict(type='UNetEncoder', in_channels=1, base_channels=4, depth=3)
    torch.manual_seed(0)
    plain = MODELS.build(inner)
    wrapped = MODELS.build(dict(type='MixStyleBackbone', backbone=inner,
                                after=('stages.0', 'stages.1'), mixstyle=dict(p=1.0)))
    wrapped.backbone.load_state_dict(plain.state_dict())
    x = torch.randn(4, 1, 32, 32)
    plain.eval(), wrapped.eval()
    assert torch.equal(wrapped(x)[0], plain(x)[0])
    plain.train(), wrapped.train()
    assert not torch.allclose(wrapped(x)[0], plain(x)[0])
    with pytest.raises(ValueError, match=r"no module \['layer1'\]; choose among"):
        MODELS.build(dict(type='MixStyleBackbone', backbone=inner, after=('layer1', )))


def test_conventional_arm_configs_build(tiny_synth):
    """configs/augment/{amplitude,mixstyle}_*: the augmentation is where the config says."""
    import os.path as osp

    import mmselfdis  # noqa: F401
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmpose.registry import DATASETS, MODELS
    from tests.conftest import REPO

    def cfg(name):
        return Config.fromfile(osp.join(REPO, 'configs', 'augment',
                                        f'{name}_unet_synthhands-mono-64x64.py'))

    init_default_scope('mmpose')
    amp = cfg('amplitude').train_dataloader.dataset
    amp.data_root = tiny_synth + '/'
    amp.pipeline[4].prob = 1.0
    amp.pipeline[-1]['meta_keys'] = ('img_path', 'amplitude_mixed')
    assert DATASETS.build(amp)[0]['data_samples'].metainfo['amplitude_mixed'] is True
    ms = cfg('mixstyle')
    model = MODELS.build(ms.model)
    assert isinstance(model.backbone, MixStyleBackbone)
    assert type(model.backbone.backbone).__name__ == 'UNetEncoder'
    assert model.backbone.after == ('stages.0', 'stages.1')
