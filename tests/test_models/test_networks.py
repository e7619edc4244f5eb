"""Sub-networks and losses built with plain arguments (no registry needed)."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mmselfdis.models import (AppearanceEncoder, FeatureL1Loss, GANLoss, ImageDecoder,
                              PatchDiscriminator, UNetEncoder, frozen_call)
from mmselfdis.models.losses import FeatureMatchingLoss, ImageL1Loss, KeypointL1Loss
from mmselfdis.models.networks import (HAND21_LIMBS, LimbMaps, PoseAppearanceNorm,
                                      PoseModulatedDecoder, ResizeConv2d, soft_argmax)
from mmselfdis.models.networks.pose_maps import GAUSSIAN_CUT, gaussian


def test_appearance_encoder_downsamples_to_the_pose_size():
    enc = AppearanceEncoder(16, 8, num_downsamples=2, base_channels=4, max_channels=8)
    assert enc(torch.randn(2, 16, 32, 24)).shape == (2, 8, 8, 6)
    assert AppearanceEncoder(3, 5, 0)(torch.randn(1, 3, 7, 7)).shape == (1, 5, 7, 7)
    assert any(isinstance(m, nn.MaxPool2d) for m in enc.modules())


def test_appearance_encoder_global_code_is_the_same_at_every_position():
    torch.manual_seed(0)
    spatial = AppearanceEncoder(1, 6, num_downsamples=2, base_channels=4)
    pooled = AppearanceEncoder(1, 6, num_downsamples=2, base_channels=4, pool_grid=1)
    pooled.load_state_dict(spatial.state_dict())
    x = torch.randn(2, 1, 16, 16)
    a, g = spatial(x), pooled(x)
    assert g.shape == a.shape == (2, 6, 4, 4)
    assert a.std(dim=(2, 3)).min() > 0  # the spatial code varies over positions
    torch.testing.assert_close(g, a.mean(dim=(2, 3), keepdim=True).expand_as(a))


def test_appearance_encoder_pool_grid_is_constant_within_each_cell():
    torch.manual_seed(0)
    spatial = AppearanceEncoder(1, 6, num_downsamples=2, base_channels=4)
    grid = AppearanceEncoder(1, 6, num_downsamples=2, base_channels=4, pool_grid=2)
    grid.load_state_dict(spatial.state_dict())
    x = torch.randn(2, 1, 32, 32)
    a, g = spatial(x), grid(x)
    assert g.shape == a.shape == (2, 6, 8, 8)
    for i in (0, 4):
        for j in (0, 4):
            cell = a[:, :, i:i + 4, j:j + 4].mean(dim=(2, 3), keepdim=True)
            torch.testing.assert_close(g[:, :, i:i + 4, j:j + 4], cell.expand(2, 6, 4, 4))
    assert (g[:, :, 0, 0] - g[:, :, 0, 4]).abs().max() > 0  # cells differ
    one = AppearanceEncoder(1, 6, num_downsamples=2, base_channels=4, pool_grid=1)
    one.load_state_dict(spatial.state_dict())
    torch.testing.assert_close(one(x), a.mean(dim=(2, 3), keepdim=True).expand_as(a))


def test_bilinear_grid_is_a_smooth_field_through_the_cell_means():
    torch.manual_seed(0)
    grid = AppearanceEncoder(1, 6, num_downsamples=2, base_channels=4, pool_grid=2,
                             grid_upsample='bilinear')
    x = torch.randn(2, 1, 32, 32)
    g = grid(x)
    nearest = AppearanceEncoder(1, 6, num_downsamples=2, base_channels=4, pool_grid=2)
    nearest.load_state_dict(grid.state_dict())
    cells = nearest(x)[:, :, ::4, ::4]  # the 2x2 cell means
    torch.testing.assert_close(g, torch.nn.functional.interpolate(
        cells, size=(8, 8), mode='bilinear', align_corners=False))
    # no step at the cell border: neighbours across it differ less than the two cells
    step = (g[:, :, 3, 0] - g[:, :, 4, 0]).abs()
    assert bool((step < (cells[:, :, 0, 0] - cells[:, :, 1, 0]).abs() + 1e-6).all())
    with pytest.raises(ValueError, match='grid_upsample'):
        AppearanceEncoder(1, 6, num_downsamples=2, pool_grid=2, grid_upsample='cubic')


def test_modulated_decoder_resizes_the_code_as_told():
    torch.manual_seed(0)
    kw = dict(pose_map_channels=3, app_channels=4, out_channels=1, num_upsamples=2,
              base_channels=4)
    smooth = PoseModulatedDecoder(**kw, app_resize='bilinear')
    for name, m in smooth.named_modules():
        if name.endswith('app_affine'):  # zero at init: let the code act
            torch.nn.init.normal_(m.weight)
    block = PoseModulatedDecoder(**kw)
    block.load_state_dict(smooth.state_dict())
    maps, app = torch.rand(2, 3, 4, 4), torch.randn(2, 4, 4, 4)
    assert smooth(maps, app).shape == block(maps, app).shape == (2, 1, 16, 16)
    assert not torch.allclose(smooth(maps, app), block(maps, app))
    const = app.mean(dim=(2, 3), keepdim=True).expand_as(app)  # a constant code: same either way
    torch.testing.assert_close(smooth(maps, const), block(maps, const))
    with pytest.raises(ValueError, match='app_resize'):
        PoseModulatedDecoder(**kw, app_resize='area')


@pytest.mark.parametrize('kwargs, message', [
    (dict(pool_grid=0), 'pool_grid must be a positive integer'),
    (dict(pool_grid=2.5), 'pool_grid must be a positive integer'),
    (dict(pool_grid=True), 'pool_grid must be a positive integer'),
])
def test_appearance_encoder_pool_options_are_checked(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AppearanceEncoder(1, 6, num_downsamples=2, **kwargs)


def test_appearance_encoder_pool_grid_larger_than_the_code_is_refused():
    enc = AppearanceEncoder(1, 6, num_downsamples=2, base_channels=4, pool_grid=8)
    with pytest.raises(ValueError, match='use a smaller pool_grid'):
        enc(torch.randn(1, 1, 16, 16))


def test_image_decoder_uses_nearest_upsampling_and_no_transposed_convs():
    dec = ImageDecoder(12, 1, num_upsamples=3, base_channels=4, norm_cfg=None)
    assert dec(torch.randn(2, 12, 4, 5)).shape == (2, 1, 32, 40)
    ups = [m for m in dec.modules() if isinstance(m, ResizeConv2d)]
    assert len(ups) == 3
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in dec.modules())


def _upsample_then_conv(conv: ResizeConv2d, x: torch.Tensor) -> torch.Tensor:
    """The literal ``conv3x3(upsample_nearest(x, 2))`` with ``conv``'s parameters."""
    up = F.interpolate(x, scale_factor=2, mode='nearest')
    return F.conv2d(up, conv.weight, conv.bias, padding=1)


@pytest.mark.parametrize('bias', [True, False])
def test_resize_conv_is_nearest_upsampling_then_3x3_conv(bias):
    torch.manual_seed(0)
    conv = ResizeConv2d(5, 3, bias=bias)
    x = torch.randn(2, 5, 4, 7, requires_grad=True)
    ref_x = x.detach().clone().requires_grad_(True)
    out, ref = conv(x), _upsample_then_conv(conv, ref_x)
    assert out.shape == (2, 3, 8, 14)
    assert torch.allclose(out, ref, atol=1e-5)
    grad = torch.randn_like(out)
    (gx, gw), (rx, rw) = (torch.autograd.grad(o, (i, conv.weight), grad)
                          for o, i in ((out, x), (ref, ref_x)))
    assert torch.allclose(gx, rx, atol=1e-5) and torch.allclose(gw, rw, atol=1e-4)


def test_patch_discriminator_output_and_min_size():
    disc = PatchDiscriminator(3, base_channels=8, num_layers=3)
    assert disc(torch.randn(2, 3, 64, 64)).shape == (2, 1, 6, 6)
    assert disc.min_input_size == 32
    # instance norm: a sample's score does not depend on the rest of the batch
    x = torch.randn(4, 3, 64, 64)
    assert torch.allclose(disc(x)[:1], disc(x[:1]), atol=1e-5)


def test_unet_encoder_matches_the_paper_block():
    net = UNetEncoder(in_channels=1, base_channels=4, depth=4, out_indices=(2, 3))
    outs = net(torch.randn(1, 1, 64, 64))
    assert [tuple(o.shape) for o in outs] == [(1, 16, 8, 8), (1, 32, 4, 4)]
    block = net.stages[0]
    kinds = [type(m).__name__ for m in block]
    assert kinds == ['Conv2d', 'ReLU', 'Conv2d', 'ReLU', 'MaxPool2d']
    assert block[0].kernel_size == (3, 3) and block[-1].kernel_size == 2


def test_gan_loss_default_is_the_heads_lsgan():
    from mmselfdis.models.heads.selfdis_losses import _DEFAULT_LOSSES
    assert GANLoss().gan_type == _DEFAULT_LOSSES['loss_d']['gan_type'] == 'lsgan'
    pred = torch.tensor([0.5, -1.0])
    assert torch.allclose(GANLoss()(pred, True), torch.tensor((0.25 + 4.0) / 2))


@pytest.mark.parametrize('gan_type', ['vanilla', 'lsgan', 'hinge'])
def test_gan_loss_values(gan_type):
    loss = GANLoss(gan_type, loss_weight=2.0)
    pred = torch.tensor([[0.5, -1.0]])
    if gan_type == 'vanilla':
        real = -torch.log(torch.sigmoid(pred)).mean()
        fake = -torch.log(1 - torch.sigmoid(pred)).mean()
    elif gan_type == 'lsgan':
        real, fake = ((pred - 1) ** 2).mean(), (pred ** 2).mean()
    else:
        real = torch.relu(1 - pred).mean()
        fake = torch.relu(1 + pred).mean()
        assert torch.allclose(loss(pred, True), 2 * -pred.mean())  # generator
    assert torch.allclose(loss(pred, True, is_disc=True), 2 * real)
    assert torch.allclose(loss(pred, False, is_disc=True), 2 * fake)
    assert loss(pred.bfloat16(), True).dtype == torch.float32


@pytest.mark.parametrize('weight', [-1.0, math.nan, math.inf])
def test_bad_weights_name_the_option(weight):
    with pytest.raises(ValueError, match='GANLoss.loss_weight must be a finite number >= 0'):
        GANLoss(loss_weight=weight)
    with pytest.raises(ValueError, match='FeatureL1Loss.loss_weight'):
        FeatureL1Loss(loss_weight=weight)
    with pytest.raises(ValueError, match='gan_type must be one of'):
        GANLoss('wgan')


def test_feature_loss_stops_the_target_gradient():
    pred = torch.randn(2, 3, requires_grad=True)
    target = torch.randn(2, 3, requires_grad=True)
    FeatureL1Loss()(pred, target).backward()
    assert pred.grad is not None and target.grad is None


def test_frozen_call_passes_gradients_to_inputs_only():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(2, 2, 3, padding=1), nn.BatchNorm2d(2)).train()
    x = torch.randn(3, 2, 5, 5, requires_grad=True)
    before = net[1].running_mean.clone()
    out = frozen_call(net, x)
    assert torch.allclose(out, net(x.detach()), atol=1e-6)  # same function
    net.zero_grad()
    net[1].running_mean.copy_(before)
    frozen_call(net, x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in net.parameters())
    assert torch.equal(net[1].running_mean, before)  # statistics untouched
    # and a plain call does train the weights (the check above can fail)
    net(x).sum().backward()
    assert net[0].weight.grad is not None


def test_image_l1_loss_is_the_weighted_mean_absolute_error():
    pred = torch.tensor([[[[1.0, -2.0], [0.5, 0.0]]]])
    target = torch.tensor([[[[0.0, 0.0], [0.5, 1.0]]]])
    assert torch.allclose(ImageL1Loss(3.0)(pred, target), torch.tensor(3.0 * (1 + 2 + 0 + 1) / 4))
    with pytest.raises(ValueError, match='differ in shape'):
        ImageL1Loss()(pred, target[..., :1])
    # per-pixel weights: the weighted mean  sum(w |d|) / sum(w)
    w = torch.tensor([[[[1.0, 5.0], [1.0, 1.0]]]])
    assert torch.allclose(ImageL1Loss(3.0)(pred, target, w),
                          torch.tensor(3.0 * (1 + 5 * 2 + 0 + 1) / 8))


def test_keypoint_l1_loss_is_eq6_weighted_per_keypoint():
    pred = torch.zeros(2, 2, 2, 2)
    target = torch.zeros(2, 2, 2, 2)
    pred[0, 0, 0, 0] = 1.0     # sample 0, keypoint 0: mean |d| = 1/4
    target[0, 1] = 0.5         # sample 0, keypoint 1: mean |d| = 0.5 (weight 0: ignored)
    pred[1, 1, 1, 1] = -2.0    # sample 1, keypoint 1: mean |d| = 2/4
    weights = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    expected = 2.0 * (0.25 + 0.0 + 0.0 + 0.5) / 4
    loss = KeypointL1Loss(use_target_weight=True, loss_weight=2.0)
    assert torch.allclose(loss(pred, target, weights), torch.tensor(expected))
    assert torch.allclose(KeypointL1Loss(loss_weight=2.0)(pred, target),
                          torch.tensor(2.0 * (0.25 + 0.5 + 0.0 + 0.5) / 4))
    with pytest.raises(ValueError, match='differ in shape'):
        KeypointL1Loss()(pred, target[:, :, :1])


def test_feature_matching_loss_is_the_mean_over_layers_and_stops_the_real_gradient():
    fake = [torch.ones(1, 2, 2, 2, requires_grad=True), torch.zeros(1, 1, 1, 1, requires_grad=True)]
    real = [torch.zeros(1, 2, 2, 2, requires_grad=True), torch.full((1, 1, 1, 1), 3.0,
                                                                     requires_grad=True)]
    loss = FeatureMatchingLoss(0.5)(fake, real)
    assert torch.allclose(loss, torch.tensor(0.5 * (1.0 + 3.0) / 2))
    loss.backward()
    assert fake[0].grad is not None and real[0].grad is None
    with pytest.raises(ValueError, match='same non-zero number of layers'):
        FeatureMatchingLoss()(fake, real[:1])


def test_pose_appearance_norm_is_its_formula():
    torch.manual_seed(0)
    mod = PoseAppearanceNorm(4, pose_channels=3, app_channels=2, hidden_channels=5)
    for m in (mod.pose_net[-1], mod.app_affine):  # leave the zero start
        nn.init.normal_(m.weight)
        nn.init.normal_(m.bias)
    x, pose, app = torch.randn(2, 4, 6, 6), torch.rand(2, 3, 6, 6), torch.randn(2, 2, 6, 6)
    mu = x.mean(dim=(2, 3), keepdim=True)
    var = x.var(dim=(2, 3), keepdim=True, unbiased=False)
    normed = (x - mu) / torch.sqrt(var + 1e-5)  # instance norm without affine parameters
    hidden = torch.relu(F.conv2d(pose, mod.pose_net[0].conv.weight, mod.pose_net[0].conv.bias,
                                 padding=1))
    gb_p = F.conv2d(hidden, mod.pose_net[1].weight, mod.pose_net[1].bias)
    gb_a = F.conv2d(app, mod.app_affine.weight, mod.app_affine.bias)
    expected = normed * (1 + gb_p[:, :4]) * (1 + gb_a[:, :4]) + gb_p[:, 4:] + gb_a[:, 4:]
    torch.testing.assert_close(mod(x, pose, app), expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize('mode', ['nearest', 'bilinear'])
def test_a_small_code_modulates_as_if_resized_first(mode):
    """γ_a, β_a computed at the code's size, then resized = the code resized, then γ_a, β_a."""
    torch.manual_seed(0)
    mod = PoseAppearanceNorm(4, 3, 5, hidden_channels=4)
    nn.init.normal_(mod.app_affine.weight, std=0.5)
    nn.init.normal_(mod.app_affine.bias, std=0.5)
    x, pose, app = torch.randn(2, 4, 8, 8), torch.rand(2, 3, 8, 8), torch.randn(2, 5, 2, 2)
    big = F.interpolate(app, size=(8, 8)) if mode == 'nearest' else \
        F.interpolate(app, size=(8, 8), mode='bilinear', align_corners=False)
    torch.testing.assert_close(mod(x, pose, app, mode), mod(x, pose, big), atol=1e-5,
                               rtol=1e-5)


def test_pose_modulated_decoder_draws_where_the_heatmaps_are():
    torch.manual_seed(0)
    dec = PoseModulatedDecoder(pose_map_channels=3, app_channels=4, out_channels=1,
                               num_upsamples=3, base_channels=4, hidden_channels=4)
    maps, app = torch.rand(1, 3, 16, 16), torch.randn(1, 4, 2, 2)
    assert dec(maps, app).shape == (1, 1, 16, 16)
    assert len([m for m in dec.modules() if isinstance(m, ResizeConv2d)]) == 3
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in dec.modules())
    # the pose reaches every scale: each modulation's pose net gets a gradient
    maps.requires_grad_(True)
    for m in dec.modules():
        if isinstance(m, PoseAppearanceNorm):
            nn.init.normal_(m.pose_net[-1].weight, std=0.1)
    dec(maps, app).sum().backward()
    mods = [m for m in dec.modules() if isinstance(m, PoseAppearanceNorm)]
    assert len(mods) == 3  # stem at 2x2, then 4x4 and 8x8; the last x2 is the output conv
    assert all(m.pose_net[0].conv.weight.grad.abs().sum() > 0 for m in mods)
    # where the keypoint is changes the image
    with torch.no_grad():
        a, b = torch.zeros(1, 3, 16, 16), torch.zeros(1, 3, 16, 16)
        a[0, 0, 3, 3] = b[0, 0, 12, 12] = 1.0
        assert (dec(b, app) - dec(a, app)).abs().mean() > 1e-3


def test_pose_modulated_decoder_takes_the_pose_feature_only_when_built_for_it():
    dec = PoseModulatedDecoder(3, 4, 1, num_upsamples=1, pose_feature_channels=5, base_channels=4)
    maps, app = torch.rand(2, 3, 8, 8), torch.randn(2, 4, 4, 4)
    assert dec(maps, app, torch.randn(2, 5, 4, 4)).shape == (2, 1, 8, 8)
    with pytest.raises(ValueError, match='pose feature of 5 channels'):
        dec(maps, app)


def test_soft_argmax_reads_the_peak_and_its_height():
    hm = torch.zeros(2, 3, 16, 8)
    hm[0, 0, 4, 2] = 1.0  # row 4, column 2
    hm[1, 2, 15, 7] = 0.5
    points, conf = soft_argmax(hm, beta=200.0)
    torch.testing.assert_close(points[0, 0], torch.tensor([2.5 / 8, 4.5 / 16]))
    torch.testing.assert_close(points[1, 2], torch.tensor([7.5 / 8, 15.5 / 16]))
    assert conf[0, 0] == 1.0 and conf[1, 2] == 0.5 and conf[0, 1] == 0.0
    # a flat map reads the centre
    torch.testing.assert_close(points[0, 1], torch.tensor([0.5, 0.5]))


def test_limb_maps_draw_segments_between_the_keypoints_at_any_size():
    maps = LimbMaps(3, limbs=[(0, 1)], sigma=0.05)
    points = torch.tensor([[[0.25, 0.5], [0.75, 0.5], [0.5, 0.9]]])
    conf = torch.tensor([[1.0, 0.8, 0.0]])
    for size in ((8, 8), (64, 64), (32, 16)):
        out = maps.draw(points, conf, size)
        assert out.shape == (1, 1 + 3, *size)
    out = maps.draw(points, conf, (64, 64))
    limb = out[0, 0]
    # on the segment: the weaker end's confidence; off it: a Gaussian of the distance
    assert limb[32, 32] == pytest.approx(0.8 * math.exp(-(0.5 / 64)**2 / (2 * 0.05**2)),
                                         rel=1e-4)
    d = (44.5 / 64 - 0.5)
    assert limb[44, 32] == pytest.approx(0.8 * math.exp(-d**2 / (2 * 0.05**2)), rel=1e-4)
    assert limb[32, 2] < 1e-3  # beyond the end at x=0.25
    # each keypoint is a dot times its confidence; the third has none
    assert out[0, 1].amax() == pytest.approx(1.0, abs=0.03)  # half a pixel off the centre
    assert out[0, 3].amax() == 0.0
    # sharp at every size: at 64x64 the line is a few pixels wide
    assert (limb > 0.4).sum(0).max() <= 8


def test_limb_maps_hold_no_subnormal_floats():
    # a plain exp(-d2 / 2 sigma^2) leaves subnormals (< 1.2e-38) in a ring around each
    # limb; CPUs compute on those many times slower. The cut tail changes no value > 1e-13.
    e = torch.linspace(0, 120, 4001)
    plain = torch.exp(-e)
    assert ((plain > 0) & (plain < torch.finfo(torch.float32).tiny)).any()
    cut = gaussian(e)
    assert torch.equal(cut[e < GAUSSIAN_CUT], plain[e < GAUSSIAN_CUT])
    assert (cut[e >= GAUSSIAN_CUT] == 0).all()
    assert (cut - plain).abs().max() < 1e-13
    points = torch.rand(4, 21, 2, generator=torch.Generator().manual_seed(0))
    out = LimbMaps(21, sigma=0.01).draw(points, torch.ones(4, 21), (64, 64))
    assert not ((out != 0) & (out.abs() < torch.finfo(torch.float32).tiny)).any()
    assert (out == 0).any()  # far pixels are exactly zero


def test_limb_maps_are_differentiable_and_check_their_skeleton():
    hm = torch.rand(1, 21, 16, 16, requires_grad=True)
    LimbMaps(21)(hm, (32, 32)).sum().backward()
    assert hm.grad.abs().sum() > 0
    assert LimbMaps(21).out_channels == len(HAND21_LIMBS) + 21 == 44
    with pytest.raises(ValueError, match='keypoint indices in'):
        LimbMaps(5)  # the hand's skeleton needs 21 keypoints
    with pytest.raises(ValueError, match='built for 21 keypoints'):
        LimbMaps(21)(torch.rand(1, 17, 16, 16), (8, 8))


def test_limb_maps_without_dots_and_drawn_small_then_resized():
    points = torch.tensor([[[0.2, 0.3], [0.8, 0.6], [0.5, 0.9]]])
    conf = torch.ones(1, 3)
    full = LimbMaps(3, limbs=[(0, 1)], sigma=0.05)
    lite = LimbMaps(3, limbs=[(0, 1)], sigma=0.05, with_keypoints=False, max_size=32)
    assert lite.out_channels == 1 and full.out_channels == 4
    small = lite.draw(points, conf, (16, 16))  # at most max_size: drawn as asked
    torch.testing.assert_close(small, full.draw(points, conf, (16, 16))[:, :1])
    big = lite.draw(points, conf, (64, 64))  # drawn at 32, resized
    want = F.interpolate(full.draw(points, conf, (32, 32))[:, :1], size=(64, 64),
                         mode='bilinear', align_corners=False)
    torch.testing.assert_close(big, want)
    assert (big - full.draw(points, conf, (64, 64))[:, :1]).abs().max() < 0.1
    with pytest.raises(ValueError, match='max_size'):
        LimbMaps(3, limbs=[(0, 1)], max_size=0)


def test_limb_maps_in_channels_last_memory_format_hold_the_same_values():
    """draw(..., torch.channels_last): the maps a channels-last network reads, made once in
    its format (resized in it when drawn small), equal to the contiguous maps."""
    g = torch.Generator().manual_seed(0)
    points, conf = torch.rand(4, 21, 2, generator=g), torch.rand(4, 21, generator=g)
    for lm in (LimbMaps(21, with_keypoints=False, max_size=32), LimbMaps(21)):
        for size in ((16, 16), (64, 64)):
            plain = lm.draw(points, conf, size)
            cl = lm.draw(points, conf, size, torch.channels_last)
            assert plain.is_contiguous() and cl.is_contiguous(memory_format=torch.channels_last)
            assert not cl.is_contiguous()
            torch.testing.assert_close(cl, plain, rtol=0, atol=0)


def test_channels_last_pose_modulated_decoder_reads_channels_last_maps():
    """After ChannelsLastHook's conversion the decoder gives its modulations channels-last
    pose maps (no conversion by each convolution) and decodes what the contiguous one does."""
    torch.manual_seed(0)
    dec = PoseModulatedDecoder(pose_map_channels=21, app_channels=4, out_channels=1,
                               num_upsamples=3, base_channels=4, hidden_channels=4,
                               pose_encoding='limbs', full_resolution=True,
                               limb_cfg=dict(with_keypoints=False, max_size=8))
    for m in dec.modules():
        if isinstance(m, PoseAppearanceNorm):
            nn.init.normal_(m.pose_net[-1].weight, std=0.1)
    maps, app = torch.rand(2, 21, 16, 16), torch.randn(2, 4, 2, 2)
    with torch.no_grad():
        want = dec(maps, app)
        seen = []
        hooks = [m.pose_net[0].register_forward_pre_hook(lambda mod, args: seen.append(args[0]))
                 for m in dec.modules() if isinstance(m, PoseAppearanceNorm)]
        dec.to(memory_format=torch.channels_last)
        got = dec(maps, app)
    for h in hooks:
        h.remove()
    assert len(seen) == 4
    assert all(t.is_contiguous(memory_format=torch.channels_last) and not t.is_contiguous()
               for t in seen)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('full_resolution', [False, True])
def test_pose_modulated_decoder_with_limbs_modulates_every_scale(full_resolution):
    torch.manual_seed(0)
    dec = PoseModulatedDecoder(pose_map_channels=3, app_channels=4, out_channels=1,
                               num_upsamples=3, base_channels=4, hidden_channels=4,
                               pose_encoding='limbs', full_resolution=full_resolution,
                               limb_cfg=dict(limbs=[(0, 1), (1, 2)]))
    mods = [m for m in dec.modules() if isinstance(m, PoseAppearanceNorm)]
    # stem at 2x2, 4x4, 8x8 (and 16x16 with full_resolution); each sees 2 limbs + 3 dots
    assert len(mods) == (4 if full_resolution else 3)
    assert all(m.pose_net[0].conv.in_channels == 5 for m in mods)
    assert isinstance(dec.out_conv, nn.Conv2d) == full_resolution
    maps, app = torch.rand(1, 3, 16, 16, requires_grad=True), torch.randn(1, 4, 2, 2)
    for m in mods:
        nn.init.normal_(m.pose_net[-1].weight, std=0.1)
    out = dec(maps, app)
    assert out.shape == (1, 1, 16, 16)
    out.sum().backward()
    assert maps.grad.abs().sum() > 0
    with torch.no_grad():
        a, b = torch.zeros(1, 3, 16, 16), torch.zeros(1, 3, 16, 16)
        a[0, :, 3, 3] = b[0, :, 12, 12] = 1.0
        assert (dec(b, app) - dec(a, app)).abs().mean() > 1e-3
    with pytest.raises(ValueError, match="pose_encoding must be 'heatmaps' or 'limbs'"):
        PoseModulatedDecoder(3, 4, 1, 1, pose_encoding='skeleton')
    with pytest.raises(ValueError, match="limb_cfg is used with pose_encoding='limbs' only"):
        PoseModulatedDecoder(3, 4, 1, 1, limb_cfg=dict(sigma=0.1))


def test_discriminator_features_are_those_of_its_forward():
    torch.manual_seed(0)
    disc = PatchDiscriminator(2, base_channels=4, num_layers=2)
    x = torch.randn(2, 2, 32, 32)
    logits, feats = disc(x, return_features=True)
    assert torch.equal(logits, disc(x))
    assert len(feats) == 3 and feats[0].shape == (2, 4, 16, 16)


def test_checkpoints_of_the_sequential_layout_still_load():
    """Before the networks were built from mmcv ConvModules, the same layers were plain
    nn.Sequential: blocks.0.0.0.weight (conv), blocks.0.0.1.* (norm)."""
    torch.manual_seed(0)
    enc = AppearanceEncoder(1, 2, num_downsamples=1, base_channels=3, num_convs=1)
    old = {
        'blocks.0.0.0.weight': torch.randn(3, 1, 3, 3),
        'blocks.0.0.1.weight': torch.rand(3), 'blocks.0.0.1.bias': torch.rand(3),
        'blocks.0.0.1.running_mean': torch.rand(3), 'blocks.0.0.1.running_var': torch.rand(3),
        'blocks.0.0.1.num_batches_tracked': torch.tensor(7),
        'proj.weight': torch.randn(2, 3, 1, 1), 'proj.bias': torch.randn(2),
    }
    enc.load_state_dict(dict(old))
    assert torch.equal(enc.blocks[0][0].conv.weight, old['blocks.0.0.0.weight'])
    assert torch.equal(enc.blocks[0][0].bn.running_var, old['blocks.0.0.1.running_var'])
    assert int(enc.blocks[0][0].bn.num_batches_tracked) == 7
    disc = PatchDiscriminator(1, base_channels=2, num_layers=1)
    old = {'model.0.weight': torch.randn(2, 1, 4, 4), 'model.0.bias': torch.randn(2),
           'model.2.weight': torch.randn(4, 2, 4, 4), 'model.5.weight': torch.randn(1, 4, 4, 4),
           'model.5.bias': torch.randn(1)}  # the old flat Sequential (InstanceNorm has no state)
    disc.load_state_dict(dict(old))
    assert torch.equal(disc.model[1].conv.weight, old['model.2.weight'])
    # a state dict of another shape is not renamed: the usual error names the keys
    with pytest.raises(RuntimeError, match='Missing key'):
        enc.load_state_dict({'blocks.0.0.0.weight': torch.randn(3, 1, 3, 3)})
