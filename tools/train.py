"""Train a pose model (MMPose's ``tools/train.py`` CLI, with the mmselfdis plugin).

Example::

    python tools/train.py configs/baseline/td-hm_res18_hand-samples_mono-64x64.py
    python tools/train.py CONFIG --work-dir work_dirs/run1 --resume
    bash tools/dist_train.sh CONFIG 2
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import mmselfdis  # noqa: E402,F401  (registers components; safe checkpoint loading)
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.runner import Runner, find_latest_checkpoint  # noqa: E402

from mmselfdis.utils import (check_custom_imports, run_cli, setup_launcher,  # noqa: E402
                             shutdown_distributed)


#: What --amp turns each optim wrapper type into.
AMP_OPTIM_WRAPPERS = {
    'OptimWrapper': 'AmpOptimWrapper',
    'AmpOptimWrapper': 'AmpOptimWrapper',
    'NonFiniteLossOptimWrapper': 'NonFiniteLossAmpOptimWrapper',
    'NonFiniteLossAmpOptimWrapper': 'NonFiniteLossAmpOptimWrapper',
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a pose model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='If a checkpoint path is given, resume from it; without a path, resume from the '
        'latest checkpoint in the work directory, or, when it has none yet, start as the '
        'config says (from load_from if set: a warm start that can itself be resumed).')
    parser.add_argument('--amp', action='store_true', default=False,
                        help='enable automatic-mixed-precision training (needs a GPU)')
    parser.add_argument('--no-validate', action='store_true',
                        help='do not evaluate checkpoints during training')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the learning rate by the actual / base batch size')
    parser.add_argument('--show-dir', help='directory where visualisations are saved')
    parser.add_argument('--show', action='store_true', help='display predictions in a window')
    parser.add_argument('--interval', type=int, default=1, help='visualise every N samples')
    parser.add_argument('--wait-time', type=float, default=1, help='display time (s)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings in the config, key=value pairs, e.g. '
        'train_cfg.max_epochs=2 "model.backbone.depth=18"')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def merge_args(cfg, args):
    """Merge CLI arguments into the config (as MMPose's tools/train.py does)."""
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None

    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])

    if args.amp:
        optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        name = optim_wrapper if isinstance(optim_wrapper, str) else optim_wrapper.__name__
        amp = AMP_OPTIM_WRAPPERS.get(name.split('.')[-1])
        if amp is None:
            raise ValueError(f'--amp supports {", ".join(sorted(AMP_OPTIM_WRAPPERS))} configs '
                             f'only, got {optim_wrapper!r}; set optim_wrapper.type to an AMP '
                             f'wrapper in the config instead.')
        cfg.optim_wrapper.type = amp
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')

    if args.resume == 'auto':
        if find_latest_checkpoint(cfg.work_dir) is not None:
            cfg.resume = True
            cfg.load_from = None
        # else: nothing to resume yet; keep load_from (a warm start) as the config has it
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True

    if args.show or args.show_dir is not None:
        if 'visualization' not in cfg.default_hooks:
            raise ValueError('--show/--show-dir need a PoseVisualizationHook: add '
                             'default_hooks.visualization=dict(type="PoseVisualizationHook")')
        cfg.default_hooks.visualization.enable = True
        cfg.default_hooks.visualization.show = args.show
        if args.show:
            cfg.default_hooks.visualization.wait_time = args.wait_time
        cfg.default_hooks.visualization.out_dir = args.show_dir
        cfg.default_hooks.visualization.interval = args.interval

    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    return cfg


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(args.config):
        raise FileNotFoundError(2, 'No such file or directory', args.config)
    cfg = Config.fromfile(args.config)
    check_custom_imports(cfg, args.config)
    cfg = merge_args(cfg, args)
    setup_launcher(cfg, args.launcher)
    if 'preprocess_cfg' in cfg:
        cfg.model.setdefault('data_preprocessor', cfg.get('preprocess_cfg', {}))
    runner = Runner.from_cfg(cfg)
    runner.train()
    shutdown_distributed()


if __name__ == '__main__':
    run_cli(main)
