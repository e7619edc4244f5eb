"""ExactResumeHook and NonFiniteLossHook, end to end through tools/train.py."""
import glob
import json
import os.path as osp
import signal
import types

import pytest
import torch
from torch import nn

from mmselfdis.engine import NonFiniteLossError, NonFiniteLossHook
from tests.conftest import BASELINE_MONO, REPO, run_tool

TINY = ['model.backbone.stem_channels=16', 'model.backbone.base_channels=16',
        'model.head.in_channels=128', 'model.head.deconv_out_channels=(16,16,16,16)',
        'default_hooks.logger.interval=1', 'default_hooks.checkpoint.save_best=None',
        'train_dataloader.batch_size=1', 'train_cfg.val_interval=100']
ITERS_PER_EPOCH = 4  # 4 samples, batch 1


def _losses(work_dir):
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    rows = [json.loads(line) for f in files for line in open(f) if line.strip()]
    return {r['step']: r['loss'] for r in rows if 'loss' in r}


def test_same_seed_same_losses_and_exact_resume_after_sigkill(tmp_path, samples_dir):
    epochs = 5  # 20 iterations
    common = TINY + [f'train_cfg.max_epochs={epochs}']
    straight, again, killed = tmp_path / 'a', tmp_path / 'b', tmp_path / 'killed'
    run_tool('tools/train.py', BASELINE_MONO, '--work-dir', straight, '--cfg-options', *common)
    run_tool('tools/train.py', BASELINE_MONO, '--work-dir', again, '--cfg-options', *common)
    ref = _losses(straight)
    assert sorted(ref) == list(range(1, 21))
    # same seed and config -> identical first 20 losses
    assert _losses(again) == ref

    # SIGKILL right after iteration 6 (inside epoch 2), checkpoints every iteration
    kill_cfg = tmp_path / 'kill.py'
    kill_cfg.write_text(
        f"_base_ = [{BASELINE_MONO!r}]\n"
        "custom_imports = dict(imports=['mmselfdis', 'tests.helpers.kill_hook'], "
        "allow_failed_imports=False)\n"
        "default_hooks = dict(checkpoint=dict(by_epoch=False, interval=1, max_keep_ckpts=2))\n"
        "custom_hooks = [dict(type='SyncBuffersHook'), dict(type='ExactResumeHook'), "
        "dict(type='NonFiniteLossHook'), dict(type='SigkillAfterIterHook', at=6)]\n")
    proc = run_tool('tools/train.py', kill_cfg, '--work-dir', killed, '--cfg-options', *common,
                    env={'PYTHONPATH': REPO}, check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert (killed / 'iter_6.pth').is_file() and not (killed / 'iter_7.pth').exists()

    resume_cfg = tmp_path / 'resume.py'
    resume_cfg.write_text(kill_cfg.read_text().replace(
        ", dict(type='SigkillAfterIterHook', at=6)", ''))
    run_tool('tools/train.py', resume_cfg, '--work-dir', killed, '--resume', '--cfg-options',
             *common, env={'PYTHONPATH': REPO})
    got = _losses(killed)
    for step in range(7, 21):
        assert got[step] == pytest.approx(ref[step], abs=1e-5), step
    final = torch.load(killed / 'iter_20.pth', weights_only=True)['state_dict']
    expected = torch.load(straight / 'epoch_5.pth', weights_only=True)['state_dict']
    for key, value in expected.items():
        torch.testing.assert_close(final[key], value, rtol=0, atol=1e-5, msg=key)


def test_nan_loss_stops_with_iteration_and_loss_name(tmp_path, samples_dir):
    proc = run_tool('tools/train.py', BASELINE_MONO, '--work-dir', tmp_path / 'nan',
                    '--cfg-options', *TINY, 'train_cfg.max_epochs=1',
                    'model.head.loss.loss_weight=nan', check=False)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert 'non-finite loss at iteration 1 (epoch 1): loss_kpt=nan' in proc.stderr
    assert "action='skip'" in proc.stderr
    assert 'Traceback' not in proc.stderr


class _Tiny(nn.Module):

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(3))

    def parse_losses(self, losses):
        total = sum(losses.values())
        return total, dict(loss=total.detach())


def _runner_with_guard(action, max_skips=10):
    from mmengine.optim import OptimWrapper
    model = _Tiny()
    optim = OptimWrapper(torch.optim.Adam(model.parameters(), lr=0.1))
    runner = types.SimpleNamespace(model=model, optim_wrapper=optim, iter=0, epoch=0,
                                   work_dir='w', logger=__import__('logging').getLogger('t'))
    hook = NonFiniteLossHook(action=action, max_skips=max_skips)
    hook.before_train(runner)
    return runner, hook


def _step(runner, scale):
    losses = dict(loss_a=(runner.model.w * scale).sum(), loss_b=runner.model.w.sum() * 0)
    total, _ = runner.model.parse_losses(losses)
    runner.optim_wrapper.update_params(total)


def test_skip_leaves_parameters_and_optimizer_untouched():
    runner, hook = _runner_with_guard('skip', max_skips=2)
    _step(runner, 1.0)  # a good step: parameters move, Adam has state
    after_good = runner.model.w.detach().clone()
    state = {k: v.clone() for k, v in runner.optim_wrapper.optimizer.state[runner.model.w].items()}
    _step(runner, float('inf'))
    assert hook.skipped_total == 1
    torch.testing.assert_close(runner.model.w.detach(), after_good, rtol=0, atol=0)
    for k, v in runner.optim_wrapper.optimizer.state[runner.model.w].items():
        torch.testing.assert_close(v, state[k], rtol=0, atol=0)
    assert runner.model.w.grad is None or not runner.model.w.grad.any()
    with pytest.raises(NonFiniteLossError, match='2 consecutive training steps'):
        _step(runner, float('nan'))


def test_raise_names_the_bad_term():
    runner, _ = _runner_with_guard('raise')
    with pytest.raises(NonFiniteLossError, match=r'iteration 1 \(epoch 1\): loss_a=nan'):
        _step(runner, float('nan'))


def test_bad_hook_arguments():
    with pytest.raises(ValueError, match="action must be one of"):
        NonFiniteLossHook(action='ignore')
    with pytest.raises(ValueError, match='max_skips must be >= 1'):
        NonFiniteLossHook(max_skips=0)
