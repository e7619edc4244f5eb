"""Test (and evaluate) a pose model (MMPose's ``tools/test.py`` CLI, with the plugin).

Example::

    python tools/test.py CONFIG work_dirs/run1/epoch_10.pth --out metrics.json
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import mmselfdis  # noqa: E402,F401  (registers components; safe checkpoint loading)
import mmengine  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.hooks import Hook  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from mmselfdis.utils import (check_custom_imports, run_cli, safe_load_checkpoint,  # noqa: E402
                             setup_launcher)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='MMPose test (and eval) model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the directory to save evaluation results')
    parser.add_argument('--out', help='file (.json/.yaml/.pkl) to save the metric results to')
    parser.add_argument('--dump', type=str,
                        help='dump predictions to a pickle file for offline evaluation')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, default={},
        help='override settings in the config, key=value pairs, e.g. '
        '"test_dataloader.batch_size=8"')
    parser.add_argument('--show-dir', help='directory where visualisations are saved')
    parser.add_argument('--show', action='store_true', help='display predictions in a window')
    parser.add_argument('--interval', type=int, default=1, help='visualise every N samples')
    parser.add_argument('--wait-time', type=float, default=1, help='display time (s)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def merge_args(cfg, args):
    cfg.load_from = args.checkpoint
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])

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

    if args.dump is not None:
        if not args.dump.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--dump must name a .pkl file, got {args.dump!r}')
        dump_metric = dict(type='DumpResults', out_file_path=args.dump)
        if isinstance(cfg.test_evaluator, (list, tuple)):
            cfg.test_evaluator = [*cfg.test_evaluator, dump_metric]
        else:
            cfg.test_evaluator = [cfg.test_evaluator, dump_metric]

    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    return cfg


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(args.config):
        raise FileNotFoundError(2, 'No such file or directory', args.config)
    # Fail early, with a clear message, on a missing, truncated or unsafe checkpoint.
    safe_load_checkpoint(args.checkpoint)
    cfg = Config.fromfile(args.config)
    check_custom_imports(cfg, args.config)
    cfg = merge_args(cfg, args)
    setup_launcher(cfg, args.launcher)
    runner = Runner.from_cfg(cfg)

    if args.out:

        class SaveMetricHook(Hook):

            def after_test_epoch(self, _, metrics=None):
                if metrics is not None:
                    mmengine.dump(metrics, args.out)

        runner.register_hook(SaveMetricHook(), 'LOWEST')
    runner.test()


if __name__ == '__main__':
    run_cli(main)
