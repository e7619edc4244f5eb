"""NonFiniteLossOptimWrapper: a NaN/Inf loss stops the run with its name, or the step is skipped."""

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.model import BaseModel
from torch import nn

from mmselfdis.engine import (NonFiniteLossAmpOptimWrapper, NonFiniteLossError,
                              NonFiniteLossOptimWrapper)
from tests.conftest import BASELINE_MONO, load_tool, refused, run_tool

TINY = ['model.backbone.stem_channels=16', 'model.backbone.base_channels=16',
        'model.head.in_channels=128', 'model.head.deconv_out_channels=(16,16,16,16)',
        'default_hooks.logger.interval=1', 'default_hooks.checkpoint.save_best=None',
        'train_dataloader.batch_size=1', 'train_cfg.val_interval=100']


def test_nan_loss_stops_with_iteration_and_loss_name(tmp_path, samples_dir):
    proc = run_tool('tools/train.py', BASELINE_MONO, '--work-dir', tmp_path / 'nan',
                    '--cfg-options', *TINY, 'train_cfg.max_epochs=1',
                    'model.head.loss.loss_weight=nan', check=False)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert 'non-finite loss at iteration 1 (epoch 1): loss_kpt=nan' in proc.stderr
    assert "optim_wrapper = dict(type='NonFiniteLossOptimWrapper', action='skip')" in proc.stderr
    assert 'Traceback' not in proc.stderr
    assert not list((tmp_path / 'nan').glob('*.pth'))


class _Tiny(BaseModel):
    """``loss_a = scale * sum(w)``, ``loss_b = 0``: ``scale`` decides finiteness."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(3))

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return dict(loss_a=(self.w * inputs).sum(), loss_b=self.w.sum() * 0)


def _wrapper(action, max_skips=10):
    model = _Tiny()
    optim = NonFiniteLossOptimWrapper(optimizer=torch.optim.Adam(model.parameters(), lr=0.1),
                                      action=action, max_skips=max_skips)
    return model, optim


def _step(model, optim, scale):
    """One step as MMEngine's loop runs it: ``BaseModel.train_step``."""
    return model.train_step(dict(inputs=torch.tensor(scale)), optim)


def test_skip_leaves_parameters_and_optimizer_untouched():
    model, optim = _wrapper('skip', max_skips=2)
    _step(model, optim, 1.0)  # a good step: parameters move, Adam has state
    after_good = model.w.detach().clone()
    assert not torch.equal(after_good, torch.ones(3))
    state = {k: v.clone() for k, v in optim.optimizer.state[model.w].items()}
    _step(model, optim, float('inf'))
    assert (optim.skipped_in_a_row, optim.skipped_total) == (1, 1)
    torch.testing.assert_close(model.w.detach(), after_good, rtol=0, atol=0)
    for k, v in optim.optimizer.state[model.w].items():
        torch.testing.assert_close(v, state[k], rtol=0, atol=0)
    assert model.w.grad is None or not model.w.grad.any()
    _step(model, optim, 1.0)  # a good step resets the count in a row
    assert (optim.skipped_in_a_row, optim.skipped_total) == (0, 1)
    assert not torch.equal(model.w.detach(), after_good)
    _step(model, optim, float('nan'))
    with pytest.raises(NonFiniteLossError, match='2 consecutive training steps.*loss_a=nan'):
        _step(model, optim, float('nan'))


def test_raise_names_the_bad_term_and_the_iteration():
    model, optim = _wrapper('raise')
    hub = MessageHub.get_current_instance()
    hub.update_info('iter', 6)
    hub.update_info('epoch', 1)
    with pytest.raises(NonFiniteLossError, match=r'iteration 7 \(epoch 2\): loss_a=nan\.'):
        _step(model, optim, float('nan'))
    torch.testing.assert_close(model.w.detach(), torch.ones(3), rtol=0, atol=0)
    # the forward hook lives only inside optim_context
    assert not model._forward_hooks


def test_bad_arguments():
    params = [nn.Parameter(torch.ones(1))]
    with pytest.raises(ValueError, match='action must be one of'):
        NonFiniteLossOptimWrapper(optimizer=torch.optim.SGD(params, lr=1), action='ignore')
    with pytest.raises(ValueError, match='max_skips must be >= 1'):
        NonFiniteLossOptimWrapper(optimizer=torch.optim.SGD(params, lr=1), max_skips=0)


def test_config_builds_the_wrapper_and_amp_keeps_the_guard():
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope

    cfg = Config.fromfile(BASELINE_MONO)
    init_default_scope(cfg.default_scope)
    optim = build_optim_wrapper(_Tiny(), cfg.optim_wrapper)
    assert type(optim) is NonFiniteLossOptimWrapper and optim.action == 'raise'

    train = load_tool('train')
    args = train.parse_args([BASELINE_MONO, '--amp'])
    amp_cfg = train.merge_args(Config.fromfile(BASELINE_MONO), args)
    assert amp_cfg.optim_wrapper.type == 'NonFiniteLossAmpOptimWrapper'
    assert issubclass(NonFiniteLossAmpOptimWrapper, NonFiniteLossOptimWrapper)
    plain = Config.fromfile(BASELINE_MONO)
    plain.optim_wrapper.type = 'OptimWrapper'
    assert train.merge_args(plain, args).optim_wrapper.type == 'AmpOptimWrapper'
    odd = Config.fromfile(BASELINE_MONO)
    odd.optim_wrapper.type = 'ApexOptimWrapper'
    with pytest.raises(ValueError, match='--amp supports'):
        train.merge_args(odd, args)


def test_the_former_hook_names_its_replacement(tmp_path, capsys):
    cfg = tmp_path / 'old_hook.py'
    cfg.write_text(f"_base_ = [{BASELINE_MONO!r}]\n"
                   "custom_hooks = [dict(type='NonFiniteLossHook', action='skip')]\n")
    err = refused('train', [cfg, '--work-dir', tmp_path / 'w'], capsys)
    assert 'NonFiniteLossHook was replaced' in err
    assert "optim_wrapper = dict(type='NonFiniteLossOptimWrapper', action='skip'" in err
