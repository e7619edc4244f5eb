"""GradBalance: the image branch's gradient on the shared layers, balanced as documented."""
import pytest
import torch
from torch import nn

from mmselfdis.models.utils import (GradBalance, balance_gradient, gradient_probe,
                                    shared_parameter_groups)
from ._tiny import build_model, make_batch, model_cfg

SHARED = ('backbone.stages.0', 'backbone.stages.1', 'backbone.stages.2')


def _rand(seed, *shape):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def test_balance_gradient_norm_cap_and_projection_by_hand():
    gp, gb = _rand(0, 3, 4, 5), 10 * _rand(1, 3, 4, 5)
    out, stats = balance_gradient(gp, gb, 'norm', 0.5)
    s = 0.5 * gp.norm() / gb.norm()
    assert s < 1  # the cap is active in this case
    torch.testing.assert_close(out, gp + s * gb)
    assert stats['scale'] == pytest.approx(float(s), rel=1e-5)
    # a branch gradient below the cap passes unchanged
    out, stats = balance_gradient(gp, 0.1 * gb / 10, 'norm', 1.0)
    torch.testing.assert_close(out, gp + 0.01 * gb)
    assert stats['scale'] == pytest.approx(1.0)
    # projection: a conflicting component along g_pose is removed, nothing else
    conflict = -2 * gp + _rand(2, 3, 4, 5)
    dot = (conflict * gp).sum()
    assert dot < 0
    out, _ = balance_gradient(gp, conflict, 'project')
    torch.testing.assert_close(out, gp + conflict - dot / gp.norm()**2 * gp)
    assert float(((out - gp) * gp).sum()) == pytest.approx(0.0, abs=1e-3)
    agree = gp + 0.1 * _rand(3, 3, 4, 5)
    out, _ = balance_gradient(gp, agree, 'project')
    torch.testing.assert_close(out, gp + agree)  # no conflict: unchanged
    # project_norm: projected, then capped at max_ratio x |g_pose|
    out, _ = balance_gradient(gp, 10 * conflict, 'project_norm', 1.0)
    proj = 10 * conflict - (10 * dot) / gp.norm()**2 * gp
    torch.testing.assert_close(out, gp + proj * gp.norm() / proj.norm())
    # nothing to balance against: plain sum
    zero = torch.zeros_like(gp)
    torch.testing.assert_close(balance_gradient(zero, gb, 'norm')[0], gb)


@pytest.mark.parametrize('bad, match', [
    (dict(mode='clip'), 'mode must be one of'),
    (dict(max_ratio=0), 'max_ratio must be a finite number > 0'),
    (dict(max_ratio=True), 'max_ratio must be a finite number > 0'),
])
def test_bad_balance_options_are_named(bad, match):
    with pytest.raises(ValueError, match=match):
        GradBalance(**bad)


def test_head_rejects_unknown_balance_keys():
    with pytest.raises(ValueError, match="unknown keys \\['ratio'\\]"):
        build_model(model_cfg('unet', 1, selfdis=dict(grad_balance=dict(ratio=2.0))))


def _feature_grads(model, inputs, samples):
    """Pose and branch gradients at the shared feature and on the parameters, by hand."""
    captured = []  # the first call is the real batch (the mixes are re-encoded later)
    handle = model.backbone.stages[2].register_forward_hook(lambda m, i, o: captured.append(o))
    losses = model.loss(inputs, samples)
    handle.remove()
    pose = losses['loss_kpt']
    other = sum(v for k, v in losses.items() if k.startswith('loss') and k != 'loss_kpt')
    params = [p for n in SHARED for p in model.get_submodule(n).parameters()]
    x = captured[0]
    gp_x, = torch.autograd.grad(pose, x, retain_graph=True)
    gb_x, = torch.autograd.grad(other, x, retain_graph=True)
    gp = torch.autograd.grad(pose, params, retain_graph=True, allow_unused=True)
    gb = torch.autograd.grad(other, params, retain_graph=True, allow_unused=True)
    return gp_x, gb_x, gp, gb


@pytest.mark.parametrize('mix_ratio', [0.0, 0.5])  # Table 4 rows 2 and 3
def test_balanced_head_scales_only_the_branch_gradient_on_shared_layers(mix_ratio):
    cfg = dict(mix_ratio=mix_ratio)
    plain = build_model(model_cfg('unet', 1, selfdis=dict(cfg, grad_balance=None)))
    ratio = 0.5
    bal = build_model(model_cfg('unet', 1, selfdis=dict(
        cfg, grad_balance=dict(mode='norm', max_ratio=ratio))))
    bal.load_state_dict(plain.state_dict())
    plain.train()
    bal.train()
    inputs, samples = make_batch(4, channels=1)

    gp_x, gb_x, gp, gb = _feature_grads(plain, inputs, samples)
    s = min(1.0, ratio * float(gp_x.norm()) / float(gb_x.norm()))
    assert s < 0.99, 'the image branch should dominate at the shared feature here'

    plain.zero_grad()
    losses = plain.loss(inputs, samples)
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    bal.zero_grad()
    losses_b = bal.loss(inputs, samples)
    for k in losses:  # the forward pass is unchanged
        torch.testing.assert_close(losses_b[k], losses[k])
    # the branch took its copy; the frozen re-encoding of the mixes was not split
    assert bal.selfdis.grad_balance._pending is None
    sum(v for k, v in losses_b.items() if k.startswith('loss')).backward()

    params = [(n, p) for m in SHARED for n, p in bal.get_submodule(m).named_parameters()]
    for (name, p), g_p, g_b in zip(params, gp, gb):
        want = (0 if g_p is None else g_p) + s * (0 if g_b is None else g_b)
        torch.testing.assert_close(p.grad, want, rtol=1e-4, atol=1e-7, msg=name)
    # every other parameter (pose path after the split, the branch's own networks) as before
    plain_grads = dict(plain.named_parameters())
    shared = {f'{m}.{n}' for m in SHARED for n, _ in bal.get_submodule(m).named_parameters()}
    others = [(n, p) for n, p in bal.named_parameters() if n not in shared and p.grad is not None]
    assert any(n.startswith('selfdis.appearance_encoder') for n, _ in others)
    assert any(n.startswith('head.') for n, _ in others)
    for name, p in others:
        torch.testing.assert_close(p.grad, plain_grads[name].grad, msg=name)
    assert bal.selfdis.grad_balance.last['scale'] == pytest.approx(s, rel=1e-4)


def test_default_is_the_norm_cap_at_a_quarter_and_eval_is_untouched():
    model = build_model(model_cfg('unet', 1))
    gb = model.selfdis.grad_balance
    assert (gb.mode, gb.max_ratio) == ('norm', 0.25)
    inputs, _ = make_batch(2, channels=1)
    model.eval()
    out = model.backbone.stages[2](model.backbone.stages[1](model.backbone.stages[0](inputs)))
    assert 'Junction' not in type(out.grad_fn).__name__
    model.train()
    with torch.no_grad():
        model.extract_feat(inputs)
    assert gb._pending is None  # no split without gradients


def test_gradient_probe_equals_autograd_by_hand():
    torch.manual_seed(0)
    shared, pose_head, img_head = nn.Linear(5, 6), nn.Linear(6, 2), nn.Linear(6, 3)
    x = torch.randn(8, 5)
    h = torch.tanh(shared(x))
    losses = dict(loss_kpt=pose_head(h).pow(2).mean(), loss_img=img_head(h).abs().mean(),
                  loss_gan=(3 * h).mean(), loss_const=torch.tensor(0.5))
    groups = {'shared': list(shared.parameters()), 'img': list(img_head.parameters())}
    rec = gradient_probe(losses, groups, ['loss_kpt'], total=sum(losses.values()))

    def flat(loss, params):
        gs = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
        return torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1)
                          for g, p in zip(gs, params)])

    ps = groups['shared']
    g_pose = flat(losses['loss_kpt'], ps)
    g_other = flat(losses['loss_img'] + losses['loss_gan'], ps)
    r = rec['shared']
    assert r['norm/loss_kpt'] == pytest.approx(float(g_pose.norm()), rel=1e-5)
    assert r['norm/loss_img'] == pytest.approx(float(flat(losses['loss_img'], ps).norm()),
                                               rel=1e-5)
    assert r['norm/loss_const'] == 0.0
    assert r['norm/other'] == pytest.approx(float(g_other.norm()), rel=1e-5)
    cos = float(g_pose @ g_other / (g_pose.norm() * g_other.norm()))
    assert r['cos'] == pytest.approx(cos, abs=1e-5)
    assert r['ratio'] == pytest.approx(float(g_other.norm() / g_pose.norm()), rel=1e-5)
    assert r['applied_other'] == pytest.approx(r['norm/other'], rel=1e-4)  # nothing balanced
    # the image head's own parameters get nothing from the pose loss
    assert rec['img']['norm/pose'] == 0.0 and rec['img']['ratio'] == float('inf')
    with pytest.raises(ValueError, match='loss_pose'):
        gradient_probe(losses, groups, ['loss_pose'])


def test_shared_groups_are_the_modules_up_to_the_appearance_source():
    model = build_model(model_cfg('unet', 1))
    groups = shared_parameter_groups(model, 'backbone.stages.2')
    assert list(groups) == list(SHARED)
    for name, params in groups.items():
        assert [id(p) for p in params] == [id(p) for p in model.get_submodule(name).parameters()]
    res = build_model(model_cfg('resnet', 3))
    names = list(shared_parameter_groups(res, 'backbone.layer2'))
    assert names[-2:] == ['backbone.layer1', 'backbone.layer2'] and len(names) >= 4
    assert not any(n.startswith(('backbone.layer3', 'head', 'selfdis')) for n in names)
    with pytest.raises(ValueError, match="no child 'stage9'"):
        shared_parameter_groups(model, 'backbone.stage9')
