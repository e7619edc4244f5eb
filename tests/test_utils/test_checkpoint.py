"""Checkpoints load with weights_only=True; nothing outside the allow-list gets through."""
import copy

import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub

from mmselfdis.utils import CheckpointLoadError, safe_load_checkpoint


def test_mmengine_message_hub_round_trip(tmp_path):
    hub = MessageHub.get_instance('test_ckpt_round_trip')
    hub.update_scalar('train/loss', 0.5)
    hub.update_scalar('train/loss', 0.25)
    path = tmp_path / 'ckpt.pth'
    torch.save({'state_dict': {'w': torch.ones(2)}, 'message_hub': hub.state_dict(),
                'meta': {'dataset_meta': {'sigmas': __import__('numpy').ones(21) * 0.02}}}, path)
    ckpt = safe_load_checkpoint(path)
    buf = ckpt['message_hub']['log_scalars']['train/loss']
    assert isinstance(buf, HistoryBuffer)
    assert buf.mean() == pytest.approx(0.375)
    assert ckpt['meta']['dataset_meta']['sigmas'].shape == (21, )


class _GetattrGadget:
    """Pickles as getattr(HistoryBuffer, 'update') - an attribute lookup we must refuse."""

    def __reduce__(self):
        return (getattr, (HistoryBuffer, 'update'))


def test_getattr_is_restricted_to_history_buffer_statistics(tmp_path):
    path = tmp_path / 'gadget.pth'
    torch.save({'state_dict': {}, 'meta': _GetattrGadget()}, path)
    with pytest.raises(CheckpointLoadError, match='refusing to load'):
        safe_load_checkpoint(path)


def test_plain_state_dict_loads(tmp_path):
    path = tmp_path / 'plain.pth'
    torch.save({'w': torch.arange(3)}, path)
    assert safe_load_checkpoint(path)['w'].tolist() == [0, 1, 2]


def test_non_dict_checkpoint(tmp_path):
    path = tmp_path / 'list.pth'
    torch.save([1, 2], path)
    with pytest.raises(CheckpointLoadError, match='not a checkpoint dict'):
        safe_load_checkpoint(path)


# ---------------------------------------------------------------- load_model
def _trained(tmp_path, prefix='', with_cfg=True):
    """A tiny SelfDisPoseEstimator with perturbed weights, saved MMEngine-style."""
    from mmengine.config import Config

    from tests.test_models._tiny import build_model, model_cfg
    cfg = Config(dict(model=model_cfg('resnet', in_channels=1),
                      custom_imports=dict(imports=['mmselfdis'], allow_failed_imports=False)))
    model = build_model(cfg.model.to_dict(), seed=1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p))
    state = {prefix + k: v for k, v in model.state_dict().items()}
    meta = {'dataset_meta': {'num_keypoints': 21, 'dataset_name': 'tiny'}}
    if with_cfg:
        meta['cfg'] = cfg.pretty_text
    path = tmp_path / 'trained.pth'
    torch.save({'state_dict': state, 'meta': meta}, path)
    return cfg, model.state_dict(), path


def _assert_same_state(model, expected):
    got = model.state_dict()
    assert sorted(got) == sorted(expected)
    for key, value in expected.items():
        torch.testing.assert_close(got[key], value, rtol=0, atol=0, msg=key)


@pytest.mark.parametrize('prefix', ['', 'module.'])
def test_load_model_from_the_stored_config(tmp_path, prefix):
    from mmselfdis.utils import load_model
    _, expected, path = _trained(tmp_path, prefix=prefix)
    model = load_model(None, path)
    assert type(model).__name__ == 'SelfDisPoseEstimator'
    assert not model.training and not model.selfdis.training
    _assert_same_state(model, expected)  # DDP's module. prefix is gone
    assert model.dataset_meta == {'num_keypoints': 21, 'dataset_name': 'tiny'}


def test_plain_estimator_drops_only_the_branch(tmp_path):
    from mmselfdis.utils import load_model
    cfg, expected, path = _trained(tmp_path)
    plain = copy.deepcopy(cfg)
    plain.model.pop('selfdis')
    plain.model.type = 'TopdownPoseEstimator'
    model = load_model(plain, path)
    _assert_same_state(model, {k: v for k, v in expected.items()
                               if not k.startswith('selfdis.')})
    # any other unexpected key is a misfit
    ckpt = safe_load_checkpoint(path)
    ckpt['state_dict']['head.extra.weight'] = torch.zeros(1)
    with pytest.raises(ValueError, match=r"unexpected \['head.extra.weight'\]"):
        load_model(plain, ckpt)


def test_load_model_misfits_and_missing_config(tmp_path):
    from mmselfdis.utils import load_model
    cfg, _, path = _trained(tmp_path, with_cfg=False)
    with pytest.raises(CheckpointLoadError, match=r'no config text in meta\["cfg"\]'):
        load_model(None, path)
    wider = copy.deepcopy(cfg)
    wider.model.head.out_channels = 14
    with pytest.raises(ValueError, match=r"do not fit .*wrong shape \['head.final_layer.weight'"):
        load_model(wider, path)
    ckpt = safe_load_checkpoint(path)
    del ckpt['state_dict']['head.final_layer.bias']
    with pytest.raises(ValueError, match=r"missing \['head.final_layer.bias'\]"):
        load_model(cfg, ckpt)
    with pytest.raises(FileNotFoundError):
        load_model(str(tmp_path / 'nope.py'), path)
    with pytest.raises(CheckpointLoadError, match='checkpoint not found'):
        load_model(cfg, tmp_path / 'nope.pth')


def test_load_model_does_not_build_batch_augments(tmp_path):
    """A model loaded for inference never mixes; its generator need not exist here."""
    from mmselfdis.utils import load_model
    cfg, expected, path = _trained(tmp_path)
    cfg.model.data_preprocessor.batch_augments = [
        dict(type='BatchMixReconstruct', checkpoint=str(tmp_path / 'elsewhere.pth'))]
    _assert_same_state(load_model(cfg, path), expected)
