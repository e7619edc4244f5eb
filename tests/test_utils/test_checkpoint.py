"""Checkpoints load with weights_only=True; nothing outside the allow-list gets through."""
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
