"""The short end-to-end demo: render, train self-disentanglement, draw and measure.

1. render a small paired SynthHands set (``tools/make_synthhands.py``);
2. train the independent judge on its real training images once
   (``mmselfdis.evaluation.judge``: a plain pose estimator with the demo's pose
   architecture and its own weights, cached in ``<data>/judge/``), or take
   ``--judge CONFIG CKPT``; on a CPU of 2 or more threads it trains beside
   stage 3 in a second process of half the threads, the training giving up as
   many until the judge is done (``ShareCoresHook``; ``--no-judge-beside``:
   before stage 3);
3. train self-disentanglement briefly (``tools/train.py`` with
   ``configs/demo/selfdis-demo-hands_unet_synthhands-mono-64x64.py``, the hand
   painted over the appearance image; ``--preset gpu``:
   ``configs/demo/selfdis-demo_unet_synthhands-mono-64x64.py``; ``--config``:
   another; the training log's lines are shown as it goes);
4. evaluate it on the test split with the pose metrics and
   ``DisentanglementMetric`` judged by the judge (``tools/test.py``);
5. draw the swap grid (``tools/swap_grid.py``, with the true renders below the
   mixes and the judge's PCK under each cell) and the retrieval figure
   (``tools/retrieve.py``).

Everything goes into ``--work-dir`` (default ``work_dirs/demo``): ``swap_grid.png``,
``retrieval.png``, ``metrics.json``, ``summary.md``. A second run of the same
command reuses what the first one finished (an interrupted training resumes);
a work dir that holds a demo with other settings is refused.

Example::

    python tools/demo.py
    python tools/demo.py --work-dir work_dirs/demo_long --epochs 12
    python tools/demo.py --preset gpu --work-dir work_dirs/demo_gpu   # one large GPU
"""
import argparse
import copy
import datetime
import json
import os
import os.path as osp
import sys
import time
from typing import List, Optional

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

from mmengine.config import DictAction  # noqa: E402

from mmselfdis.evaluation.judge import (JUDGE_EPOCHS, JudgeError, ensure_judge,  # noqa: E402
                                        find_judge, judge_dir, set_judge)
from mmselfdis.evaluation.metrics import HAND21_LEVELS  # noqa: E402
from mmselfdis.utils.study import (PAPER_NETWORK, StudyError, apply_options,  # noqa: E402
                                   atomic_write, check_manifest, ensure_synthhands,
                                   gpu_loader_options, micro_options,
                                   run_tool, set_codec, set_data_root, set_in_process, sha16,
                                   tool_threads, train_run)

DEMO_CONFIG = osp.join(REPO, 'configs', 'demo', 'selfdis-demo_unet_synthhands-mono-64x64.py')
# The config of each preset. cpu: the painter that met the paired goals at the pose image's
# crop (docs/results.md, "Growing the inpainted region"); gpu: the demo config it builds on
# (the painter inpaints on the CPU, image by image, which the gpu preset's budget was not
# sized for).
PRESET_CONFIGS = dict(
    cpu=osp.join(REPO, 'configs', 'demo', 'selfdis-demo-hands_unet_synthhands-mono-64x64.py'),
    gpu=DEMO_CONFIG)

# Shown in the summary: (metric key, label, what it means)
SUMMARY_KEYS = (
    ('PCK', 'PCK@0.2 on x', "the model's pose estimator on the test images"),
    ('disent/PCK_mix_truth_ratio', '**PCK_mix / PCK_truth**', 'the headline: how much of '
     "x's pose the judge finds in the mix, relative to the true picture"),
    ('disent/PCK_mix_gain', '  the same from floor (0) to truth (1)', '(PCK_mix - floor) / '
     '(PCK_truth - floor)'),
    ('disent/PCK_mix', 'judge PCK@0.2 on mix(x, y)', "x's keypoints that the judge finds in the "
     'mix'),
    ('disent/PCK_truth', '  ceiling: judge on the true render', '(pose x, appearance y) as '
     'rendered'),
    ('disent/PCK_x', '  judge on x', 'the judge on the test images'),
    ('disent/PCK_copy_app', '  floor: judge on y', "x's keypoints on y itself (a mix that "
     'copies y)'),
    ('disent/PCK_sticks', '  a mark: judge on y + x\'s skeleton', "x's bones drawn on y in "
     'black lines: a pose mark, no hand (a mix should beat it)'),
    ('disent/self_PCK_mix', 'self-graded PCK on the mix', "the model's own pose branch (trained "
     'to read its own mixes: not independent)'),
    ('disent/app_recall@1', 'appearance recall@1', 'the mix\'s appearance code finds y '
     "(the model's own encoder)"),
    ('disent/app_recall_truth@1', '  the true render\'s', 'the same for the true render: what '
     "a perfect picture scores (low: the encoder reads y's hand, which the truth replaces)"),
    ('disent/hand_tone_error', "hand tone error (grey levels)", "|mean of the mix - mean of "
     "the true render| on x's rendered hand pixels: y's skin under y's light (no network)"),
    ('disent/hand_tone_error_copy_pose', '  copy x', "the same for x itself (its own skin "
     'and light)'),
    ('disent/hand_tone_corr', '  tone correlation', "over the samples, of the painted hand's "
     'mean and the true hand\'s (1: follows y\'s tone)'),
    ('disent/hand_L1', "hand L1 (grey levels)", "mix vs the true render on x's hand pixels "
     '(copy x: see hand_L1_copy_pose in the metrics)'),
    ('disent/pose_recall@1', 'pose recall@1', "the mix's pose code finds x"),
    ('disent/paired_L1', 'paired L1 (grey levels)', 'mix vs the true render of (pose x, '
     'appearance y)'),
    ('disent/paired_L1_copy_app', '  copy y', 'the same L1 for a mix that copies y'),
    ('disent/paired_L1_copy_pose', '  copy x', 'the same L1 for a mix that copies x'),
    ('disent/paired_SSIM', 'paired SSIM', 'mix vs the true render'),
    ('disent/paired_SSIM_copy_app', '  copy y', 'the same SSIM for a mix that copies y'),
    ('disent/paired_L1_copy_app_aligned', "  copy y at x's crop (L1)", "y's image cropped where "
     "x was: the true render is this image except where the hands are (where the crops lie "
     'explains the rest of copy y\'s L1)'),
    ('disent/paired_SSIM_copy_app_aligned', "  copy y at x's crop (SSIM)", 'the same, SSIM'),
)


def by_place_rows(metrics: dict) -> list:
    """The summary's rows of the ratio by place along the finger (``finger_levels``)."""
    keys = [f'disent/PCK_mix_truth_ratio@{p}' for p in HAND21_LEVELS]
    if not all(k in metrics for k in keys):
        return []
    ratios = ' / '.join(f'{metrics[k]:.3f}' for k in keys)
    places = ' / '.join(HAND21_LEVELS)
    return [f'|   the same by place: {places} | {ratios} | where along the finger the mix loses '
            'the pose (the knuckles are "base"; docs/metrics.md) |']


# --micro: seconds instead of minutes (tests of the tool itself)
_MICRO = micro_options((8, 8))
MICRO_NUM_POSES = 40

# --preset gpu: the demo at the paper's width, batch and heatmap size on one large GPU, for
# <= 8 min with the judge: every stage in this process (start-up paid once), one at a time
# (sized from step probes, not run whole yet at this size: docs/results.md, "The gpu presets")
GPU_PRESET = dict(
    num_poses=20000, epochs=8, judge_epochs=4,
    options={
        **gpu_loader_options(8),
        **PAPER_NETWORK,
        # 64x64 heatmaps (the paper's) through four 2x2 deconvolutions (the demo config has two)
        'model.head.deconv_kernel_sizes': (2, 2, 2, 2),
        'default_hooks.logger.interval': 50,
    },
    codec=dict(type='MSRAHeatmap', input_size=(64, 64), heatmap_size=(64, 64), sigma=2))


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='End-to-end demo: render a small paired set, train self-disentanglement '
        'briefly, write a swap grid PNG and the disentanglement metrics.')
    parser.add_argument('--work-dir', default='work_dirs/demo',
                        help='where everything goes (default work_dirs/demo)')
    parser.add_argument('--preset', choices=('cpu', 'gpu'), default='cpu',
                        help='cpu: the demo on 2 CPU cores (default); gpu: the paper\'s '
                        'width (base 64), batch (128) and 64x64 heatmaps on a larger set, every '
                        'stage in this process, for one large GPU (<= 8 min)')
    parser.add_argument('--config', default=None,
                        help='the model and evaluation config (default: '
                        'configs/demo/selfdis-demo-hands_unet_synthhands-mono-64x64.py; gpu: '
                        'configs/demo/selfdis-demo_unet_synthhands-mono-64x64.py)')
    parser.add_argument('--num-poses', type=int, default=None,
                        help='poses to render, 2 appearances each (default 2000; gpu: '
                        f'{GPU_PRESET["num_poses"]}; {MICRO_NUM_POSES} with --micro)')
    parser.add_argument('--epochs', type=int, default=None,
                        help='training epochs (default: the demo config\'s; gpu: '
                        f'{GPU_PRESET["epochs"]}; 1 with --micro)')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the data, the judge and the training (default 0)')
    parser.add_argument('--train-seed', type=int, default=None,
                        help='seed of the training only (default: --seed): another training '
                        'seed on the same data and judge, for an A/B over seeds')
    parser.add_argument('--judge', nargs=2, metavar=('CONFIG', 'CKPT'),
                        help='judge the mixes with this pose estimator (trained on real images '
                        'only) instead of training one on the demo\'s data')
    parser.add_argument('--judge-epochs', type=int, default=None,
                        help='training epochs of the judge (default 20; gpu: '
                        f'{GPU_PRESET["judge_epochs"]}; 1 with --micro)')
    parser.add_argument('--judge-beside', action=argparse.BooleanOptionalAction, default=None,
                        help='train the judge in a second process beside stage 3 instead of '
                        'before it (default: on with the cpu preset on 2 or more threads, '
                        'where the judge takes half the threads and the training the rest '
                        'until the judge is done; on a large GPU there is room for both; '
                        'not with --in-process)')
    parser.add_argument('--in-process', action=argparse.BooleanOptionalAction, default=None,
                        help='run the trainings, the evaluation and the figures in this '
                        'process, one after the other, instead of a subprocess each (saves the '
                        'imports and CUDA start-up of each; default: on with --preset gpu)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
                        help='override settings of the demo config (an A/B arm), e.g. '
                        'model.selfdis.encoder.grid_upsample=bilinear')
    parser.add_argument('--micro', action='store_true',
                        help='a tiny network and batch, and unless given otherwise '
                        f'{MICRO_NUM_POSES} poses and 1 epoch: about a minute, to check the '
                        'tool works')
    args = parser.parse_args(argv)
    if args.micro and args.preset != 'cpu':
        raise StudyError('--micro shrinks the cpu preset\'s networks; leave --preset out')
    if args.judge_beside is None:
        args.judge_beside = args.preset == 'cpu' and not args.micro and \
            not args.in_process and tool_threads() >= 2
    if args.in_process is None:
        args.in_process = args.preset == 'gpu' and not args.judge_beside
    if args.in_process and args.judge_beside:
        raise StudyError('--judge-beside trains the judge in a second process beside the '
                         'generator; --in-process runs one thing at a time: choose one')
    if args.num_poses is None:
        args.num_poses = GPU_PRESET['num_poses'] if args.preset == 'gpu' else \
            MICRO_NUM_POSES if args.micro else 2000
    if args.micro and args.epochs is None:
        args.epochs = 1
    if args.num_poses < 20:
        raise StudyError(f'--num-poses must be at least 20 (the test split needs pairs of '
                         f'poses), got {args.num_poses}')
    if args.epochs is not None and args.epochs < 1:
        raise StudyError(f'--epochs must be >= 1, got {args.epochs}')
    if args.judge_epochs is not None and args.judge_epochs < 1:
        raise StudyError(f'--judge-epochs must be >= 1, got {args.judge_epochs}')
    if args.config is None:
        args.config = PRESET_CONFIGS[args.preset]
    elif not osp.isfile(args.config):
        raise StudyError(f'--config {args.config}: no such file (the demo configs are in '
                         f'{osp.join(REPO, "configs", "demo")})')
    missing = [f for f in args.judge or () if not osp.isfile(f)]
    if missing:
        raise StudyError(f'--judge CONFIG CKPT: {" and ".join(missing)} not found '
                         f'(tools/train_judge.py makes a judge)')
    return args


def demo_config(args: argparse.Namespace):
    """``--config`` with the preset, ``--epochs`` and ``--micro`` applied."""
    from mmengine.config import Config
    cfg = Config.fromfile(args.config)
    if args.preset == 'gpu':
        apply_options(cfg, GPU_PRESET['options'])
        set_codec(cfg, GPU_PRESET['codec'])
        cfg.train_cfg.max_epochs = GPU_PRESET['epochs']
    if args.epochs is not None:
        cfg.train_cfg.max_epochs = args.epochs
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.micro:
        apply_options(cfg, _MICRO)
    return cfg


def _stage(i: int, text: str) -> None:
    print(f'\n[demo {i}/5] {text}', flush=True)


def main(argv: Optional[List[str]] = None) -> None:
    import mmselfdis  # noqa: F401  (registers components)

    args = parse_args(argv)
    set_in_process(args.in_process)
    t0 = time.time()
    work_dir = osp.abspath(args.work_dir)
    cfg = demo_config(args)
    train_seed = args.seed if args.train_seed is None else args.train_seed
    manifest = dict(config_sha=sha16(cfg.pretty_text), num_poses=args.num_poses,
                    seed=args.seed, micro=args.micro,
                    created=datetime.datetime.now(datetime.timezone.utc).isoformat())
    if train_seed != args.seed:  # (work dirs of one seed keep their manifest)
        manifest['train_seed'] = train_seed
    check_manifest(work_dir, manifest, ('config_sha', 'num_poses', 'seed', 'train_seed', 'micro'))
    rel = osp.relpath(work_dir)

    _stage(1, f'rendering {args.num_poses} poses x 2 appearances (SynthHands, 64x64 mono)')
    data_root = osp.join(work_dir, 'synthhands')
    ensure_synthhands(data_root, dict(num_poses=args.num_poses, appearances=2, seed=args.seed),
                      osp.join(work_dir, 'render.log'), quiet=args.micro)
    set_data_root(cfg, data_root)

    judge_job = None
    if args.judge:
        judge_files = tuple(osp.abspath(f) for f in args.judge)
        _stage(2, f'the judge: {judge_files[1]} (given)')
    else:
        judge_epochs = args.judge_epochs or (1 if args.micro else GPU_PRESET['judge_epochs']
                                             if args.preset == 'gpu' else JUDGE_EPOCHS)
        beside = args.judge_beside and find_judge(data_root) is None
        # on a CPU the two trainings split the threads: two processes of one thread get more
        # done than one of two, three threads on two cores less (docs/results.md)
        total = tool_threads()
        judge_threads = max(1, total // 2) if beside and args.preset == 'cpu' else None
        where = ''
        if judge_threads:
            where = (f'; beside stage 3 in a second process of {judge_threads} of {total} '
                     f'threads, the training taking the rest until the judge is done (log: '
                     f'{osp.join(rel, "judge.log")})')
        elif beside:
            where = ('; on the GPU beside stage 3 (it is needed only from stage 4 on; '
                     f'log: {osp.join(rel, "judge.log")})')
        _stage(2, f'the judge: a pose estimator trained {judge_epochs} epochs on the real '
                  f'training images only (cached in {osp.relpath(judge_dir(data_root))})'
                  + where)
        t_judge = time.time()
        judge_source = copy.deepcopy(cfg)  # the training's config changes below

        def train_judge(echo: Optional[str]) -> tuple:
            try:
                files = ensure_judge(judge_source, data_root, judge_epochs, args.seed,
                                     log=osp.join(work_dir, 'judge.log'), echo=echo,
                                     threads=judge_threads)
            except JudgeError as err:
                raise StudyError(str(err)) from err
            print(f'  judge ready: {osp.relpath(files[1])} ({time.time() - t_judge:.0f} s)',
                  flush=True)
            return files

        if beside:
            from concurrent.futures import ThreadPoolExecutor
            judge_job = ThreadPoolExecutor(max_workers=1).submit(train_judge, None)
            # where ensure_judge puts it; the metric loads the judge only when it scores
            judge_files = tuple(osp.join(judge_dir(data_root), f)
                                for f in ('config.py', 'judge.pth'))
            if judge_threads:
                cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + [dict(
                    type='ShareCoresHook', until_exists=judge_files[1],
                    threads=max(1, total - judge_threads))]
        else:
            judge_files = train_judge('Epoch(')
    set_judge(cfg, *judge_files)
    cfg_path = osp.join(work_dir, 'config.py')
    cfg.dump(cfg_path)

    epochs = int(cfg.train_cfg.max_epochs)
    ckpt = osp.join(work_dir, 'train', f'epoch_{epochs}.pth')
    _stage(3, f'training self-disentanglement for {epochs} epochs (log: '
              f'{osp.join(rel, "train.log")})')
    try:
        if osp.isfile(ckpt):
            print(f'  trained earlier: {osp.relpath(ckpt)}', flush=True)
        else:
            train_run(cfg_path, osp.join(work_dir, 'train'), train_seed,
                      osp.join(work_dir, 'train.log'), echo='Epoch(')
    finally:
        if judge_job is not None:  # wait for it (and raise its error) before stage 4
            trained = judge_job.result()
            if tuple(map(osp.abspath, trained)) != tuple(map(osp.abspath, judge_files)):
                raise StudyError(f'the judge was trained into {trained}, not {judge_files}')
    t_train = time.time()

    _stage(4, 'measuring: pose metrics and DisentanglementMetric (judged) on the test split')
    metrics_path = osp.join(work_dir, 'metrics.json')
    tmp_metrics = osp.join(work_dir, f'.metrics.tmp-{os.getpid()}.json')  # --out needs .json
    run_tool('test.py', [cfg_path, ckpt, '--work-dir', osp.join(work_dir, 'test'), '--out',
                         tmp_metrics], osp.join(work_dir, 'test.log'))
    os.replace(tmp_metrics, metrics_path)
    with open(metrics_path) as f:
        metrics = json.load(f)

    _stage(5, 'drawing the swap grid and the retrieval figure')
    grid = osp.join(work_dir, 'swap_grid.png')
    retrieval = osp.join(work_dir, 'retrieval.png')
    num = 4 if args.micro else 6
    device = ['--device', 'cuda'] if args.preset == 'gpu' else []
    run_tool('swap_grid.py', [cfg_path, ckpt, '--out', grid, '--num-pose', str(num),
                              '--num-appearance', str(num), '--scale', '2', '--truth',
                              '--judge', *judge_files, '--title',
                              f'demo: self-disentanglement after {epochs} epochs', *device],
             osp.join(work_dir, 'figures.log'))
    with open(osp.join(data_root, 'annotations', 'test.json')) as f:
        num_test = len(json.load(f)['images'])
    run_tool('retrieve.py', [cfg_path, ckpt, '--query', str(min(10, num_test - 1)), '--k',
                             '8' if args.micro else '12', '--out', retrieval, '--title',
                             f'demo after {epochs} epochs', *device],
             osp.join(work_dir, 'figures.log'))

    lines = ['| metric | value | meaning |', '|---|---|---|']
    for key, label, meaning in SUMMARY_KEYS:
        if key in metrics:
            lines.append(f'| {label} | {metrics[key]:.3f} | {meaning} |')
        if key == 'disent/PCK_mix_gain':
            lines += by_place_rows(metrics)
    table = '\n'.join(lines)
    if any(isinstance(m, dict) and m.get('appearance_crop') == 'pose'
           for m in cfg.get('test_evaluator') or ()):
        table += ("\n\nEach measured mix was given y's image cropped where x was (the metric's "
                  "appearance_crop='pose'; docs/metrics.md); the swap grid shows y's own crops.")
    minutes = (time.time() - t0) / 60
    summary = (f'# mmselfdis demo\n\n{args.num_poses} poses x 2 appearances, {epochs} epochs '
               f'of self-disentanglement (`{osp.relpath(osp.abspath(args.config), REPO)}`, '
               f'preset {args.preset}; the run\'s config: {osp.relpath(cfg_path)}), '
               f'{minutes:.1f} min in all ({(t_train - t0) / 60:.1f} min to the trained model).'
               f'\n\n{table}\n\nThe judge ({judge_files[1]}) is a pose estimator trained on '
               f'the real training images only; it never saw a mix. A model that has '
               f'disentangled puts x\'s pose into the mix (the judge\'s PCK on the mix close to '
               f'its PCK on the true render, well above the floor) with y\'s appearance '
               f'(the hand\'s tone close to the true render\'s, measured without a network), '
               f'and its paired L1 is below both copies. The self-graded lines are the '
               f'generator reading its own mixes: it can be fooled (appearance recall above '
               f'the true render\'s rewards what a mix keeps of y\'s hand).\n\n'
               f'Swap grid: {osp.relpath(grid)} (top: pose sources; left: appearance sources; '
               f'below the mixes: the true renders). Retrieval: {osp.relpath(retrieval)}.\n')
    atomic_write(osp.join(work_dir, 'summary.md'), summary)
    print('\n' + summary, flush=True)


if __name__ == '__main__':
    from mmselfdis.utils import run_cli
    run_cli(main)
