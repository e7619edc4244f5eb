"""Augmentation-ratio study (paper §4.5): pose error vs the share r of mixed images.

Trains CONFIG (a top-down pose config) once per arm through ``tools/train.py``
with the same budget and seed, evaluates every arm with ``tools/test.py`` on
the config's test set(s) (for SynthHands both ``test`` and ``test_shift``) and
on ``val`` (used only to pick the combined arm's r), and writes
``results.csv``, ``results.md`` and ``results.png`` into the work dir.

Arms:

* ``r=<r>`` for each ratio: ``MixReconstruct(prob=r)`` after ``TopdownAffine``
  (r = 0 is the plain baseline);
* ``jitter``: the conventional arm, ``AppearanceJitter`` at the same budget;
* ``jitter+r=<r>``: both, at ``--combined-ratio`` (default ``best``: the
  r > 0 with the lowest val EPE);
* ``recon_r=<r>`` (with ``--reconstruction-ratio r``): a control, the share r
  of samples replaced by the generator's reconstruction of themselves
  (``MixReconstruct(appearance_policy='self')``): the generator's pictures
  without another appearance, to tell their effect from the mixing's.

Without ``--generator`` the generator (``--generator-config``, default the
self-disentanglement config of Table 4 row 3) is trained once first, on the
same data and preset, and reused.

The study is resumable: an arm whose ``metrics.json`` exists is not
retrained, an interrupted arm resumes from its last checkpoint, tables are
written atomically, and a work dir that holds a study of another config or
preset is refused. ``results.{csv,md,png}`` are written only once every arm
has finished; while arms are missing, progress goes to
``results.partial.{csv,md}`` (titled ``incomplete: N of M arms``).

Examples::

    python tools/ratio_study.py configs/augment/ratio-study_unet_synthhands-mono-64x64.py \\
        --preset cpu-small --work-dir work_dirs/ratio_study
    python tools/ratio_study.py CONFIG --ratios 0 0.25 0.5 --work-dir DIR --generator CKPT
"""
import argparse
import csv
import datetime
import glob
import io
import json
import os
import os.path as osp
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

from mmselfdis.utils.study import (StudyError, apply_options, atomic_write,  # noqa: E402
                                   atomic_write_bytes, dump_run, ensure_synthhands, inner_dataset,
                                   evaluate_splits, fmt_cell, micro_options, remove_files,
                                   remove_stale_tables, set_data_root, sha16, train_run)
from mmselfdis.utils.study import check_manifest as _check_manifest  # noqa: E402

DEFAULT_RATIOS = (0.0, 0.1, 0.25, 0.5, 0.75)
DEFAULT_GENERATOR_CONFIG = osp.join(REPO, 'configs', 'selfdis',
                                    't4-3_selfdis_unet_synthhands-mono-64x64.py')
METRIC_KEYS = ('EPE', 'PCK', 'AUC')

# The 'micro' preset (seconds per arm, for tests of the bookkeeping on real tiny runs): the
# same overrides for the pose model and the generator.
_MICRO = {
    'train_cfg.max_epochs': 1,
    'train_cfg.val_interval': 1,
    **micro_options((8, 8, 4, 4)),
    'default_hooks.checkpoint.save_best': None,
}

# Presets: overrides of the pose config and the generator config, and the synthetic
# data set a preset renders itself (None: use the config's data_root as it is).
PRESETS: Dict[str, dict] = {
    # the configs as written (paper scale: pass a paper-scale CONFIG, run on a GPU)
    'paper': dict(data=None, pose={}, generator={}),
    # the whole study on 2 CPU cores in <= 45 min (an otherwise idle machine): 2000 poses
    # x 2 appearances (2800 training crops), a narrow UNet (base 8), 2 epochs per arm
    # and for the generator; no validation during training (every arm is evaluated
    # once, at its last epoch)
    'cpu-small': dict(
        data=dict(num_poses=2000, appearances=2, seed=0),
        pose={
            'train_cfg.max_epochs': 2,
            'train_cfg.val_interval': 1000,
            'train_dataloader.batch_size': 32,
            'model.backbone.base_channels': 8,
            'model.head.in_channels': 64,
            'model.head.deconv_out_channels': (32, 16, 8, 8),
            'default_hooks.checkpoint.save_best': None,
        },
        generator={
            'train_cfg.max_epochs': 2,
            'train_cfg.val_interval': 1000,
            'train_dataloader.batch_size': 32,
            'model.backbone.base_channels': 8,
            'model.head.in_channels': 64,
            'model.head.deconv_out_channels': (32, 16, 8, 8),
            'default_hooks.checkpoint.save_best': None,
        }),
    'micro': dict(
        data=dict(num_poses=40, appearances=2, seed=0),
        pose=dict(_MICRO),
        generator=dict(_MICRO)),
}


# --------------------------------------------------------------------- helpers
def ratio_name(r: float) -> str:
    """Arm name of a ratio: ``r=0.25``."""
    return f'r={r:g}'


def arm_list(ratios: Sequence[float], conventional: bool, combined: bool,
             reconstruction: Optional[float] = None) -> List[dict]:
    """The arms of a study, in run order (combined last: its r depends on the others)."""
    arms = [dict(name=ratio_name(r), kind='ratio', ratio=float(r), jitter=False)
            for r in ratios]
    if reconstruction is not None:
        arms.append(dict(name=f'recon_{ratio_name(reconstruction)}', kind='reconstruction',
                         ratio=float(reconstruction), jitter=False))
    if conventional:
        arms.append(dict(name='jitter', kind='conventional', ratio=0.0, jitter=True))
    if combined:
        arms.append(dict(name='jitter+r', kind='combined', ratio=None, jitter=True))
    return arms


def read_arm_metrics(work_dir: str) -> Dict[str, dict]:
    """``{arm name: metrics}`` of every finished arm (``arms/*/metrics.json``)."""
    out = {}
    for path in sorted(glob.glob(osp.join(work_dir, 'arms', '*', 'metrics.json'))):
        with open(path) as f:
            m = json.load(f)
        out[m['arm']] = m
    return out


def pick_combined_ratio(metrics: Dict[str, dict], choice: str) -> float:
    """The combined arm's r: a number, ``'best'`` (lowest val EPE of r > 0) or ``'middle'``."""
    if choice not in ('best', 'middle'):
        return float(choice)
    ratio_arms = sorted((m for m in metrics.values() if m['kind'] == 'ratio' and m['ratio'] > 0),
                        key=lambda m: m['ratio'])
    if not ratio_arms:
        raise StudyError('the combined arm needs at least one finished ratio arm with r > 0 '
                         '(or pass --combined-ratio R)')
    if choice == 'middle':
        return ratio_arms[len(ratio_arms) // 2]['ratio']
    with_val = [m for m in ratio_arms if 'val' in m['splits']]
    pool = with_val or ratio_arms
    key = (lambda m: m['splits']['val']['EPE']) if with_val else (lambda m: m['ratio'])
    return min(pool, key=key)['ratio']


def build_tables(metrics: Dict[str, dict], report_splits: Sequence[str]
                 ) -> Tuple[str, str]:
    """``results.csv`` and ``results.md`` text from the finished arms' metrics."""
    order = {'ratio': 0, 'reconstruction': 1, 'conventional': 2, 'combined': 3}
    arms = sorted(metrics.values(), key=lambda m: (order[m['kind']], m['ratio']))
    base = next((m for m in arms if m['kind'] == 'ratio' and m['ratio'] == 0), None)

    def rel(m: dict, split: str) -> Optional[float]:
        if base is None or split not in m['splits'] or split not in base['splits']:
            return None
        b = base['splits'][split]['EPE']
        return 100.0 * (m['splits'][split]['EPE'] - b) / b if b else None

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator='\n')
    w.writerow(['arm', 'kind', 'ratio', 'jitter', 'split', 'EPE', 'PCK@0.2', 'AUC',
                'EPE_change_vs_r0_percent', 'train_seconds', 'data_time_share'])
    for m in arms:
        for split, vals in m['splits'].items():
            change = rel(m, split)
            w.writerow([m['arm'], m['kind'], m['ratio'], int(m['jitter']), split,
                        vals.get('EPE'), vals.get('PCK'), vals.get('AUC'),
                        '' if change is None else round(change, 2),
                        m.get('train_seconds'), m.get('data_time_share')])
    head = ['arm', 'r', 'jitter']
    for s in report_splits:
        head += [f'{s} EPE', f'{s} PCK@0.2']
    head += [f'{report_splits[-1]} EPE vs r=0'] if report_splits else []
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for m in arms:
        row = [m['arm'], f'{m["ratio"]:g}', 'yes' if m['jitter'] else 'no']
        for s in report_splits:
            v = m['splits'].get(s, {})
            row += [fmt_cell(v.get('EPE')), fmt_cell(v.get('PCK'))]
        if report_splits:
            change = rel(m, report_splits[-1])
            row.append('–' if change is None else f'{change:+.1f} %')
        lines.append('| ' + ' | '.join(row) + ' |')
    return buf.getvalue(), '\n'.join(lines) + '\n'


def plot(metrics: Dict[str, dict], report_splits: Sequence[str], path: str) -> None:
    """EPE and PCK@0.2 vs r per split, with the r = 0 baseline and the other arms."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    colors = plt.rcParams['axes.prop_cycle'].by_key()['color']
    for ax, key, label in zip(axes, ('EPE', 'PCK'), ('EPE (px, lower is better)',
                                                     'PCK@0.2 (higher is better)')):
        for c, split in zip(colors, report_splits):
            pts = sorted((m['ratio'], m['splits'][split][key]) for m in metrics.values()
                         if m['kind'] == 'ratio' and split in m['splits'])
            if pts:
                ax.plot(*zip(*pts), 'o-', color=c, label=f'mixing, {split}')
            base = [v for r, v in pts if r == 0]
            if base:
                ax.axhline(base[0], color=c, ls=':', lw=1, label=f'r = 0 baseline, {split}')
            for m in metrics.values():
                if split not in m['splits']:
                    continue
                if m['kind'] == 'conventional':
                    ax.axhline(m['splits'][split][key], color=c, ls='--', lw=1,
                               label=f'AppearanceJitter, {split}')
                elif m['kind'] == 'combined':
                    ax.plot([m['ratio']], [m['splits'][split][key]], '*', ms=12, color=c,
                            label=f'jitter + mixing (r={m["ratio"]:g}), {split}')
                elif m['kind'] == 'reconstruction':
                    ax.plot([m['ratio']], [m['splits'][split][key]], 'x', ms=10, mew=2,
                            color=c, label=f'reconstructions (r={m["ratio"]:g}), {split}')
        ax.set_xlabel('augmentation ratio r')
        ax.set_ylabel(label)
        ax.grid(alpha=.3)
    axes[1].legend(fontsize=7, loc='best')
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format='png', dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


FINAL_TABLES = ('results.csv', 'results.md', 'results.png')
"""The tables of a finished study; these names never hold the tables of an unfinished one."""
PARTIAL_TABLES = ('results.partial.csv', 'results.partial.md')
"""Progress tables written after each arm while the study is unfinished."""


def write_reports(work_dir: str, report_splits: Sequence[str], command: str,
                  progress: Optional[Tuple[int, int]] = None) -> None:
    """(Re)write the tables from the finished arms' metrics.

    Without ``progress`` (the study is finished): ``results.csv``,
    ``results.md`` and ``results.png``, then the progress tables are removed.
    With ``progress=(done, total)`` (``done < total`` arms of this run
    finished): only ``results.partial.csv`` and ``results.partial.md``, whose
    title says ``incomplete: done of total arms``, so that an interrupted
    study's tables are never mistaken for the finished ones.
    """
    metrics = read_arm_metrics(work_dir)
    if not metrics:
        return
    csv_text, md_table = build_tables(metrics, report_splits)
    note = (f'EPE: mean keypoint distance in pixels (64x64 crops); PCK@0.2: share of keypoints '
            f'within 0.2 of the box size. Last-epoch checkpoints, equal budget and seed.\n')
    if progress is not None:
        done, total = progress
        md = (f'# Augmentation ratio study (incomplete: {done} of {total} arms)\n\n'
              f'**Incomplete**: the study is still running or was interrupted; run the same '
              f'command again to finish it (finished arms are not retrained). The finished '
              f'study\'s tables are results.csv, results.md and results.png.\n\n'
              f'Command: `{command}`\n\n{md_table}\n{note}')
        atomic_write(osp.join(work_dir, 'results.partial.csv'), csv_text)
        atomic_write(osp.join(work_dir, 'results.partial.md'), md)
        return
    atomic_write(osp.join(work_dir, 'results.csv'), csv_text)
    md = f'# Augmentation ratio study\n\nCommand: `{command}`\n\n{md_table}\n{note}'
    atomic_write(osp.join(work_dir, 'results.md'), md)
    plot(metrics, report_splits, osp.join(work_dir, 'results.png'))
    remove_files(work_dir, PARTIAL_TABLES)


# ------------------------------------------------------------------ the study
MANIFEST_KEYS = ('config', 'config_sha', 'preset', 'seed', 'generator', 'epochs')


def check_manifest(work_dir: str, manifest: dict) -> None:
    """Refuse a work dir that holds a study of another config/preset; else record ours."""
    _check_manifest(work_dir, manifest, MANIFEST_KEYS)


def make_arm_config(base_cfg, arm: dict, generator: Optional[str]):
    """The arm's config: the base with the augmentation after ``TopdownAffine``."""
    import copy

    from mmselfdis.apis import crop_pipeline, insert_after_affine
    cfg = copy.deepcopy(base_cfg)
    ds = inner_dataset(cfg.train_dataloader.dataset)
    steps = []
    if arm['ratio'] > 0:
        steps.append(dict(type='MixReconstruct', checkpoint=generator, prob=arm['ratio'],
                          pre_transform=crop_pipeline(ds.pipeline), device='cpu'))
        if arm['kind'] == 'reconstruction':
            steps[-1]['appearance_policy'] = 'self'
    if arm['jitter']:
        steps.append(dict(type='AppearanceJitter'))
    if steps:
        ds.pipeline = insert_after_affine(ds.pipeline, steps)
    cfg.custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)
    return cfg


def test_splits(cfg) -> Dict[str, str]:
    """``{split: ann_file}``: val, the config's test file and a sibling ``test_shift.json``."""
    def ann(loader):
        ds = cfg[loader]['dataset']
        while 'ann_file' not in ds and 'dataset' in ds:
            ds = ds['dataset']
        return ds.get('data_root', ''), ds['ann_file']

    splits = {}
    _, val_ann = ann('val_dataloader')
    splits['val'] = val_ann
    root, test_ann = ann('test_dataloader')
    splits[osp.splitext(osp.basename(test_ann))[0]] = test_ann
    shift = osp.join(osp.dirname(test_ann), 'test_shift.json')
    if osp.basename(test_ann) == 'test.json' and osp.isfile(osp.join(root, shift)):
        splits['test_shift'] = shift
    return splits


def _train_timing(work: str) -> Tuple[Optional[float], Optional[float]]:
    """Mean ``data_time`` share of iteration time and the training wall time (s)."""
    files = sorted(glob.glob(osp.join(work, '*', 'vis_data', 'scalars.json')))
    rows = []
    for path in files:
        with open(path) as f:
            rows += [json.loads(line) for line in f if line.strip()]
    train = [r for r in rows if 'data_time' in r and 'loss' in r]
    if not train:
        return None, None
    skip = train[1:] if len(train) > 1 else train  # the first window includes worker start-up
    share = sum(r['data_time'] for r in skip) / max(1e-9, sum(r['time'] for r in skip))
    return round(share, 4), None


def run_arm(arm: dict, base_cfg, work_dir: str, generator: Optional[str], seed: int,
            splits: Dict[str, str]) -> dict:
    """Train and evaluate one arm (resuming an interrupted run); return its metrics."""
    arm_dir = osp.join(work_dir, 'arms', arm['name'])
    cfg_path, work, ckpt = dump_run(make_arm_config(base_cfg, arm, generator), arm_dir)
    t0 = time.time()
    if not osp.isfile(ckpt):
        train_run(cfg_path, work, seed, osp.join(arm_dir, 'train.log'))
    train_seconds = round(time.time() - t0, 1)
    share, _ = _train_timing(work)
    results = evaluate_splits(cfg_path, ckpt, arm_dir, splits, METRIC_KEYS)
    metrics = dict(arm=arm['name'], kind=arm['kind'], ratio=arm['ratio'], jitter=arm['jitter'],
                   seed=seed, checkpoint=ckpt, splits=results, train_seconds=train_seconds,
                   data_time_share=share,
                   finished=datetime.datetime.now(datetime.timezone.utc).isoformat())
    atomic_write(osp.join(arm_dir, 'metrics.json'), json.dumps(metrics, indent=2))
    return metrics


def ensure_data(work_dir: str, spec: Optional[dict]) -> Optional[str]:
    """Render the preset's SynthHands set into the work dir once; its data_root."""
    if spec is None:
        return None
    return ensure_synthhands(osp.join(work_dir, 'data', 'synthhands'), spec,
                             osp.join(work_dir, 'data.log'))


def ensure_generator(work_dir: str, gen_config: str, preset: dict, data_root: Optional[str],
                     seed: int) -> str:
    """Train the generator once (``generator/``); the path of its final checkpoint."""
    from mmengine.config import Config
    gen_dir = osp.join(work_dir, 'generator')
    done = osp.join(gen_dir, 'done.json')
    if osp.isfile(done):
        with open(done) as f:
            ckpt = json.load(f)['checkpoint']
        print(f'[ratio_study] generator: trained earlier, {ckpt}', flush=True)
        return ckpt
    print(f'[ratio_study] training the generator ({osp.relpath(gen_config, REPO)})', flush=True)
    cfg = Config.fromfile(gen_config)
    apply_options(cfg, preset['generator'])
    set_data_root(cfg, data_root)
    cfg_path, work, ckpt = dump_run(cfg, gen_dir)
    t0 = time.time()
    train_run(cfg_path, work, seed, osp.join(gen_dir, 'train.log'))
    if not osp.isfile(ckpt):
        raise RuntimeError(f'generator training finished without {ckpt}; see '
                           f'{osp.join(gen_dir, "train.log")}')
    atomic_write(done, json.dumps(dict(checkpoint=ckpt, seconds=round(time.time() - t0, 1)),
                                  indent=2))
    return ckpt


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Pose error vs augmentation ratio r (mixed images), with a conventional '
        'and a combined arm at the same budget.')
    parser.add_argument('config', metavar='CONFIG', help='the base pose config')
    parser.add_argument('--work-dir', required=True, help='where arms and tables go')
    parser.add_argument('--ratios', type=float, nargs='+', default=list(DEFAULT_RATIOS),
                        help='augmentation ratios r in [0, 1] (default 0 0.1 0.25 0.5 0.75)')
    parser.add_argument('--preset', choices=sorted(PRESETS), default='paper',
                        help='paper: the configs as written (GPU); cpu-small: the whole study '
                        'on 2 CPU cores in <= 45 min; micro: seconds, for tests')
    parser.add_argument('--generator', help='trained generator checkpoint (default: train '
                        '--generator-config once in WORK_DIR/generator)')
    parser.add_argument('--generator-config', default=DEFAULT_GENERATOR_CONFIG,
                        help='config to train the generator with when --generator is not given')
    parser.add_argument('--no-conventional', action='store_true',
                        help='skip the AppearanceJitter arm')
    parser.add_argument('--no-combined', action='store_true',
                        help='skip the AppearanceJitter + mixing arm')
    parser.add_argument('--combined-ratio', default='best',
                        help="r of the combined arm: a number, 'best' (lowest val EPE, "
                        "default; arms are then also evaluated on val) or 'middle'")
    parser.add_argument('--reconstruction-ratio', type=float, metavar='R',
                        help="add a control arm: the share R of samples replaced by the "
                        "generator's reconstruction of themselves (no other appearance)")
    parser.add_argument('--seed', type=int, default=0, help='seed of every arm (default 0)')
    parser.add_argument('--epochs', type=int,
                        help="epochs of every pose arm (default: the preset's; the generator "
                        "keeps the preset's schedule)")
    args = parser.parse_args(argv)
    bad = [r for r in args.ratios if not 0 <= r <= 1]
    if bad:
        raise StudyError(f'--ratios must lie in [0, 1], got {bad}')
    if args.reconstruction_ratio is not None and not 0 < args.reconstruction_ratio <= 1:
        raise StudyError(f'--reconstruction-ratio must lie in (0, 1], got '
                         f'{args.reconstruction_ratio}')
    if args.epochs is not None and args.epochs < 1:
        raise StudyError(f'--epochs must be >= 1, got {args.epochs}')
    return args


def main(argv: Optional[List[str]] = None) -> None:
    import mmselfdis  # noqa: F401  (registers components)
    from mmengine.config import Config

    from mmselfdis.utils import check_custom_imports

    args = parse_args(argv)
    if not osp.isfile(args.config):
        raise FileNotFoundError(2, 'No such file or directory', args.config)
    work_dir = osp.abspath(args.work_dir)
    preset = PRESETS[args.preset]
    base_cfg = Config.fromfile(args.config)
    check_custom_imports(base_cfg, args.config)
    if args.generator is not None and not osp.isfile(args.generator):
        raise FileNotFoundError(2, 'No such file or directory (--generator)', args.generator)
    manifest = dict(config=osp.abspath(args.config), config_sha=sha16(base_cfg.pretty_text),
                    preset=args.preset, seed=args.seed,
                    generator=osp.abspath(args.generator) if args.generator else 'trained',
                    epochs=args.epochs,
                    created=datetime.datetime.now(datetime.timezone.utc).isoformat())
    check_manifest(work_dir, manifest)
    command = 'python tools/ratio_study.py ' + ' '.join(
        [osp.relpath(args.config, REPO)] + (sys.argv[2:] if argv is None else list(argv)[1:]))

    apply_options(base_cfg, preset['pose'])
    if args.epochs is not None:
        base_cfg.train_cfg.max_epochs = args.epochs
    data_root = ensure_data(work_dir, preset['data'])
    set_data_root(base_cfg, data_root)
    splits = test_splits(base_cfg)
    report = [s for s in splits if s != 'val']
    select_on_val = (not args.no_combined and args.combined_ratio == 'best'
                     and len([r for r in args.ratios if r > 0]) > 1)
    if not select_on_val:
        splits.pop('val')  # val only serves to pick the combined arm's r

    needs_generator = (any(r > 0 for r in args.ratios) or not args.no_combined
                       or args.reconstruction_ratio is not None)
    generator = args.generator
    if generator is None and needs_generator:
        generator = ensure_generator(work_dir, args.generator_config, preset, data_root,
                                     args.seed)
    generator = osp.abspath(generator) if generator else None

    arms = arm_list(args.ratios, not args.no_conventional, not args.no_combined,
                    args.reconstruction_ratio)
    for i, arm in enumerate(arms):
        if arm['kind'] == 'combined':
            rc = pick_combined_ratio(read_arm_metrics(work_dir), args.combined_ratio)
            arm = dict(arm, name=f'jitter+{ratio_name(rc)}', ratio=rc)
        if osp.isfile(osp.join(work_dir, 'arms', arm['name'], 'metrics.json')):
            print(f'[ratio_study] {arm["name"]}: finished earlier, not retrained', flush=True)
            continue
        remove_stale_tables(work_dir, FINAL_TABLES, 'ratio_study', 'arms')
        t0 = time.time()
        print(f'[ratio_study] {arm["name"]}: training and evaluating', flush=True)
        run_arm(arm, base_cfg, work_dir, generator, args.seed, splits)
        print(f'[ratio_study] {arm["name"]}: done in {time.time() - t0:.0f} s', flush=True)
        if i + 1 < len(arms):
            write_reports(work_dir, report, command, progress=(i + 1, len(arms)))
    write_reports(work_dir, report, command)
    print(f'[ratio_study] tables: {osp.join(work_dir, "results.md")}', flush=True)


if __name__ == '__main__':
    from mmselfdis.utils import run_cli
    run_cli(main)
