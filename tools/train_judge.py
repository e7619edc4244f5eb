"""Train (once) the independent judge of a data set: a pose estimator that never saw a mix.

The judge has the pose path of CONFIG (backbone and heatmap head) with its own
fresh weights, as a plain ``TopdownPoseEstimator``, trained only on the real
images of CONFIG's training split (``mmselfdis.evaluation.judge``). It is
cached in ``<data_root>/judge/`` (config, ``judge.pth``, ``judge.json`` with
the budget, seed and data) and reused from there: ``DisentanglementMetric``
finds it by itself, and the tools that score mixes take it with
``--judge CONFIG CKPT``. A judge cached with other settings is never
overwritten.

Example::

    python tools/train_judge.py configs/demo/selfdis-demo_unet_synthhands-mono-64x64.py \\
        --data-root work_dirs/demo/synthhands --epochs 20
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    from mmselfdis.evaluation.judge import JUDGE_EPOCHS

    parser = argparse.ArgumentParser(
        description='Train the independent judge of a data set (cached in <data_root>/judge/).')
    parser.add_argument('config', help='the generator config whose pose path the judge copies '
                        '(and whose training split it learns from)')
    parser.add_argument('--data-root', help='the data (default: the config\'s train data_root)')
    parser.add_argument('--epochs', type=int, default=JUDGE_EPOCHS,
                        help=f'training epochs (default {JUDGE_EPOCHS})')
    parser.add_argument('--seed', type=int, default=0, help='training seed (default 0)')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    import json

    from mmengine.config import Config

    import mmselfdis  # noqa: F401  (registers components)
    from mmselfdis.evaluation.judge import JudgeError, ensure_judge, judge_dir
    from mmselfdis.utils import ConfigError, check_custom_imports
    from mmselfdis.utils.study import inner_dataset

    args = parse_args(argv)
    if not osp.isfile(args.config):
        raise FileNotFoundError(2, 'No such file or directory', args.config)
    if args.epochs < 1:
        raise ConfigError(f'--epochs must be >= 1, got {args.epochs}')
    cfg = Config.fromfile(args.config)
    check_custom_imports(cfg, args.config)
    root = args.data_root or inner_dataset(cfg.train_dataloader.dataset).get('data_root')
    if not root or not osp.isdir(root):
        raise ConfigError(f'no data at {root!r}: pass --data-root DIR (the folder with '
                          f'annotations/train.json, e.g. one written by tools/make_synthhands.py)')
    print(f'judge of {root}: {args.epochs} epochs, seed {args.seed} (cache: {judge_dir(root)})',
          flush=True)
    try:
        config, ckpt = ensure_judge(cfg, root, args.epochs, args.seed, echo='Epoch(')
    except JudgeError as err:
        raise ConfigError(str(err)) from err
    with open(osp.join(judge_dir(root), 'judge.json')) as f:
        record = json.load(f)
    print(f'judge: {config} {ckpt}\n{json.dumps(record, indent=2)}', flush=True)
    return 0


if __name__ == '__main__':
    from mmselfdis.utils import run_cli
    run_cli(main)
