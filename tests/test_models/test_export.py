"""tools/export.py: vanilla MMPose loads the export and predicts exactly the same."""
import os
import os.path as osp
import pprint
import subprocess
import sys

import pytest
import torch

from tests.conftest import run_tool
from tests.test_models._tiny import build_model, make_batch, model_cfg
from tests.test_models._vanilla_predict import predict_outputs

HELPER = osp.join(osp.dirname(osp.abspath(__file__)), '_vanilla_predict.py')


def _write_config(path, cfg):
    path.write_text('custom_imports = dict(imports=[\'mmselfdis\'], allow_failed_imports=False)\n'
                    f'model = {pprint.pformat(cfg, width=100)}\n')


def _trained_checkpoint(tmp_path, family, channels):
    cfg = model_cfg(family, channels, flip_test=True)
    config = tmp_path / 'selfdis.py'
    _write_config(config, cfg)
    model = build_model(cfg, seed=1)
    # one training step so BatchNorm statistics and weights are not at their init values
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    losses = model.loss(*make_batch(4, channels, seed=5))
    sum(v for k, v in losses.items() if k.startswith('loss_')).backward()
    opt.step()
    ckpt = tmp_path / 'epoch_1.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict(epoch=1)), ckpt)
    return model, config, ckpt


@pytest.mark.parametrize('family,channels', [('resnet', 3), ('hrnet', 1)])
def test_export_predicts_like_the_wrapped_model(tmp_path, family, channels):
    model, config, ckpt = _trained_checkpoint(tmp_path, family, channels)
    out = tmp_path / 'export' / 'pose.pth'
    run_tool('tools/export.py', config, ckpt, out)
    exported_cfg = out.with_suffix('.py')
    assert exported_cfg.is_file()
    body = '\n'.join(ln for ln in exported_cfg.read_text().splitlines()
                     if not ln.startswith('#'))
    assert "type='TopdownPoseEstimator'" in body
    for word in ('SelfDis', 'selfdis', 'custom_imports', 'mmselfdis'):
        assert word not in body, word
    sd = torch.load(out, weights_only=True)['state_dict']
    assert sd and not any(k.startswith('selfdis.') for k in sd)

    inputs = make_batch(3, channels, seed=9)[0]
    torch.save(inputs, tmp_path / 'inputs.pt')
    subprocess.run([sys.executable, HELPER, str(exported_cfg), str(out),
                    str(tmp_path / 'inputs.pt'), str(tmp_path / 'vanilla.pt')],
                   cwd=tmp_path, check=True, timeout=300,
                   env=dict(os.environ, OMP_NUM_THREADS=str(torch.get_num_threads())))
    vanilla = torch.load(tmp_path / 'vanilla.pt', weights_only=True)
    assert vanilla['type'] == 'TopdownPoseEstimator' and not vanilla['plugin_imported']
    wrapped = predict_outputs(model, inputs)
    for key in ('heatmaps', 'keypoints', 'scores'):
        assert torch.equal(vanilla[key], wrapped[key]), key


def test_export_refuses_to_overwrite(tmp_path):
    cfg = model_cfg('resnet', 3)
    config = tmp_path / 'selfdis.py'
    _write_config(config, cfg)
    ckpt = tmp_path / 'epoch_1.pth'
    torch.save(dict(state_dict=build_model(cfg).state_dict()), ckpt)
    out = tmp_path / 'pose.pth'
    out.write_bytes(b'keep me')
    proc = run_tool('tools/export.py', config, ckpt, out, check=False)
    assert proc.returncode != 0 and '--force' in proc.stderr
    assert out.read_bytes() == b'keep me'
    run_tool('tools/export.py', config, ckpt, out, '--force')
    assert 'state_dict' in torch.load(out, weights_only=True)


def test_export_of_a_plugin_backbone_keeps_the_import(tmp_path):
    """UNetEncoder is the plugin's class: the branch goes, the import for it stays."""
    from mmengine.config import Config

    from mmpose.registry import MODELS
    model, config, ckpt = _trained_checkpoint(tmp_path, 'unet', 1)
    out = tmp_path / 'pose.pth'
    proc = run_tool('tools/export.py', config, ckpt, out)
    assert 'UNetEncoder' in proc.stderr and 'vanilla MMPose cannot build' in proc.stderr
    cfg = Config.fromfile(str(out.with_suffix('.py')))
    assert cfg.model.type == 'TopdownPoseEstimator' and 'selfdis' not in cfg.model
    assert cfg.custom_imports.imports == ['mmselfdis']
    exported = MODELS.build(cfg.model)
    exported.load_state_dict(torch.load(out, weights_only=True)['state_dict'], strict=True)
    inputs = make_batch(3, 1, seed=9)[0]
    a, b = predict_outputs(exported, inputs), predict_outputs(model, inputs)
    for key in ('heatmaps', 'keypoints', 'scores'):
        assert torch.equal(a[key], b[key]), key
