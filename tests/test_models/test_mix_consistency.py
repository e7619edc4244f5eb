"""MixConsistencyEstimator: heatmaps on a mix pulled towards the model's own on x."""
import copy

import numpy as np
import pytest
import torch

from ._tiny import INPUT, NUM_KPTS, build_model, codec, make_batch


def _cfg(weight=1.0):
    return dict(
        type='MixConsistencyEstimator', consistency=dict(loss_weight=weight),
        data_preprocessor=dict(type='PoseDataPreprocessor', mean=[128.0], std=[64.0]),
        backbone=dict(type='UNetEncoder', in_channels=1, base_channels=4, depth=4,
                      norm_cfg=dict(type='BN')),
        head=dict(type='HeatmapHead', in_channels=32, out_channels=NUM_KPTS,
                  deconv_out_channels=(8, 8), deconv_kernel_sizes=(2, 2),
                  loss=dict(type='KeypointMSELoss', use_target_weight=True), decoder=codec()),
        test_cfg=dict(flip_test=False))


def _batch(mixed=(True, False, True, False)):
    inputs, samples = make_batch(n=len(mixed), channels=1)
    g = torch.Generator().manual_seed(5)
    for s, m in zip(samples, mixed):
        x = (torch.rand(INPUT, INPUT, generator=g) * 255).to(torch.uint8).numpy()
        s.set_metainfo(dict(mixed=m, mix_pose_image=x if m else None))
    return inputs, samples


def test_consistency_is_the_weighted_mse_to_the_models_own_heatmaps_on_x():
    model = build_model(_cfg(weight=2.0))
    torch.nn.init.normal_(model.head.final_layer.weight, std=1.0)  # heatmaps far from 0
    model.train()
    inputs, samples = _batch()
    losses = model.loss(inputs, samples)
    assert set(losses) >= {'loss_kpt', 'loss_consistency'}
    # by hand: the teacher is a copy of the model in training mode (x's batch statistics)
    # on x, in model space
    idx = [0, 2]
    x = torch.stack([torch.from_numpy(samples[i].metainfo['mix_pose_image'])[None].float()
                     for i in idx])
    copy_ = copy.deepcopy(model).train()
    with torch.no_grad():
        teacher = copy_.head.forward(copy_.extract_feat((x - 128.0) / 64.0))
    feats = model.extract_feat(inputs)
    student_train = model.head.forward(tuple(f[idx] for f in feats)).detach()
    w = torch.stack([samples[i].gt_instance_labels.keypoint_weights.reshape(-1) for i in idx])
    expected = 2.0 * (((student_train - teacher) ** 2).mean(dim=(2, 3)) * w).mean()
    assert torch.allclose(losses['loss_consistency'], expected, rtol=1e-4, atol=1e-7)
    assert float(expected) > 1e-3  # not trivially zero


def test_teacher_pass_leaves_weights_and_statistics_and_only_the_student_learns():
    model = build_model(_cfg())
    model.train()
    inputs, samples = _batch()
    bn = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)][0]
    x = model.pose_images(samples, [0, 2], inputs)
    before = bn.running_mean.clone()
    teacher = model.teacher_heatmaps(x)
    assert torch.equal(bn.running_mean, before) and model.training
    assert not teacher.requires_grad
    loss = model.loss(inputs, samples)['loss_consistency']
    loss.backward()
    grads = [p.grad for p in model.backbone.parameters() if p.grad is not None]
    assert grads and any(float(g.abs().sum()) > 0 for g in grads)


def test_running_statistics_move_exactly_as_for_the_plain_estimator():
    """The consistency term's passes (teacher on x, head on the mixes) leave BatchNorm's
    running statistics where the plain estimator's loss leaves them."""
    cfg = _cfg()
    cfg['head']['deconv_out_channels'] = (8, 8)  # HeatmapHead: deconv + BN + ReLU
    model = build_model(cfg)
    plain_cfg = dict(cfg, type='TopdownPoseEstimator')
    plain_cfg.pop('consistency')
    plain = build_model(plain_cfg)
    plain.load_state_dict(model.state_dict())
    model.train()
    plain.train()
    inputs, samples = _batch()
    model.loss(inputs, samples)
    plain.loss(inputs, samples)
    bns = [(n, m) for n, m in model.named_modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert any(n.startswith('head') for n, _ in bns)
    for name, value in plain.state_dict().items():
        if 'running' in name:
            torch.testing.assert_close(model.state_dict()[name], value, msg=name)


def test_no_mix_in_the_batch_gives_zero_and_bad_settings_are_named():
    model = build_model(_cfg())
    inputs, samples = _batch(mixed=(False, False))
    assert float(model.loss(inputs, samples)['loss_consistency']) == 0.0
    for bad, msg in ((dict(loss_weight=-1), 'loss_weight'), (dict(teacher='mean'), "'self'"),
                     (dict(teacher='ema', momentum=0), 'momentum'),
                     (dict(weight=1), 'unknown keys')):
        cfg = _cfg()
        cfg['consistency'] = bad
        with pytest.raises(ValueError, match=msg):
            build_model(cfg)
    inputs, samples = _batch()
    samples[0].set_metainfo(dict(mix_pose_image=np.zeros((32, 32), np.uint8)))
    with pytest.raises(ValueError, match='crop before mixing'):
        model.loss(inputs, samples)


def test_batch_mix_marks_the_pose_image(tmp_path):
    from mmselfdis.apis import BatchMixReconstruct
    from tests.test_augment._fixtures import save_tiny_generator
    ckpt = save_tiny_generator(str(tmp_path / 'gen.pth'), channels=1)
    model = build_model(_cfg())
    imgs = (torch.rand(3, 1, INPUT, INPUT, generator=torch.Generator().manual_seed(1)) * 255)
    _, samples = make_batch(n=3, channels=1)
    aug = BatchMixReconstruct(checkpoint=ckpt, prob=1.0, mean=[128.0], std=[64.0])
    out, samples = aug(model.data_preprocessor({'inputs': list(imgs), 'data_samples': samples},
                                               False)['inputs'], samples)
    for i, s in enumerate(samples):
        assert s.metainfo['mixed']
        torch.testing.assert_close(s.metainfo['mix_pose_image'], imgs[i], atol=1e-3, rtol=0)
    # and the estimator takes them as x
    x = model.pose_images(samples, [0, 1, 2], out)
    torch.testing.assert_close(x, (imgs - 128.0) / 64.0, atol=1e-4, rtol=0)


def test_ema_teacher_averages_the_weights_and_export_drops_it(tmp_path):
    cfg = _cfg()
    cfg['consistency'] = dict(loss_weight=1.0, teacher='ema', momentum=0.25)
    model = build_model(cfg)
    model.train()
    inputs, samples = _batch()
    optim = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    w = model.head.final_layer.weight
    ema_w = model.ema_teacher.module['head'].final_layer.weight
    assert not ema_w.requires_grad
    loss = sum(v for k, v in model.loss(inputs, samples).items() if k.startswith('loss'))
    torch.testing.assert_close(ema_w, w.detach())  # the first step copies
    optim.zero_grad()
    loss.backward()
    optim.step()
    before = ema_w.detach().clone()
    losses = model.loss(inputs, samples)
    torch.testing.assert_close(ema_w, 0.75 * before + 0.25 * w.detach())
    # the teacher's heatmaps are the EMA copy's, not the model's
    x = model.pose_images(samples, [0, 2], inputs)
    net = copy.deepcopy(model.ema_teacher.module).train()
    with torch.no_grad():
        expected = net['head'].forward(net['backbone'](x))
    torch.testing.assert_close(model.teacher_heatmaps(x), expected)
    assert losses['loss_consistency'] >= 0
    # export: a plain TopdownPoseEstimator without the EMA copy
    import importlib.util
    import os.path as osp

    from mmengine.config import Config
    from tests.conftest import REPO
    spec = importlib.util.spec_from_file_location('export', osp.join(REPO, 'tools', 'export.py'))
    export = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(export)
    state = model.state_dict()
    assert any(k.startswith('ema_teacher.') for k in state)
    stripped = export.strip_state_dict(state)
    assert stripped and not any(k.startswith('ema_teacher.') for k in stripped)
    vanilla, _ = export.export_config(Config(dict(model=cfg)))
    assert vanilla.model.type == 'TopdownPoseEstimator' and 'consistency' not in vanilla.model
