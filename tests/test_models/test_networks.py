"""Sub-networks and losses built with plain arguments (no registry needed)."""
import math

import pytest
import torch
from torch import nn

from mmselfdis.models import (AppearanceEncoder, FeatureL1Loss, GANLoss, ImageDecoder,
                              PatchDiscriminator, UNetEncoder, frozen_call)
from mmselfdis.models.networks import ResizeConv2d


def test_appearance_encoder_downsamples_to_the_pose_size():
    enc = AppearanceEncoder(16, 8, num_downsamples=2, base_channels=4, max_channels=8)
    assert enc(torch.randn(2, 16, 32, 24)).shape == (2, 8, 8, 6)
    assert AppearanceEncoder(3, 5, 0)(torch.randn(1, 3, 7, 7)).shape == (1, 5, 7, 7)
    assert any(isinstance(m, nn.MaxPool2d) for m in enc.modules())


def test_appearance_encoder_global_pool_is_the_same_code_at_every_position():
    torch.manual_seed(0)
    spatial = AppearanceEncoder(1, 6, num_downsamples=2, base_channels=4)
    pooled = AppearanceEncoder(1, 6, num_downsamples=2, base_channels=4, global_pool=True)
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


@pytest.mark.parametrize('kwargs, message', [
    (dict(pool_grid=0), 'pool_grid must be a positive integer'),
    (dict(pool_grid=2.5), 'pool_grid must be a positive integer'),
    (dict(global_pool=True, pool_grid=2), 'set only one of them'),
])
def test_appearance_encoder_pool_options_are_checked(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AppearanceEncoder(1, 6, num_downsamples=2, **kwargs)


def test_appearance_encoder_pool_grid_larger_than_the_code_is_refused():
    enc = AppearanceEncoder(1, 6, num_downsamples=2, base_channels=4, pool_grid=8)
    with pytest.raises(ValueError, match='use a smaller pool_grid'):
        enc(torch.randn(1, 1, 16, 16))


def test_image_decoder_uses_nearest_upsampling_and_no_transposed_convs():
    dec = ImageDecoder(12, 1, num_upsamples=3, base_channels=4, norm_layer=None)
    assert dec(torch.randn(2, 12, 4, 5)).shape == (2, 1, 32, 40)
    ups = [m for m in dec.modules() if isinstance(m, ResizeConv2d)]
    assert len(ups) == 3
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in dec.modules())


@pytest.mark.parametrize('bias', [True, False])
def test_resize_conv_is_nearest_upsampling_then_3x3_conv(bias):
    torch.manual_seed(0)
    conv = ResizeConv2d(5, 3, bias=bias)
    x = torch.randn(2, 5, 4, 7, requires_grad=True)
    ref_x = x.detach().clone().requires_grad_(True)
    out, ref = conv(x), conv.reference_forward(ref_x)
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
