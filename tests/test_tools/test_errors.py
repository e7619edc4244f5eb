"""Bad input to the tools ends in one message that names the fix (exit code 2)."""
import pickle

import torch

from tests.conftest import BASELINE_MONO, refused


def test_config_without_custom_imports(tmp_path, capsys):
    cfg = tmp_path / 'no_imports.py'
    cfg.write_text(
        "_base_ = ['mmpose::hand_2d_keypoint/topdown_heatmap/onehand10k/"
        "td-hm_res50_8xb32-210e_onehand10k-256x256.py']\n"
        "custom_hooks = [dict(type='ExactResumeHook')]\n")
    err = refused('train', [str(cfg), '--work-dir', str(tmp_path / 'w')], capsys)
    assert 'ExactResumeHook' in err
    assert "custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)" in err


def test_unknown_type_suggests_close_name(tmp_path, capsys):
    err = refused('train', [BASELINE_MONO, '--work-dir', str(tmp_path / 'w'), '--cfg-options',
                            'model.backbone.type=ResNett'], capsys)
    assert "unknown type 'ResNett'" in err
    assert "'ResNet'" in err and 'custom_imports' in err


def test_missing_data_file(tmp_path, capsys):
    err = refused('train', [BASELINE_MONO, '--work-dir', str(tmp_path / 'w'), '--cfg-options',
                            'train_dataloader.dataset.ann_file=missing_annotations.json'], capsys)
    assert 'data file not found' in err and 'missing_annotations.json' in err
    assert 'data_root' in err


def test_missing_config(tmp_path, capsys):
    err = refused('train', [str(tmp_path / 'nope.py')], capsys)
    assert 'file not found' in err and 'nope.py' in err


def test_test_tool_missing_checkpoint(tmp_path, capsys):
    err = refused('test', [BASELINE_MONO, str(tmp_path / 'missing.pth')], capsys)
    assert 'checkpoint not found' in err and 'missing.pth' in err


def test_test_tool_truncated_checkpoint(tmp_path, capsys):
    good = tmp_path / 'good.pth'
    torch.save({'state_dict': {'w': torch.zeros(1000)}}, good)
    bad = tmp_path / 'truncated.pth'
    bad.write_bytes(good.read_bytes()[:200])
    err = refused('test', [BASELINE_MONO, str(bad)], capsys)
    assert 'truncated or not a PyTorch checkpoint' in err


class _Exploit:

    def __reduce__(self):
        import os
        return (os.system, ('echo pwned > /dev/null',))


def test_checkpoint_that_would_run_code_is_refused(tmp_path, capsys):
    evil = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'meta': _Exploit()}, evil, pickle_protocol=pickle.DEFAULT_PROTOCOL)
    err = refused('test', [BASELINE_MONO, str(evil)], capsys)
    assert 'refusing to load' in err and 'could run code' in err
