"""KeypointL1Loss: the paper's L1 heatmap loss (eq. 1/6), a drop-in for KeypointMSELoss."""
import pytest
import torch

from mmselfdis.models.losses.keypoint_l1_loss import KeypointL1Loss


def test_l1_heatmap_loss_by_hand_with_weights_and_mask():
    g = torch.Generator().manual_seed(0)
    pred, target = torch.rand(2, 3, 4, 4, generator=g), torch.rand(2, 3, 4, 4, generator=g)
    w = torch.tensor([[1.0, 0.0, 1.0], [0.5, 1.0, 1.0]])
    want = ((pred - target).abs() * w[:, :, None, None]).mean()
    assert float(KeypointL1Loss(True, 2.0)(pred, target, w)) == pytest.approx(2 * float(want))
    assert float(KeypointL1Loss()(pred, target, w)) == pytest.approx(
        float((pred - target).abs().mean()))  # weights ignored without use_target_weight
    mask = torch.zeros(2, 1, 4, 4)
    mask[..., :2, :] = 1
    want = ((pred - target).abs() * w[:, :, None, None] * mask).mean()
    assert float(KeypointL1Loss(True)(pred, target, w, mask)) == pytest.approx(float(want))


def test_l1_heatmap_loss_errors_name_the_problem():
    x = torch.zeros(1, 2, 4, 4)
    with pytest.raises(ValueError, match='differ in shape'):
        KeypointL1Loss()(x, torch.zeros(1, 2, 4, 5))
    with pytest.raises(ValueError, match='needs the keypoint weights'):
        KeypointL1Loss(use_target_weight=True)(x, x)


def test_l1_heatmap_loss_in_a_heatmap_head():
    from mmpose.registry import MODELS
    from ._tiny import build_model, make_batch, model_cfg
    cfg = model_cfg('unet', 1)
    cfg['head']['loss'] = dict(type='KeypointL1Loss', use_target_weight=True)
    model = build_model(cfg)
    assert isinstance(model.head.loss_module, MODELS.get('KeypointL1Loss'))
    inputs, samples = make_batch(2, channels=1)
    losses = model.loss(inputs, samples)
    assert losses['loss_kpt'] > 0 and losses['loss_cycle_pose'] > 0  # eq. 6 uses it too
