"""ExactResumeHook, end to end through tools/train.py."""
import glob
import json
import os.path as osp
import signal

import pytest
import torch

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
        "dict(type='SigkillAfterIterHook', at=6)]\n")
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


def test_warm_start_restores_no_random_state():
    """``load_from`` calls the same hook as ``--resume``; only a resume restores."""
    from types import SimpleNamespace

    from mmselfdis.engine.hooks import ExactResumeHook
    from mmselfdis.engine.hooks.exact_resume_hook import get_rng_state

    torch.manual_seed(1)
    checkpoint = dict(meta=dict(iter=6), rng_state=get_rng_state())
    saved_draw = torch.rand(3)
    loop = SimpleNamespace()  # no max_epochs: nothing to skip
    for runner_iter, restores in ((0, False), (6, True), (4, False)):
        hook = ExactResumeHook()
        runner = SimpleNamespace(iter=runner_iter, train_loop=loop)
        hook.after_load_checkpoint(runner, checkpoint)
        torch.manual_seed(2)
        hook.before_train(runner)
        assert torch.equal(torch.rand(3), saved_draw) == restores, runner_iter
        # the state is used once: a second train() starts from wherever it is
        torch.manual_seed(2)
        hook.before_train(runner)
        assert not torch.equal(torch.rand(3), saved_draw)
