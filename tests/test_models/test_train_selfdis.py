"""End to end through tools/train.py on the real OneHand10K samples: train, resume, export, DDP."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import torch

from tests.conftest import REPO, run_tool

CONFIG = osp.join(REPO, 'configs', 'selfdis', 'selfdis_res18_hand-samples_mono-64x64.py')
FAST = ['default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=1',
        "default_hooks.checkpoint.save_best=None", 'train_cfg.val_interval=100']
SELFDIS_KEYS = ('loss_kpt', 'loss_img', 'loss_d', 'loss_g', 'loss_cycle_img', 'loss_cycle_pose',
                'loss_dual_pose', 'loss_dual_img')


def _run(args, env=None, timeout=300):
    full_env = dict(os.environ, OMP_NUM_THREADS='1', **(env or {}))
    proc = subprocess.run(args, cwd=REPO, env=full_env, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f'{args}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}'
    return proc


def _logged(work_dir):
    rows = []
    for path in glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')):
        with open(path) as f:
            rows += [json.loads(line) for line in f if line.strip()]
    return rows


def test_train_resume_and_export(tmp_path, samples_dir):
    work = str(tmp_path / 'work')
    run_tool('tools/train.py', CONFIG, '--work-dir', work, '--cfg-options',
             'train_cfg.max_epochs=2', *FAST)
    rows = _logged(work)
    train_rows = [r for r in rows if 'loss_img' in r]
    assert train_rows, rows[:3]
    for key in SELFDIS_KEYS:  # every term logged on its own
        assert key in train_rows[-1] and train_rows[-1][key] == train_rows[-1][key], key
    run_tool('tools/train.py', CONFIG, '--work-dir', work, '--resume', '--cfg-options',
             'train_cfg.max_epochs=3', *FAST)
    ckpt = osp.join(work, 'epoch_3.pth')
    state = torch.load(ckpt, weights_only=True)
    assert state['meta']['epoch'] == 3
    assert any(k.startswith('selfdis.discriminator') for k in state['state_dict'])
    out = tmp_path / 'export' / 'pose.pth'
    run_tool('tools/export.py', CONFIG, ckpt, out)
    sd = torch.load(out, weights_only=True)['state_dict']
    assert set(sd) == {k for k in state['state_dict'] if not k.startswith('selfdis.')}


def test_ddp_two_processes_without_unused_parameter_search(tmp_path, samples_dir):
    work = str(tmp_path / 'ddp')
    proc = _run(['bash', 'tools/dist_train.sh', CONFIG, '2', '--work-dir', work,
                 '--cfg-options', 'train_cfg.max_epochs=2', *FAST],
                env=dict(PORT='29533', PYTHON=sys.executable), timeout=400)
    assert 'find_unused_parameters=False' in proc.stdout + proc.stderr
    rows = [r for r in _logged(work) if 'loss_img' in r]
    # two iterations: DDP checks at the second forward that every parameter got a gradient
    assert len(rows) >= 2
    assert osp.isfile(osp.join(work, 'epoch_2.pth'))


def _synth_options(root):
    opts = [f'{loader}.dataset.data_root={root}/' for loader in
            ('train_dataloader', 'val_dataloader', 'test_dataloader')]
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.num_workers=0', f'{loader}.persistent_workers=False']
    return opts + ['train_dataloader.batch_size=8', 'model.backbone.base_channels=8',
                   'model.head.in_channels=64', 'model.head.deconv_out_channels=[16,16,8,8]']


def test_paired_baseline_and_selfdis_rows_train_on_synthhands(tmp_path):
    """pose_id reaches the data samples, PosePairSampler pairs them; row 3 -> row 6 warm start."""
    root = tmp_path / 'synth'
    run_tool('tools/make_synthhands.py', root, '--num-poses', '40', '--appearances', '2',
             '--workers', '1', '--quiet')
    common = _synth_options(root) + ['train_cfg.max_epochs=1', 'default_hooks.logger.interval=1']
    cfg_dir = osp.join(REPO, 'configs', 'selfdis')
    paired = tmp_path / 'paired'
    run_tool('tools/train.py', osp.join(cfg_dir, 'paired-baseline_unet_synthhands-mono-64x64.py'),
             '--work-dir', paired, '--cfg-options', *common)
    rows = [r for r in _logged(str(paired)) if 'loss_paired_img' in r]
    assert rows and rows[-1]['loss_paired_img'] == rows[-1]['loss_paired_img']
    row3 = tmp_path / 'row3'
    run_tool('tools/train.py', osp.join(cfg_dir, 't4-3_selfdis_unet_synthhands-mono-64x64.py'),
             '--work-dir', row3, '--cfg-options', *common)
    row6 = tmp_path / 'row6'
    run_tool('tools/train.py',
             osp.join(cfg_dir, 't4-6_selfdis-no-pose-detach_unet_synthhands-mono-64x64.py'),
             '--work-dir', row6, '--cfg-options', *common, f'load_from={row3}/epoch_1.pth')
    assert any('loss_cycle_pose' in r for r in _logged(str(row6)))
