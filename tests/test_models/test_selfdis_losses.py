"""Each term of SelfDisHead equals its formula, on the right images: which of x and y it compares.

The model runs in eval mode (BatchNorm with running statistics, so every
sample is decoded independently of the rest of its batch) and the terms are
recomputed by hand from the branch's public encode/decode steps. ``n = 4``
images, ``m = 2`` mixed; ``y`` is the batch rolled by one, so ``y`` of
``x_0, x_1`` are ``x_3, x_0``.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mmselfdis.models.networks import PoseAppearanceNorm
from tests.test_models._tiny import build_model, make_batch, model_cfg

N, M = 4, 2
Y = torch.tensor([3, 0])

PAPER = dict(appearance_source='image')
MODULATED = dict(appearance_source='image',
                 decoder=dict(type='PoseModulatedDecoder', base_channels=4, hidden_channels=4),
                 encoder=dict(base_channels=8, max_channels=16, pool_grid=1),
                 gan_condition='pose',
                 loss_cycle_pose=dict(type='KeypointL1Loss', use_target_weight=True, loss_weight=3.0),
                 loss_feat_match=dict(type='FeatureMatchingLoss', loss_weight=2.0))


class _Spy(nn.Module):
    """Wraps a loss module and records the arguments of every call."""

    def __init__(self, loss: nn.Module) -> None:
        super().__init__()
        self.loss = loss
        self.calls = []

    def forward(self, *args, **kwargs):
        self.calls.append(args)
        return self.loss(*args, **kwargs)


def _run(selfdis_cfg, sensitive_encoder=False):
    model = build_model(model_cfg('resnet', 3, selfdis_cfg))
    torch.manual_seed(0)
    nn.init.normal_(model.head.final_layer.weight, std=0.5)  # heatmaps of order 1, not 1e-10
    for m in model.modules():  # leave the modulations' zero start: pose and look matter
        if isinstance(m, PoseAppearanceNorm):
            nn.init.normal_(m.pose_net[-1].weight, std=0.5)
            nn.init.normal_(m.app_affine.weight, std=0.5)
    if sensitive_encoder:  # E_I's code changes visibly with where things lie in its input
        for m in model.selfdis.appearance_encoder.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=0.2)
    model.eval()
    sd = model.selfdis
    spies = {}
    for name in ('loss_img', 'loss_cycle_img', 'loss_dual_pose', 'loss_dual_img',
                 'loss_cycle_pose', 'loss_feat_match'):
        if getattr(sd, name) is not None:
            spies[name] = _Spy(getattr(sd, name))
            setattr(sd, name, spies[name])
    inputs, samples = make_batch(N, 3, seed=1)
    with torch.no_grad():
        losses = model.loss(inputs, samples)
    return model, inputs, samples, losses, spies


def _first_inputs(module, model, x, samples):
    """The first positional input of every call of ``module`` during ``model.loss(x, samples)``."""
    seen = []
    hook = module.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    try:
        with torch.no_grad():
            model.loss(x, samples)
    finally:
        hook.remove()
    return seen


def _l1(a, b):
    return (a - b).abs().mean()


@pytest.mark.parametrize('cfg', [PAPER, MODULATED], ids=['paper', 'modulated'])
def test_each_term_compares_the_right_images(cfg):
    model, x, samples, losses, spies = _run(cfg)
    sd = model.selfdis
    with torch.no_grad():
        p, a = sd.encode(model, x)
        rec = sd.decode(p, a)
        mix = sd.decode(p[:M], a[Y])                      # Î(xy): pose of x, appearance of y
        p_hat, a_hat = sd.encode(model, mix)
        cyc_x = sd.decode(p_hat, a[:M])                   # Ĩ(x) = D_I(p̂(x), a(x))
        cyc_y = sd.decode(p[Y], a_hat)                    # Ĩ(y) = D_I(p(y), â(y))

    # L_I = |D_I(p(x), a(x)) - x|
    (pred, target), = spies['loss_img'].calls
    torch.testing.assert_close(pred, rec, atol=1e-5, rtol=1e-4)
    assert torch.equal(target, x)
    torch.testing.assert_close(losses['loss_img'], _l1(rec, x))

    # L_cycle-img = |Ĩ(x) - x| + |Ĩ(y) - y|: Ĩ(x) against x, Ĩ(y) against y — not crossed
    (pred_x, target_x), (pred_y, target_y) = spies['loss_cycle_img'].calls
    torch.testing.assert_close(pred_x, cyc_x, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(pred_y, cyc_y, atol=1e-5, rtol=1e-4)
    assert torch.equal(target_x, x[:M]) and torch.equal(target_y, x[Y])
    torch.testing.assert_close(losses['loss_cycle_img'], _l1(cyc_x, x[:M]) + _l1(cyc_y, x[Y]),
                               atol=1e-5, rtol=1e-4)
    # the checks can tell the two terms apart
    assert not torch.allclose(cyc_x, cyc_y, atol=1e-3) and not torch.equal(x[:M], x[Y])

    # L_dual-pose = |p̂(x) - p(x)|, L_dual-img = |â(y) - a(y)|
    (pred, target), = spies['loss_dual_pose'].calls
    torch.testing.assert_close(pred, p_hat, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(target, p[:M], atol=1e-5, rtol=1e-4)
    assert not torch.allclose(target, p[Y])
    torch.testing.assert_close(losses['loss_dual_pose'], 0.1 * _l1(p_hat, p[:M]),
                               atol=1e-6, rtol=1e-4)
    (pred, target), = spies['loss_dual_img'].calls
    torch.testing.assert_close(pred, a_hat, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(target, a[Y], atol=1e-5, rtol=1e-4)
    assert not torch.allclose(target, a[:M])
    torch.testing.assert_close(losses['loss_dual_img'], 0.1 * _l1(a_hat, a[Y]),
                               atol=1e-6, rtol=1e-4)


def test_cycle_pose_l1_is_the_mix_heatmaps_against_xs_targets():
    model, x, samples, losses, spies = _run(MODULATED)
    sd = model.selfdis
    with torch.no_grad():
        p, a = sd.encode(model, x)
        mix = sd.decode(p[:M], a[Y])
        maps_hat = model.head(model.extract_feat(mix))
    (pred, target, weights), = spies['loss_cycle_pose'].calls
    torch.testing.assert_close(pred, maps_hat, atol=1e-5, rtol=1e-4)
    hm = torch.stack([s.gt_fields.heatmaps for s in samples])
    kw = torch.cat([s.gt_instance_labels.keypoint_weights for s in samples])
    assert torch.equal(target, hm[:M]) and not torch.equal(target, hm[Y])
    assert torch.equal(weights, kw[:M])
    per_kpt = (maps_hat - hm[:M]).abs().mean(dim=(2, 3)) * kw[:M]
    torch.testing.assert_close(losses['loss_cycle_pose'], 3.0 * per_kpt.mean(),
                               atol=1e-6, rtol=1e-4)


def test_feature_matching_pairs_each_reconstruction_with_its_input():
    model, x, samples, losses, spies = _run(MODULATED)
    sd = model.selfdis
    with torch.no_grad():
        p, a = sd.encode(model, x)
        rec = sd.decode(p, a)
        maps = F.interpolate(model.head(model.extract_feat(x)).amax(1, keepdim=True),
                             size=x.shape[-2:], mode='bilinear', align_corners=False)
        _, f_rec = sd.discriminator(torch.cat([rec, maps], 1), return_features=True)
        _, f_real = sd.discriminator(torch.cat([x, maps], 1), return_features=True)
    (fake, real), = spies['loss_feat_match'].calls
    assert len(fake) == len(real) == len(f_rec)
    for got, want in zip(fake, f_rec):
        torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-3)
    for got, want in zip(real, f_real):
        torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-3)
    expected = 2.0 * sum(_l1(f, r) for f, r in zip(f_rec, f_real)) / len(f_rec)
    torch.testing.assert_close(losses['loss_feat_match'], expected, atol=1e-5, rtol=1e-3)


def test_conditional_discriminator_sees_the_pose_of_x_with_each_image():
    """With gan_condition='pose' a copy of y, shown with x's pose map, is a different input
    from y shown with its own: the discriminator can tell a copy of y from a mix."""
    model, x, samples, losses, spies = _run(MODULATED)
    sd = model.selfdis
    assert sd.discriminator.in_channels == 3 + 1  # image + the pose map
    real_and_fake = _first_inputs(sd.discriminator, model, x, samples)[0]
    with torch.no_grad():
        maps = model.head(model.extract_feat(x)).amax(1, keepdim=True)
    maps = F.interpolate(maps, size=x.shape[-2:], mode='bilinear', align_corners=False)
    torch.testing.assert_close(real_and_fake[:N, 3:], maps, atol=1e-5, rtol=1e-4)
    # the mixes (after the N reconstructions) are judged with the heatmaps of x, not of y
    torch.testing.assert_close(real_and_fake[2 * N:, 3:], maps[:M], atol=1e-5, rtol=1e-4)
    assert not torch.allclose(real_and_fake[2 * N:, 3:], maps[Y])


def test_options_are_checked():
    with pytest.raises(ValueError, match='gan_condition must be one of'):
        build_model(model_cfg('resnet', 3, dict(gan_condition='keypoints')))
    with pytest.raises(ValueError, match='needs the discriminator'):
        build_model(model_cfg('resnet', 3, dict(use_gan=False, gan_condition='pose')))
    with pytest.raises(ValueError, match='set by the branch'):
        build_model(model_cfg('resnet', 3, dict(decoder=dict(in_channels=7))))


def test_a_loss_given_without_type_updates_its_default():
    """``--cfg-options model.selfdis.loss_dual_img.loss_weight=1.0`` on a config that leaves
    the term at its default changes the weight only; an optional term has no default."""
    sd = build_model(model_cfg('resnet', 3, dict(loss_dual_img=dict(loss_weight=1.0)))).selfdis
    assert type(sd.loss_dual_img).__name__ == 'FeatureL1Loss'
    assert sd.loss_dual_img.loss_weight == 1.0 and sd.loss_dual_pose.loss_weight == 0.1
    with pytest.raises(ValueError, match='loss_img_ssim has no default to update: give its type'):
        build_model(model_cfg('resnet', 3, dict(loss_img_ssim=dict(loss_weight=0.3))))


LABELS = dict(MODULATED, pose_maps_from='labels',
              decoder=dict(type='PoseModulatedDecoder', base_channels=4, hidden_channels=4,
                           pose_encoding='limbs'))


def test_labels_mode_draws_each_images_targets_and_reads_the_mix_in_the_cycle():
    """pose_maps_from='labels': the reconstruction and the mix draw x's target heatmaps (not
    the pose model's reading), Ĩ(y) draws y's; the cycle still reads the mix with D_p*."""
    model, x, samples, losses, spies = _run(LABELS)
    sd = model.selfdis
    hm = torch.stack([s.gt_fields.heatmaps for s in samples])
    rec_and_mix, cycle = _first_inputs(sd.image_decoder, model, x, samples)
    assert torch.equal(rec_and_mix, torch.cat([hm, hm[:M]]))
    with torch.no_grad():
        p, a = sd.encode(model, x)
        mix = sd.decode(p[:M], a[Y], hm[:M])
        maps_hat = model.head(model.extract_feat(mix))
    torch.testing.assert_close(cycle[:M], maps_hat, atol=1e-5, rtol=1e-4)  # D_p* on the mix
    assert torch.equal(cycle[M:], hm[Y])                                  # y's labels
    pred, target = spies['loss_img'].calls[0]
    torch.testing.assert_close(pred, sd.decode(p, a, hm), atol=1e-5, rtol=1e-4)


def test_labels_mode_mixes_need_keypoints_and_depend_on_them_only():
    model = build_model(model_cfg('resnet', 3, LABELS))
    for m in model.modules():
        if isinstance(m, PoseAppearanceNorm):
            nn.init.normal_(m.pose_net[-1].weight, std=0.5)
    model.eval()
    assert model.draws_labels
    g = torch.Generator().manual_seed(0)
    x1, x2, y = (torch.rand(2, 3, 64, 64, generator=g) * 255 for _ in range(3))
    kpts = torch.rand(2, 21, 2, generator=g).numpy() * 60
    vis = torch.ones(2, 21).numpy()
    with torch.no_grad():
        with pytest.raises(ValueError, match="pose_maps_from='labels'"):
            model.mix(x1, y)
        a = model.mix(x1, y, keypoints=kpts, keypoints_visible=vis)
        # the pose image itself does not enter: only its keypoints (and y's look)
        torch.testing.assert_close(model.mix(x2, y, keypoints=kpts, keypoints_visible=vis), a)
        moved = model.mix(x1, y, keypoints=kpts[::-1].copy(), keypoints_visible=vis)
        assert (moved - a).abs().mean() > 1e-3
        # the heatmaps it draws are the codec's encoding of the keypoints
        maps = model.selfdis.label_maps(kpts, vis)
        want = model.head.decoder.encode(kpts[:1], vis[:1])['heatmaps']
        torch.testing.assert_close(maps[0], torch.from_numpy(want).float())
        torch.testing.assert_close(model.mix(x1, y, pose_maps=maps), a)


def test_labels_mode_needs_a_pose_map_decoder():
    with pytest.raises(ValueError, match="pose_maps_from='labels' draws"):
        build_model(model_cfg('resnet', 3, dict(pose_maps_from='labels')))
    with pytest.raises(ValueError, match='pose_maps_from must be one of'):
        build_model(model_cfg('resnet', 3, dict(pose_maps_from='keypoints')))


def test_foreground_weight_counts_the_hands_pixels_more():
    """L_I = sum(w |rec - x|) / sum(w), w = 1 + W * (the limbs of x's labels at the image size)."""
    model, x, samples, losses, spies = _run(dict(LABELS, foreground_weight=4.0))
    sd = model.selfdis
    hm = torch.stack([s.gt_fields.heatmaps for s in samples])
    pred, target, weight = spies['loss_img'].calls[0]
    with torch.no_grad():
        mask = sd.image_decoder.limb_maps(hm, x.shape[-2:]).amax(1, keepdim=True).clamp(0, 1)
    assert 0.01 < mask.mean() < 0.9  # some pixels are hand, most are not
    w = (1 + 4.0 * mask).expand_as(x)
    want = (w * (pred - x).abs()).sum() / w.sum()
    torch.testing.assert_close(losses['loss_img'], want, atol=1e-5, rtol=1e-4)
    assert not torch.allclose(losses['loss_img'], (pred - x).abs().mean(), atol=1e-4)
    with pytest.raises(ValueError, match='foreground_weight finds the hand'):
        build_model(model_cfg('resnet', 3, dict(foreground_weight=1.0)))


BACKGROUND = dict(LABELS, background=dict(radius=0.06))
CONTEXT = dict(LABELS, background=dict(radius=0.06, context=True))
TONES = dict(LABELS, background=dict(radius=0.06, tones=True))
INPAINT = dict(LABELS, background=dict(radius=0.06, inpaint=True))


def _opaque_outside(model):
    """The opacity channel's bias at -50: outside the holes the appearance image shows."""
    out_conv = model.selfdis.image_decoder.out_conv
    with torch.no_grad():
        out_conv.weight[-1].zero_()
        out_conv.bias[-1] = -50.0


def test_hand_region_covers_bones_and_forearm_only():
    from mmselfdis.models.networks import hand_region
    pts = torch.zeros(1, 21, 2)
    pts[0, :, 0] = torch.linspace(0.3, 0.7, 21)  # a straight hand along the middle row
    pts[0, :, 1] = 0.5
    pts[0, 9] = torch.tensor([0.5, 0.5])  # knuckle right of the wrist (0.3, 0.5)
    conf = torch.ones(1, 21)
    mask = hand_region(pts, conf, (64, 64), radius=0.05, arm_radius=0.05, arm_length=1.0)
    assert mask.shape == (1, 1, 64, 64)
    assert mask[0, 0, 32, 32] == 1 and mask[0, 0, 5, 32] == 0  # on the bones, far above
    # the forearm: from the wrist (x = 19 px) away from the knuckle (x = 32), 13 px long
    assert mask[0, 0, 32, 10] == 1 and mask[0, 0, 32, 2] == 0
    none = hand_region(pts, torch.zeros(1, 21), (64, 64))
    assert none.abs().max() == 0  # no confidence, no hand


@pytest.mark.parametrize('cfg', [BACKGROUND, CONTEXT, TONES, INPAINT],
                         ids=['background', 'context', 'tones', 'inpaint'])
def test_background_paints_the_hand_over_the_appearance_image(cfg):
    """selfdis.background: mix = α·paint + (1-α)·y with α = 1 in the holes (y's and x's
    hands); with the opacity off elsewhere the mix is y outside the holes, exactly."""
    model = build_model(model_cfg('resnet', 3, cfg))
    sd = model.selfdis
    assert sd.image_decoder.out_channels == 4  # BGR + opacity
    model.eval()
    _opaque_outside(model)
    g = torch.Generator().manual_seed(0)
    x, y = (torch.rand(2, 3, 64, 64, generator=g) * 255 for _ in range(2))
    kpts = torch.rand(2, 21, 2, generator=g).numpy() * 30 + 17
    vis = torch.ones(2, 21).numpy()
    with torch.no_grad():
        mix = model.mix(x, y, keypoints=kpts, keypoints_visible=vis)
        p_y = sd.encode(model, sd.to_model_space(y, model.data_preprocessor))[0]
        hole = torch.maximum(sd.hand_region(sd._pose_maps([p_y], trainable=False)),
                             sd.hand_region(sd.label_maps(kpts, vis)))
    outside = (hole == 0).expand_as(y)
    assert 0.05 < outside.float().mean() < 0.95
    torch.testing.assert_close(mix[outside], y[outside], atol=1e-2, rtol=0)
    inside = (hole == 1).expand_as(y)
    assert (mix[inside] - y[inside]).abs().mean() > 1  # painted there
    # y's hand cut out where its labels say (the pose model's reading otherwise)
    ykp = torch.rand(2, 21, 2, generator=g).numpy() * 30 + 17
    with torch.no_grad():
        mix2 = model.mix(x, y, keypoints=kpts, keypoints_visible=vis, app_keypoints=ykp,
                         app_keypoints_visible=vis)
        hole2 = torch.maximum(sd.hand_region(sd.label_maps(ykp, vis)),
                              sd.hand_region(sd.label_maps(kpts, vis)))
    outside2 = (hole2 == 0).expand_as(y)
    assert not torch.equal(outside2, outside)
    torch.testing.assert_close(mix2[outside2], y[outside2], atol=1e-2, rtol=0)
    from mmselfdis.apis import mix_images
    via_api = mix_images(model, x, y, keypoints=kpts, keypoints_visible=vis, app_keypoints=ykp,
                         app_keypoints_visible=vis)
    torch.testing.assert_close(via_api.float(), mix2.clamp(0, 255).round(), atol=1, rtol=0)
    p, a = model.encode(x)
    with pytest.raises(ValueError, match='background='):
        sd.decode(p, a, sd.label_maps(kpts, vis).to(p))  # no appearance image


def _background_run(cfg):
    """``_run`` of a background config, with the labels' heatmaps, the hands they cover, the
    reconstructions' holes (own hand and another image's) and the appearance codes."""
    model, x, samples, losses, spies = _run(cfg)
    sd = model.selfdis
    assert all(torch.isfinite(v) for k, v in losses.items() if k.startswith('loss'))
    hm = torch.stack([s.gt_fields.heatmaps for s in samples])
    with torch.no_grad():
        hands = sd.hand_region(hm)
        hole = torch.maximum(hands, torch.roll(hands, 2, 0))
        a = sd.encode(model, x)[1]
    return sd, x, hm, hands, hole, a, spies


def test_background_losses_reconstruct_over_the_input_with_holes():
    """L_I compares x with its reconstruction painted over x itself, where x's hand and
    another image's hand are cut out; the formula of SelfDisHead.composite."""
    sd, x, hm, hands, hole, a, spies = _background_run(BACKGROUND)
    with torch.no_grad():
        out = sd.image_decoder(hm, a, None)
    pred, target = spies['loss_img'].calls[0][:2]
    alpha = hole + (1 - hole) * torch.sigmoid(out[:, -1:])
    want = alpha * out[:, :-1] + (1 - alpha) * x
    torch.testing.assert_close(pred, want, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(target, x)
    with pytest.raises(ValueError, match='PoseModulatedDecoder'):
        build_model(model_cfg('resnet', 3, dict(background=dict())))
    with pytest.raises(ValueError, match='hand_region options'):
        build_model(model_cfg('resnet', 3, dict(BACKGROUND, background=dict(size=3))))


def test_background_context_shows_the_decoder_the_image_outside_the_hole():
    """background.context: the decoder's context is [x with the hole blanked, the hole]; the
    reconstruction is the composite of that decoding, and what the decoder paints depends on
    the image outside the hole only."""
    sd, x, hm, hands, hole, a, spies = _background_run(CONTEXT)
    assert sd.image_decoder.context_channels == 4  # BGR + hole
    with torch.no_grad():
        out = sd.image_decoder(hm, a, None, context=torch.cat([x * (1 - hole), hole], 1))
        # changing x inside the hole leaves the decoding alone; outside, it does not
        x_in = x + 5 * (hole == 1).float()  # where the hole is whole (its rim is soft)
        out_in = sd.image_decoder(hm, a, None, context=torch.cat([x_in * (1 - hole), hole], 1))
        x_out = x + 5 * (hole == 0).float()
        out_out = sd.image_decoder(hm, a, None,
                                   context=torch.cat([x_out * (1 - hole), hole], 1))
    pred = spies['loss_img'].calls[0][0]
    alpha = hole + (1 - hole) * torch.sigmoid(out[:, -1:])
    torch.testing.assert_close(pred, alpha * out[:, :-1] + (1 - alpha) * x, atol=1e-4,
                               rtol=1e-4)
    torch.testing.assert_close(out_in, out)
    assert (out_out - out).abs().max() > 1e-3
    with pytest.raises(ValueError, match='context channels'):
        sd.image_decoder(hm, a, None)


def test_background_tones_give_the_decoder_ys_hand_and_scene_brightness():
    """background.tones: the decoder's code is [a, mean/std of the image over its hand and
    over the rest]; for a reconstruction the image is x and the hand x's own."""
    from mmselfdis.models.heads import SelfDisHead
    img = torch.arange(2 * 3 * 4 * 4, dtype=torch.float).view(2, 3, 4, 4)
    hand = torch.zeros(2, 1, 4, 4)
    hand[:, :, :2] = 1  # the top half
    t = SelfDisHead.tones(img, hand)
    assert t.shape == (2, 12, 1, 1)
    top, bottom = img[:, :, :2].flatten(2), img[:, :, 2:].flatten(2)
    torch.testing.assert_close(t[:, :3, 0, 0], top.mean(-1))
    torch.testing.assert_close(t[:, 3:6, 0, 0], top.std(-1, unbiased=False), atol=1e-3, rtol=1e-3)
    torch.testing.assert_close(t[:, 6:9, 0, 0], bottom.mean(-1))
    sd, x, hm, hands, hole, a, spies = _background_run(TONES)
    assert sd.image_decoder.app_channels == sd.appearance_channels + 12
    with torch.no_grad():
        code = torch.cat([a, SelfDisHead.tones(x, hands).expand(-1, -1, *a.shape[-2:])], 1)
        out = sd.image_decoder(hm, code, None)
    alpha = hole + (1 - hole) * torch.sigmoid(out[:, -1:])
    torch.testing.assert_close(spies['loss_img'].calls[0][0],
                               alpha * out[:, :-1] + (1 - alpha) * x, atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match='hand_region options'):
        build_model(model_cfg('resnet', 3, dict(TONES, background=dict(tone=True))))


def test_background_inpaint_removes_ys_hand_and_paints_only_the_drawn_one():
    """background.inpaint: y's own hand is filled from y's pixels (OpenCV), the decoder paints
    only where the drawn hand goes; with the opacity off the mix is the inpainted y outside
    the drawn hand, exactly."""
    from mmselfdis.models.heads import BackgroundPainter
    img = torch.full((1, 1, 32, 32), 7.0, requires_grad=True)
    region = torch.zeros(1, 1, 32, 32)
    region[..., 8:20, 8:20] = 1
    dirty = img + 50 * region  # a "hand" on a flat scene
    out = BackgroundPainter.prefill(dirty, region)
    assert (out - 7).abs().max() < 2.5  # the hand (+50) gone; Telea drifts a little
    torch.testing.assert_close(out[region == 0], torch.full((1024 - 144, ), 7.0))
    scaled = BackgroundPainter.prefill(dirty.detach() / 100 - 1, region)  # another space
    torch.testing.assert_close(scaled, out.detach() / 100 - 1, atol=1e-4, rtol=0)
    out.sum().backward()
    assert img.grad[0, 0, 0, 0] == 1 and img.grad[0, 0, 10, 10] == 0  # no gradient inside
    with pytest.raises(ValueError, match='tones and inpaint'):
        BackgroundPainter(tones=True, inpaint=True)

    model = build_model(model_cfg('resnet', 3, INPAINT))
    sd = model.selfdis
    model.eval()
    _opaque_outside(model)
    g = torch.Generator().manual_seed(0)
    x, y = (torch.rand(2, 3, 64, 64, generator=g) * 255 for _ in range(2))
    kpts = torch.rand(2, 21, 2, generator=g).numpy() * 30 + 17
    ykp = torch.rand(2, 21, 2, generator=g).numpy() * 30 + 17
    vis = torch.ones(2, 21).numpy()
    with torch.no_grad():
        mix = model.mix(x, y, keypoints=kpts, keypoints_visible=vis, app_keypoints=ykp,
                        app_keypoints_visible=vis)
        drawn = sd.hand_region(sd.label_maps(kpts, vis))
        y_hand = sd.hand_region(sd.label_maps(ykp, vis))
    filled = BackgroundPainter.prefill(y, y_hand)
    outside = (drawn == 0).expand_as(y)
    torch.testing.assert_close(mix[outside], filled[outside], atol=1e-2, rtol=0)
    only_y = ((y_hand == 1) & (drawn == 0)).expand_as(y)
    assert only_y.any() and (mix[only_y] - y[only_y]).abs().mean() > 1  # y's hand is gone
    model.train()
    _, samples = make_batch(N, 3, seed=1)
    losses = model.loss(torch.randn(N, 3, 64, 64), samples)
    assert all(torch.isfinite(v) for k, v in losses.items() if k.startswith('loss'))


def _mix_inputs(g):
    """Two pose images, two appearance images and their keypoints (all visible) for mixes."""
    x, y = (torch.rand(2, 3, 64, 64, generator=g) * 255 for _ in range(2))
    kpts, ykp = (torch.rand(2, 21, 2, generator=g).numpy() * 30 + 17 for _ in range(2))
    return x, y, kpts, ykp, torch.ones(2, 21).numpy()


def _same_weight_mixes(options, x, y, kpts, ykp, vis, opaque=False):
    """Inpainting models with the same weights, one per dict of ``selfdis.background``
    ``options``, and their mixes of ``(x, y)`` (eval mode). ``opaque``: the decoders show the
    appearance image outside the holes (:func:`_opaque_outside`)."""
    models = [build_model(model_cfg('resnet', 3, dict(
        INPAINT, background=dict(INPAINT['background'], **o)))) for o in options]
    if opaque:
        _opaque_outside(models[0])
    for m in models[1:]:
        m.load_state_dict(models[0].state_dict())
    mixes = []
    for m in models:
        m.eval()
        with torch.no_grad():
            mixes.append(m.mix(x, y, keypoints=kpts, keypoints_visible=vis, app_keypoints=ykp,
                               app_keypoints_visible=vis))
    return models, mixes


def _eval_option_twins(options, x, y, kpts, ykp, vis, opaque=False):
    """Two inpainting models with the same weights, without and with eval-only
    ``selfdis.background`` ``options``: their mixes of ``(x, y)``. Checks that in training the
    option changes nothing (the same losses). ``opaque``: both decoders show the appearance
    image outside the holes (:func:`_opaque_outside`)."""
    models, mixes = _same_weight_mixes([{}, options], x, y, kpts, ykp, vis, opaque)
    _, samples = make_batch(N, 3, seed=1)
    inputs = torch.randn(N, 3, 64, 64)
    losses = []
    for m in models:
        m.train()
        torch.manual_seed(0)
        losses.append(m.loss(inputs, samples))
    for k in losses[0]:
        torch.testing.assert_close(losses[0][k], losses[1][k])
    return models[0].selfdis, mixes


@pytest.mark.parametrize('options, message', [
    (dict(paint_sigma=-1), 'paint_sigma must be >= 0'),
    (dict(inpaint=True, fill_sigma=-1), 'fill_sigma must be >= 0'),
    (dict(fill_sigma=2.0), 'fill_sigma smooths the inpainted fill: it needs inpaint=True'),
    (dict(inpaint=True, fill_margin=-0.01), r'fill_margin must be in \[0, 0.5\)'),
    (dict(inpaint=True, fill_margin=0.5), r'fill_margin must be in \[0, 0.5\)'),
    (dict(fill_margin=0.02), 'fill_margin grows the inpainted region: it needs inpaint=True'),
    (dict(inpaint=True, inpaint_margin=-0.01), r'inpaint_margin must be in \[0, 0.5\)'),
    (dict(inpaint=True, inpaint_margin=0.5), r'inpaint_margin must be in \[0, 0.5\)'),
    (dict(inpaint_margin=0.02), 'inpaint_margin grows the inpainted region: it needs '
     'inpaint=True'),
])
def test_background_painter_refuses_bad_eval_options(options, message):
    from mmselfdis.models.heads import BackgroundPainter
    with pytest.raises(ValueError, match=message):
        BackgroundPainter(**options)


def test_background_paint_sigma_low_passes_the_paint_of_mixes_only():
    """background.paint_sigma: in eval mode (mixing) the painted colour is blurred like
    OpenCV's GaussianBlur before compositing; in training the paint is as decoded."""
    import cv2
    from mmselfdis.models.heads import BackgroundPainter
    from mmselfdis.models.utils import gaussian_blur
    g = torch.Generator().manual_seed(0)
    img = torch.rand(2, 3, 32, 32, generator=g) * 255
    ref = np.stack([cv2.GaussianBlur(i.permute(1, 2, 0).numpy(), (9, 9), 1.5)
                    for i in img]).transpose(0, 3, 1, 2)
    torch.testing.assert_close(gaussian_blur(img, 1.5), torch.from_numpy(ref),
                               atol=1e-3, rtol=0)
    out = torch.cat([img, torch.full((2, 1, 32, 32), 50.0)], 1)  # opaque everywhere
    hole = torch.zeros(2, 1, 32, 32)
    torch.testing.assert_close(BackgroundPainter.composite(out, img * 0, hole, 1.5),
                               torch.from_numpy(ref), atol=1e-3, rtol=0)

    x, y = (torch.rand(2, 3, 64, 64, generator=g) * 255 for _ in range(2))
    kpts = torch.rand(2, 21, 2, generator=g).numpy() * 30 + 17
    vis = torch.ones(2, 21).numpy()
    # in training the decoded images are the same with and without the option
    sd, mixes = _eval_option_twins(dict(paint_sigma=2.0), x, y, kpts, kpts, vis)
    drawn = sd.hand_region(sd.label_maps(kpts, vis))
    inside = (drawn == 1).expand_as(x)
    assert (mixes[0] - mixes[1])[inside].abs().mean() > 1  # the paint is blurred
    # the paint's high frequencies are gone: neighbouring pixels differ less
    tv = [(m[:, :, 1:] - m[:, :, :-1])[inside[:, :, 1:] & inside[:, :, :-1]].abs().mean()
          for m in mixes]
    assert tv[1] < tv[0]


def test_background_fill_sigma_smooths_the_inpainted_fill_of_mixes_only():
    """background.fill_sigma: the inpainted fill (only there) is low-passed like OpenCV's
    GaussianBlur of the inpainted image, in mixes (eval mode); the drawn hand, the rest of y
    and training are unchanged; it needs inpaint."""
    import cv2
    from mmselfdis.models.heads import BackgroundPainter
    g = torch.Generator().manual_seed(0)
    img = torch.rand(1, 1, 32, 32, generator=g) * 255
    region = torch.zeros(1, 1, 32, 32)
    region[..., 8:20, 8:20] = 1
    sharp, smooth = (BackgroundPainter.prefill(img, region, sigma=s) for s in (0.0, 2.0))
    src = img[0, 0].numpy()
    lo, span = float(src.min()), (float(src.max()) - float(src.min())) / 255
    ref = cv2.GaussianBlur(cv2.inpaint(np.ascontiguousarray((src - lo) / span),
                                       region[0, 0].numpy().astype(np.uint8), 3.0,
                                       cv2.INPAINT_TELEA), (0, 0), 2.0) * span + lo
    inside = region == 1
    torch.testing.assert_close(smooth[inside], torch.from_numpy(ref)[inside[0, 0]],
                               atol=1e-2, rtol=0)
    torch.testing.assert_close(smooth[~inside], img[~inside])
    # the fill varies less from pixel to pixel
    tv = [(f[..., 9:19, 9:18] - f[..., 9:19, 10:19]).abs().mean() for f in (sharp, smooth)]
    assert tv[1] < tv[0]

    x, y, kpts, ykp, vis = _mix_inputs(g)
    # in training the losses are the same with and without the option
    sd, mixes = _eval_option_twins(dict(fill_sigma=2.0), x, y, kpts, ykp, vis)
    with torch.no_grad():
        drawn = sd.hand_region(sd.label_maps(kpts, vis))
        y_hand = sd.hand_region(sd.label_maps(ykp, vis))
    changed = (mixes[0] - mixes[1]).abs() > 1e-3
    only_y = ((y_hand > 0.5) & (drawn == 0)).expand_as(y)
    assert changed[only_y].any()  # the fill where only y's hand was is smoothed
    assert not changed[(y_hand <= 0.5).expand_as(y) & (drawn == 0).expand_as(y)].any()


def test_background_fill_margin_grows_the_inpainted_region_of_mixes_only():
    """background.fill_margin: in mixes (eval mode) y's hand region that is inpainted is the
    one with both radii grown by the margin; the mix is y inpainted over that region outside
    the drawn hand; training is unchanged; it needs inpaint and a margin in [0, 0.5)."""
    from mmselfdis.models.heads import BackgroundPainter
    g = torch.Generator().manual_seed(0)
    painter = BackgroundPainter(radius=0.06, arm_radius=0.08, inpaint=True, fill_margin=0.03)
    wide = BackgroundPainter(radius=0.09, arm_radius=0.11, inpaint=True)
    maps = torch.rand(2, 21, 16, 16, generator=g)
    torch.testing.assert_close(painter.hand_region(maps, (64, 64), margin=0.03),
                               wide.hand_region(maps, (64, 64)))
    base = painter.hand_region(maps, (64, 64))
    assert (painter.hand_region(maps, (64, 64), margin=0.03) >= base).all()

    x, y, kpts, ykp, vis = _mix_inputs(g)
    # in training the losses are the same with and without the option; outside the holes
    # both decoders show the appearance image
    sd, mixes = _eval_option_twins(dict(fill_margin=0.03), x, y, kpts, ykp, vis, opaque=True)
    with torch.no_grad():
        drawn = sd.hand_region(sd.label_maps(kpts, vis))
        y_maps = sd.label_maps(ykp, vis)
        y_hand, y_grown = sd.hand_region(y_maps), sd.hand_region(y_maps, margin=0.03)
    outside = (drawn == 0).expand_as(y)
    for mix, region in zip(mixes, (y_hand, y_grown)):
        torch.testing.assert_close(mix[outside], BackgroundPainter.prefill(y, region)[outside],
                                   atol=1e-2, rtol=0)
    ring = ((y_grown > 0.5) & (y_hand <= 0.5) & (drawn == 0)).expand_as(y)
    assert ring.any() and (mixes[1] - y)[ring].abs().mean() > 1  # the ring is inpainted too
    assert not ((mixes[0] - y)[ring].abs() > 1e-2).any()  # without the margin it stays y


def test_background_inpaint_margin_grows_the_inpainted_region_in_training_too(monkeypatch):
    """background.inpaint_margin: in training every image's own hand is inpainted over its
    region grown by the margin (the reconstructions' x, the mixes' y, the cycle's x and mix),
    while the holes where the decoder must paint stay the same; when mixing it adds to
    fill_margin (0.02 + 0.01 gives the mixes of fill_margin 0.03)."""
    from mmselfdis.models.heads import BackgroundPainter
    g = torch.Generator().manual_seed(0)
    x, y, kpts, ykp, vis = _mix_inputs(g)
    options = [dict(fill_margin=0.03), dict(inpaint_margin=0.02, fill_margin=0.01), dict()]
    models, mixes = _same_weight_mixes(options, x, y, kpts, ykp, vis, opaque=True)
    torch.testing.assert_close(mixes[0], mixes[1])
    assert (mixes[0] - mixes[2]).abs().amax() > 1

    prefill, composite = BackgroundPainter.prefill, BackgroundPainter.composite
    seen = dict(regions=[], holes=[])

    def record_prefill(img, region, *args, **kwargs):
        seen['regions'].append(region.detach().clone())
        return prefill(img, region, *args, **kwargs)

    def record_composite(out, bg, hole, *args, **kwargs):
        seen['holes'].append(hole.detach().clone())
        return composite(out, bg, hole, *args, **kwargs)

    monkeypatch.setattr(BackgroundPainter, 'prefill', staticmethod(record_prefill))
    monkeypatch.setattr(BackgroundPainter, 'composite', staticmethod(record_composite))
    _, samples = make_batch(N, 3, seed=1)
    inputs = torch.randn(N, 3, 64, 64)
    runs = []
    for m in (models[2], models[1]):  # no margin in training, then inpaint_margin=0.02
        seen['regions'].clear(), seen['holes'].clear()
        m.train()
        torch.manual_seed(0)
        m.loss(inputs, samples)
        runs.append(dict(regions=list(seen['regions']), holes=list(seen['holes'])))
    plain, grown = runs
    assert len(plain['regions']) == len(grown['regions']) == 2  # the batch once, the mixes
    # where the decoder must paint the reconstructions and the mixes: unchanged (the
    # cycle's holes come from the pose model's reading of the mixes, which differ)
    torch.testing.assert_close(plain['holes'][0], grown['holes'][0])
    sd = models[1].selfdis
    maps = torch.stack([s.gt_fields.heatmaps for s in samples])
    torch.testing.assert_close(plain['regions'][0], sd.hand_region(maps))
    torch.testing.assert_close(grown['regions'][0], sd.hand_region(maps, margin=0.02))
    for a, b in zip(plain['regions'], grown['regions']):
        assert (b >= a - 1e-6).all() and ((b > 0.5) & (a <= 0.5)).any()


@pytest.mark.parametrize('source', ['backbone.layer2', 'image'], ids=['tapped', 'image'])
def test_cycle_pose_sigma_low_passes_the_mix_for_the_pose_path_only(source):
    """cycle_pose_sigma: the pose estimator re-reads each mix blurred (L_cycle-pose and
    L_dual-pose change), the appearance path reads it as it is (L_dual-img unchanged)."""
    from mmselfdis.models.utils import gaussian_blur
    cfgs = [dict(LABELS, background=dict(radius=0.06, inpaint=True), appearance_source=source)
            for _ in range(2)]
    cfgs[1]['cycle_pose_sigma'] = 1.5
    models = [build_model(model_cfg('resnet', 3, c)) for c in cfgs]
    models[1].load_state_dict(models[0].state_dict())
    calls = []
    for m in models:
        m.train()
        m.backbone.register_forward_pre_hook(lambda mod, args: calls.append(args[0].detach()))
    _, samples = make_batch(N, 3, seed=1)
    inputs = torch.randn(N, 3, 64, 64)
    losses, seen = [], []
    for m in models:
        calls.clear()
        torch.manual_seed(0)
        losses.append(m.loss(inputs, samples))
        seen.append(list(calls))
    a, b = losses
    for k in ('loss_img', 'loss_dual_img', 'loss_kpt'):
        torch.testing.assert_close(a[k], b[k])
    for k in ('loss_cycle_pose', 'loss_dual_pose'):
        assert (a[k] - b[k]).abs() > 1e-6
    # the backbone read the batch, then the mixes (as they are), then (sigma) the mixes
    # blurred; with the image as the appearance source it does not read them unblurred
    mixed = seen[0][-1]
    assert seen[1][-1].shape == mixed.shape
    torch.testing.assert_close(seen[1][-1], gaussian_blur(mixed, 1.5), atol=1e-4, rtol=1e-4)
    assert len(seen[1]) == len(seen[0]) + (source != 'image')
    with pytest.raises(ValueError, match='cycle_pose_sigma must be >= 0'):
        build_model(model_cfg('resnet', 3, dict(LABELS, cycle_pose_sigma=-1.0)))


def test_ssim_loss_is_one_minus_ssim_weighted_at_window_centres():
    """ImageSSIMLoss = w * (1 - SSIM): 0 for identical images, the metric's SSIM otherwise; a
    weight map weights each window position by the weight at its centre."""
    from mmselfdis.evaluation.functional import ssim, ssim_map
    from mmselfdis.models.losses import ImageSSIMLoss
    g = torch.Generator().manual_seed(0)
    a = torch.rand(2, 1, 24, 24, generator=g) * 255
    b = (a + torch.randn(2, 1, 24, 24, generator=g) * 30).clamp(0, 255)
    loss = ImageSSIMLoss(loss_weight=2.0)
    assert float(loss(a, a)) == pytest.approx(0.0, abs=1e-6)
    want = 2.0 * (1 - ssim(a, b).mean())
    torch.testing.assert_close(loss(a, b).double(), want, atol=1e-5, rtol=1e-4)
    # a uniform weight changes nothing; a weight at one pixel picks the window centred there
    torch.testing.assert_close(loss(a, b, torch.full((2, 1, 24, 24), 3.0)), loss(a, b))
    w = torch.zeros(2, 1, 24, 24)
    w[0, 0, 9, 12] = 1.0
    smap = ssim_map(a, b)                 # 11 x 11 windows: centre (i + 5, j + 5)
    torch.testing.assert_close(loss(a, b, w).double(), 2.0 * (1 - smap[0, 0, 4, 7]),
                               atol=1e-5, rtol=1e-4)
    # differentiable, and detail unrelated to the target costs more than a flat fill
    flat = torch.full_like(a, float(a.mean()))
    noisy = (flat + torch.randn(a.shape, generator=g) * a.std()).requires_grad_()
    assert float(loss(noisy, a)) > float(loss(flat, a))
    loss(noisy, a).backward()
    assert noisy.grad is not None and noisy.grad.abs().sum() > 0
    with pytest.raises(ValueError, match='differ in shape'):
        loss(a, b[:, :, :20])
    with pytest.raises(ValueError, match='data_range and sigma'):
        ImageSSIMLoss(data_range=0)


def test_loss_img_ssim_compares_the_reconstruction_with_its_input_in_image_space():
    """loss_img_ssim: 1 - SSIM of D_I(p(x), a(x)) and x, both mapped back to image space, with
    L_I's foreground weight; off by default."""
    from mmselfdis.evaluation.functional import ssim_map
    model, x, samples, losses, spies = _run(LABELS)
    assert model.selfdis.loss_img_ssim is None and 'loss_img_ssim' not in losses
    cfg = dict(LABELS, foreground_weight=4.0,
               loss_img_ssim=dict(type='ImageSSIMLoss', loss_weight=0.5))
    model, x, samples, losses, spies = _run(cfg)
    sd = model.selfdis
    rec, target, weight = spies['loss_img'].calls[0]
    pre = model.data_preprocessor
    rec_img, x_img = sd.to_image_space(rec, pre), sd.to_image_space(x, pre)
    assert (x_img - x).abs().mean() > 10  # grey levels, not the normalised inputs
    dissim = 1 - ssim_map(rec_img, x_img).float()
    w = weight.expand(N, 1, *x.shape[-2:])[..., 5:-5, 5:-5].expand_as(dissim)
    want = 0.5 * (w * dissim).sum() / w.sum()
    torch.testing.assert_close(losses['loss_img_ssim'], want, atol=1e-5, rtol=1e-4)
    # the weight matters: the plain mean differs
    assert not torch.allclose(losses['loss_img_ssim'], 0.5 * dissim.mean(), atol=1e-5)


def test_turns_are_the_eight_symmetries_and_random_turns_never_keep_the_layout():
    from mmselfdis.models.utils import random_turns, turn
    x = torch.arange(16.).view(1, 1, 4, 4)
    turned = [turn(x, k) for k in range(8)]
    assert torch.equal(turned[0], x)
    assert len({tuple(t.flatten().tolist()) for t in turned}) == 8  # all distinct
    assert torch.equal(turn(x, 1), torch.rot90(x, 1, (2, 3))) and torch.equal(turn(x, 4),
                                                                              x.flip(3))
    with pytest.raises(ValueError, match='0..7'):
        turn(x, 8)
    batch = torch.randn(64, 2, 4, 4)
    out, ks = random_turns(batch, torch.Generator().manual_seed(0))
    assert set(ks.tolist()) == set(range(1, 8))
    for i in range(64):
        assert torch.equal(out[i:i + 1], turn(batch[i:i + 1], int(ks[i])))
    wide = torch.randn(32, 2, 4, 6)  # not square: only the turns that keep the shape
    out, ks = random_turns(wide, torch.Generator().manual_seed(0))
    assert out.shape == wide.shape and set(ks.tolist()) == {2, 4, 6}


def test_appearance_turn_decodes_each_reconstruction_with_the_turned_sources_code(monkeypatch):
    """L_I's reconstruction is D_I(p(x), E_I(turned x)); the mixes and the dual term keep
    a(y) of y as it is."""
    from mmselfdis.models.heads import selfdis_losses
    from mmselfdis.models.utils import random_turns, turn
    drawn = []

    def recording(x, generator=None):
        out, ks = random_turns(x, torch.Generator().manual_seed(len(drawn)))
        drawn.append(ks)
        return out, ks

    monkeypatch.setattr(selfdis_losses, 'random_turns', recording)
    # a spatial code, so that a turn moves it
    model, x, samples, losses, spies = _run(dict(
        MODULATED, appearance_turn=True,
        encoder=dict(base_channels=8, max_channels=16, pool_grid=None)), sensitive_encoder=True)
    sd = model.selfdis
    (ks, ) = drawn
    assert len(ks) == N and (ks > 0).all()
    with torch.no_grad():
        p, a = sd.encode(model, x)
        a_turned = sd.appearance_encoder(torch.cat([turn(x[i:i + 1], int(ks[i]))
                                                    for i in range(N)]))
        rec = sd.decode(p, a_turned)
        mix = sd.decode(p[:M], a[Y])
        _, a_hat = sd.encode(model, mix)
    (pred, target), = spies['loss_img'].calls
    torch.testing.assert_close(pred, rec, atol=1e-5, rtol=1e-4)
    assert not torch.allclose(a_turned, a, atol=1e-2)  # the turn moved the code
    assert not torch.allclose(pred, sd.decode(p, a), atol=1e-3)  # and what is decoded
    (pred, target), = spies['loss_dual_img'].calls
    torch.testing.assert_close(pred, a_hat, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(target, a[Y], atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match='appearance_turn'):
        build_model(model_cfg('resnet', 3, dict(MODULATED, appearance_turn='yes')))
