"""Reproduce the paper's Table 4 (models 1-6) on the synthetic paired set.

Trains the six rows of ``configs/selfdis/t4-*`` through ``tools/train.py``
with one preset's scale and seed, evaluates each row's last checkpoint with
``tools/test.py`` on ``test`` and ``test_shift`` (the appearance families no
training image has), and writes ``results.md`` / ``results.csv`` with EPE in
pixels and the relative improvement over row 1, next to the paper's figures.

Rows (paper §4.5):

1. baseline pose estimator (E epochs)
2. pose estimator + image reconstruction (E epochs)
3. self-disentanglement (E epochs)
4. row 3 trained E more epochs (warm start from row 3's last checkpoint)
5. as 4, without pose-estimator detach
6. as 5, without pose detach
1-long. row 1 trained 2E epochs: as many iterations as rows 4-6 (not in the
   paper; it separates "trained longer" from "the branch")

Rows 2-6 use ``SelfDisHead``'s default gradient balancing (the image branch's
gradient on the shared layers is at most the pose gradient's norm);
``--no-grad-balance`` trains them with the paper's plain sum of the losses.

Presets:

* ``cpu``: the whole table on 2 CPU cores in <= 45 min: 3,000 poses x 2
  appearances (4,200 training crops), the configs' narrow UNet (base 16) with
  BatchNorm and 16x16 heatmaps (both make the pose branch learn within the
  budget), 4 epochs per row (rows 4-6: 4 more).
* ``gpu``: the paper's networks, batch and lr (UNet base 64, 64x64 heatmaps,
  batch 128, Adam 1e-3) on 16,000 poses x 2 appearances, 2 epochs per row,
  8 loader workers, every training and evaluation in this one process
  (``--in-process``), one after the other; meant for <= 8 min on one large GPU,
  sized from step and loader probes, not run whole yet at this size
  (docs/results.md, "The gpu presets").
* ``paper``: the paper's scale (GPU): 123,034 poses x 2 appearances, the
  full-width UNet (base 64) and heatmap decoder of the configs, 75 epochs at
  batch 128 (rows 4-6: 75 more).
* ``micro``: seconds per row, to test the bookkeeping.

The tool is resumable (a row whose ``metrics.json`` exists is not retrained,
an interrupted row resumes from its last checkpoint), ``results.{md,csv}``
exist only once every row has finished (until then progress goes to
``results.partial.md``), and a work dir holding another preset's or seed's
table is refused.

``--budgets 1 2 4`` / ``--seeds 0 1 2`` train the chosen rows at several
multiples of the preset's epochs and/or seeds, each in ``WORK_DIR/b<K>x-s<SEED>``
(one table each, on one rendered data set), and write the trend over budget
``WORK_DIR/trend.{md,csv,png}`` (test EPE against epochs, mean ± sd over seeds).

Examples::

    python tools/reproduce_table4.py --preset cpu --work-dir work_dirs/table4
    python tools/reproduce_table4.py --preset cpu --work-dir work_dirs/t4_trend --rows 1 3 \
        --budgets 1 2 4
    python tools/reproduce_table4.py --preset paper --work-dir work_dirs/table4_paper
    python tools/reproduce_table4.py --preset cpu --work-dir DIR --data-root data/synthhands
"""
import argparse
import csv
import datetime
import io
import json
import os
import os.path as osp
import sys
import time
from typing import Dict, List, Optional, Sequence, Union

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

from mmselfdis.utils.study import (PAPER_NETWORK, StudyError, apply_options,  # noqa: E402
                                   atomic_write, check_manifest, dump_run, ensure_synthhands,
                                   environment_note, evaluate_splits, fmt_cell, fmt_seeds,
                                   gpu_loader_options, mean_sd, micro_options, read_environment,
                                   remove_files, remove_stale_tables, set_data_root,
                                   set_heatmap_size, set_in_process, sha16, train_run)

CONFIG_DIR = osp.join(REPO, 'configs', 'selfdis')

# (id, config, name in the paper's table, warm start from row, paper EPE "MSE in pixels",
#  epochs as a multiple of the preset's)
ROWS = (
    ('1', 't4-1_baseline_unet_synthhands-mono-64x64.py', 'Baseline pose estimator', None,
     4.174, 1),
    ('2', 't4-2_autoencoder_unet_synthhands-mono-64x64.py',
     'Pose estimator + image reconstruction', None, 3.982, 1),
    ('3', 't4-3_selfdis_unet_synthhands-mono-64x64.py', 'Self-disentanglement', None, 3.923,
     1),
    ('4', 't4-4_selfdis-resume_unet_synthhands-mono-64x64.py',
     'Self-disentanglement + resume (**)', '3', 3.864, 1),
    ('5', 't4-5_selfdis-no-estimator-detach_unet_synthhands-mono-64x64.py',
     '(**) + no pose estimator detach', '3', 3.756, 1),
    ('6', 't4-6_selfdis-no-pose-detach_unet_synthhands-mono-64x64.py',
     '(**) + no pose estimator detach + no pose detach', '3', 3.735, 1),
    ('1-long', 't4-1_baseline_unet_synthhands-mono-64x64.py',
     'Baseline, as many iterations as rows 4-6 (not in the paper)', None, None, 2),
)
ROW_IDS = tuple(r[0] for r in ROWS)
SPLITS = ('test', 'test_shift')
METRIC_KEYS = ('EPE', 'PCK', 'AUC')

_NO_VAL = {
    'train_cfg.val_interval': 10**6,  # every row is evaluated once, at its last epoch
    'default_hooks.checkpoint.save_best': None,
}
GPU_POSES, GPU_EPOCHS = 16000, 2  # the gpu preset's set and epochs
PRESETS: Dict[str, dict] = {
    'cpu': dict(
        data=dict(num_poses=3000, appearances=2, seed=0),
        heatmap_size=16,
        options={
            **_NO_VAL,
            'train_cfg.max_epochs': 4,
            'train_dataloader.batch_size': 32,
            'model.backbone.norm_cfg': dict(type='BN'),
            'default_hooks.logger.interval': 25,
        }),
    # the paper's networks, batch and lr (base 64, 64x64 heatmaps, batch 128, Adam 1e-3) on a
    # smaller set for fewer epochs, for <= 8 min on one large GPU: every row in this process
    # (start-up paid once), one at a time (side by side, runs share the GPU and the cores:
    # docs/results.md, "The gpu presets")
    'gpu': dict(
        data=dict(num_poses=GPU_POSES, appearances=2, seed=0),
        heatmap_size=None,
        in_process=True,
        options={
            **_NO_VAL,
            **gpu_loader_options(8),
            **PAPER_NETWORK,
            'train_cfg.max_epochs': GPU_EPOCHS,
            'default_hooks.logger.interval': 50,
        }),
    'paper': dict(
        data=dict(num_poses=123034, appearances=2, seed=0),
        heatmap_size=None,
        options={
            **_NO_VAL,
            **PAPER_NETWORK,
            'train_cfg.max_epochs': 75,
            'default_hooks.logger.interval': 100,
        }),
    'micro': dict(
        data=dict(num_poses=40, appearances=2, seed=0),
        heatmap_size=16,
        options={**_NO_VAL, 'train_cfg.max_epochs': 1, **micro_options((8, 8, 4, 4))}),
}
FINAL_TABLES = ('results.csv', 'results.md')
PARTIAL_TABLES = ('results.partial.md', )


def row_config(row: tuple, preset: dict, data_root: str, warm_start: Optional[str],
               budget: int = 1, grad_balance: Union[bool, float] = True,
               pose_loss: str = 'mse'):
    """The row's config at the preset's scale (epochs x ``budget``), on ``data_root``.

    ``grad_balance=False`` switches ``SelfDisHead``'s gradient balancing off
    (the paper's plain sum of the losses) in the rows that have the branch, a
    number ``r`` caps the branch's gradient at the split at ``r`` times the
    pose gradient's norm (``grad_balance=dict(mode='norm', max_ratio=r)``);
    ``pose_loss='l1'`` trains the heatmaps with the paper's L1 (eq. 1, and
    eq. 6 through the head) instead of the configs' ``KeypointMSELoss``.
    """
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(CONFIG_DIR, row[1]))
    apply_options(cfg, preset['options'])
    cfg.train_cfg.max_epochs = int(cfg.train_cfg.max_epochs) * row[5] * budget
    if preset['heatmap_size']:
        set_heatmap_size(cfg, preset['heatmap_size'])
    set_data_root(cfg, data_root)
    if grad_balance is False and 'selfdis' in cfg.model:
        cfg.model.selfdis.grad_balance = None
    elif grad_balance is not True and 'selfdis' in cfg.model:
        cfg.model.selfdis.grad_balance = dict(mode='norm', max_ratio=float(grad_balance))
    if pose_loss == 'l1':
        cfg.model.head.loss = dict(type='KeypointL1Loss', use_target_weight=True)
    elif pose_loss != 'mse':
        raise StudyError(f'pose_loss must be mse or l1, got {pose_loss!r}')
    cfg.load_from = warm_start  # rows 4-6: row 3's weights; rows 1-3: from scratch
    return cfg


def last_checkpoint(metrics: dict) -> str:
    """The last checkpoint a finished row wrote (what rows 4-6 start from).

    MMEngine's ``last_checkpoint`` record in the row's work dir names it; it
    must be the row's final epoch (``epoch_<its epochs>.pth``), whatever the
    preset's or budget's epoch count.
    """
    want = metrics['checkpoint']
    record = osp.join(osp.dirname(want), 'last_checkpoint')
    path = want
    if osp.isfile(record):
        with open(record) as f:
            path = f.read().strip() or want
    if osp.basename(path) != f'epoch_{metrics["epochs"]}.pth' or not osp.isfile(path):
        raise StudyError(f'row {metrics["row"]}\'s last checkpoint should be '
                         f'epoch_{metrics["epochs"]}.pth of its {metrics["epochs"]} epochs, found '
                         f'{path!r}: retrain row {metrics["row"]} (delete '
                         f'{osp.dirname(osp.dirname(want))}) before the rows that start from it')
    return path


def run_row(row: tuple, preset: dict, work_dir: str, data_root: str, seed: int,
            warm_start: Optional[str], index: int, total: int, budget: int = 1,
            grad_balance: Union[bool, float] = True, pose_loss: str = 'mse') -> dict:
    """Train and evaluate one row (resuming an interrupted run); its metrics."""
    rid, config, name = row[:3]
    row_dir = osp.join(work_dir, 'rows', f'{rid}')
    cfg = row_config(row, preset, data_root, warm_start, budget, grad_balance, pose_loss)
    cfg_path, work, ckpt = dump_run(cfg, row_dir)
    epochs = int(cfg.train_cfg.max_epochs)
    t0 = time.time()
    if not osp.isfile(ckpt):
        print(f'[table4] row {rid} ({index}/{total}), {name}: training {epochs} epochs; '
              f'log {osp.relpath(osp.join(row_dir, "train.log"))}', flush=True)
        # an interrupted row resumes; a row with nothing to resume starts from load_from
        # (rows 4-6: row 3's weights, a fresh optimizer and epoch counter)
        train_run(cfg_path, work, seed, osp.join(row_dir, 'train.log'), echo='Epoch(train)')
    train_seconds = round(time.time() - t0, 1)
    results = evaluate_splits(cfg_path, ckpt, row_dir,
                              {s: f'annotations/{s}.json' for s in SPLITS}, METRIC_KEYS)
    metrics = dict(row=rid, config=config, name=name, epochs=epochs, budget=budget,
                   grad_balance=grad_balance if 'selfdis' in cfg.model else False,
                   pose_loss=pose_loss,
                   total_epochs=epochs * (2 if warm_start else 1), warm_start=warm_start,
                   checkpoint=ckpt, seed=seed, splits=results, train_seconds=train_seconds,
                   environment=read_environment(work),
                   finished=datetime.datetime.now(datetime.timezone.utc).isoformat())
    atomic_write(osp.join(row_dir, 'metrics.json'), json.dumps(metrics, indent=2))
    print(f'[table4] row {rid}: test EPE {results["test"]["EPE"]:.3f} px, test_shift EPE '
          f'{results["test_shift"]["EPE"]:.3f} px ({time.time() - t0:.0f} s)', flush=True)
    return metrics


def read_rows(work_dir: str) -> Dict[str, dict]:
    """``{row id: metrics}`` of the finished rows."""
    out = {}
    for rid, *_ in ROWS:
        path = osp.join(work_dir, 'rows', rid, 'metrics.json')
        if osp.isfile(path):
            with open(path) as f:
                out[rid] = json.load(f)
    return out


def improvement(metrics: Dict[str, dict], rid, split: str, base_row='1') -> Optional[float]:
    """Relative EPE improvement of row ``rid`` over ``base_row`` in percent (positive: better)."""
    rid, base_row = str(rid), str(base_row)
    if base_row not in metrics or rid not in metrics:
        return None
    base = metrics[base_row]['splits'][split]['EPE']
    return 100.0 * (base - metrics[rid]['splits'][split]['EPE']) / base if base else None


def build_tables(metrics: Dict[str, dict]) -> tuple:
    """``results.csv`` and the markdown table from the finished rows.

    "vs 1" compares every row with row 1; "vs 1-long" compares the rows that
    trained twice as long (4-6) with row 1 trained as long (``1-long``).
    """
    paper_base = ROWS[0][4]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator='\n')
    w.writerow(['row', 'model', 'epochs', 'split', 'EPE', 'PCK@0.2', 'AUC',
                'improvement_vs_row1_percent', 'improvement_vs_row1long_percent', 'paper_EPE',
                'paper_improvement_percent', 'grad_balance', 'train_seconds'])
    head = ['ID', 'Model', 'Epochs', 'test EPE', 'vs 1', 'vs 1-long', 'test_shift EPE', 'vs 1',
            'vs 1-long', 'test PCK@0.2', 'test_shift PCK@0.2', 'paper EPE', 'paper vs 1']
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for rid, _, name, warm, paper, _ in ROWS:
        m = metrics.get(rid)
        if m is None:
            continue
        paper_imp = None if paper is None else 100.0 * (paper_base - paper) / paper_base
        long_cmp = warm is not None  # rows 4-6 trained as long as 1-long
        cells = [rid, name, str(m['total_epochs'])]
        for split in SPLITS:
            v = m['splits'][split]
            imp = improvement(metrics, rid, split)
            imp_long = improvement(metrics, rid, split, '1-long') if long_cmp else None
            w.writerow([rid, name, m['total_epochs'], split, v.get('EPE'), v.get('PCK'),
                        v.get('AUC'), '' if imp is None else round(imp, 2),
                        '' if imp_long is None else round(imp_long, 2),
                        '' if paper is None else paper,
                        '' if paper_imp is None else round(paper_imp, 2),
                        m.get('grad_balance', ''), m['train_seconds']])
            cells += [fmt_cell(v['EPE']),
                      '–' if rid == '1' or imp is None else f'{imp:+.2f} %',
                      '–' if imp_long is None else f'{imp_long:+.2f} %']
        cells += [fmt_cell(m['splits'][s].get('PCK')) for s in SPLITS]
        cells += ['–' if paper is None else f'{paper:.3f}',
                  '–' if rid == '1' or paper_imp is None else f'{paper_imp:+.2f} %']
        lines.append('| ' + ' | '.join(cells) + ' |')
    return buf.getvalue(), '\n'.join(lines) + '\n'


def write_reports(work_dir: str, command: str, preset_name: str,
                  progress: Optional[Sequence[int]] = None) -> None:
    """(Re)write the tables; ``progress=(done, total)`` writes only the partial one."""
    metrics = read_rows(work_dir)
    if not metrics:
        return
    csv_text, table = build_tables(metrics)
    balanced = sorted(r + ('' if m['grad_balance'] is True else
                           f' (max_ratio {m["grad_balance"]:g})')
                       for r, m in metrics.items() if m.get('grad_balance'))
    note = ('EPE: mean distance of the predicted to the true keypoints in pixels of the 64x64 '
            'crop (the paper\'s "MSE in pixels"); "vs 1" / "vs 1-long": relative EPE improvement '
            'over row 1 / over row 1 trained as long as rows 4-6 (positive = better). '
            'test_shift: backgrounds, lighting and textures no training image has. The '
            'paper\'s EPE is on its own real monochrome test set. Gradient balancing of the '
            f'image branch: {"rows " + ", ".join(balanced) if balanced else "off"}.\n')
    note += '\n' + environment_note({f'row {r}': (m.get('seed', 0), m.get('environment'))
                                     for r, m in metrics.items()})
    if progress is not None:
        done, total = progress
        md = (f'# Table 4 reproduction, preset {preset_name} (incomplete: {done} of {total} '
              f'rows)\n\n**Incomplete**: still running or interrupted; run the same command '
              f'again to finish (finished rows are not retrained).\n\nCommand: `{command}`\n\n'
              f'{table}\n{note}')
        atomic_write(osp.join(work_dir, 'results.partial.md'), md)
        return
    atomic_write(osp.join(work_dir, 'results.csv'), csv_text)
    seconds = sum(m['train_seconds'] for m in metrics.values())
    md = (f'# Table 4 reproduction, preset {preset_name}\n\nCommand: `{command}`\n\n{table}\n'
          f'{note}\nTraining + evaluation time of the rows: {seconds / 60:.1f} min.\n')
    atomic_write(osp.join(work_dir, 'results.md'), md)
    remove_files(work_dir, PARTIAL_TABLES)


def collect_trend(work_dir: str) -> List[dict]:
    """Test EPE of every finished row in the ``b<K>x-s<SEED>`` sub-tables of ``work_dir``."""
    out = []
    for sub in sorted(os.listdir(work_dir)) if osp.isdir(work_dir) else []:
        parts = sub.split('-s')
        if not (sub.startswith('b') and len(parts) == 2 and parts[0].endswith('x')):
            continue
        try:
            budget, seed = int(parts[0][1:-1]), int(parts[1])
        except ValueError:
            continue
        for rid, m in read_rows(osp.join(work_dir, sub)).items():
            out.append(dict(row=rid, budget=budget, seed=seed, epochs=m['total_epochs'],
                            **{f'{s}_EPE': m['splits'][s]['EPE'] for s in SPLITS}))
    return out


def write_trend(work_dir: str, command: str) -> Optional[str]:
    """``trend.{csv,md,png}``: test EPE over training epochs per row (mean ± sd over seeds)."""
    runs = collect_trend(work_dir)
    if not runs:
        return None
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator='\n')
    w.writerow(['row', 'budget', 'seed', 'epochs'] + [f'{s}_EPE' for s in SPLITS])
    for r in sorted(runs, key=lambda r: (r['row'], r['budget'], r['seed'])):
        w.writerow([r['row'], r['budget'], r['seed'], r['epochs']] +
                   [r[f'{s}_EPE'] for s in SPLITS])
    atomic_write(osp.join(work_dir, 'trend.csv'), buf.getvalue())
    groups: Dict[tuple, List[dict]] = {}
    for r in runs:
        groups.setdefault((r['row'], r['epochs']), []).append(r)
    lines = ['| row | epochs | seeds | test EPE (mean ± sd) | test_shift EPE (mean ± sd) |',
             '|---|---|---|---|---|']
    curves: Dict[str, List[tuple]] = {}
    for (rid, epochs), rs in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        cells = []
        for s in SPLITS:
            vals = [r[f'{s}_EPE'] for r in rs]
            cells.append(fmt_seeds(vals))
            if s == 'test':
                curves.setdefault(rid, []).append((epochs, *mean_sd(vals)))
        lines.append(f'| {rid} | {epochs} | {len(rs)} | {cells[0]} | {cells[1]} |')
    md = (f'# Table 4 rows over the training budget\n\nCommand: `{command}`\n\n' +
          '\n'.join(lines) + '\n\n![trend](trend.png)\n')
    atomic_write(osp.join(work_dir, 'trend.md'), md)
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for rid, pts in sorted(curves.items()):
        pts.sort()
        ax.errorbar([p[0] for p in pts], [p[1] for p in pts], yerr=[p[2] for p in pts],
                    marker='o', capsize=3, label=f'row {rid}')
    ax.set_xlabel('training epochs')
    ax.set_ylabel('test EPE (px)')
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    png = osp.join(work_dir, 'trend.png')
    fig.savefig(png + '.tmp.png', dpi=110)
    plt.close(fig)
    os.replace(png + '.tmp.png', png)
    return md


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Reproduce Table 4 (models 1-6: baseline, + image reconstruction, '
        'self-disentanglement, + resume, + no pose-estimator detach, + no pose detach; and '
        '1-long, the baseline trained as long as rows 4-6) on the synthetic paired set; EPE on '
        'test and test_shift.')
    parser.add_argument('--work-dir', required=True, help='where rows and tables go')
    parser.add_argument('--preset', choices=sorted(PRESETS), default='cpu',
                        help='cpu: the whole table on 2 CPU cores in <= 45 min (default); '
                        'gpu: the paper\'s networks on 16,000 poses for 2 epochs, one large GPU, '
                        'in one process; '
                        'paper: the paper\'s scale, for a GPU; micro: seconds, for tests')
    parser.add_argument('--data-root', help='an existing SynthHands set (default: render the '
                        'preset\'s set into WORK_DIR/data/synthhands)')
    parser.add_argument('--seed', type=int, default=0, help='seed of every row (default 0)')
    parser.add_argument('--rows', nargs='+', default=list(ROW_IDS),
                        help='rows to train (default: all, 1-6 and 1-long; rows 4-6 need row 3, '
                        'trained now or earlier in the same work dir)')
    parser.add_argument('--no-grad-balance', action='store_true',
                        help='train rows 2-6 with the paper\'s plain sum of the losses '
                        '(selfdis.grad_balance=None)')
    parser.add_argument('--max-ratio', type=float, metavar='R',
                        help='rows 2-6: cap the image branch\'s gradient at the shared layers '
                        'at R times the pose gradient\'s norm (selfdis.grad_balance=dict('
                        'mode=norm, max_ratio=R); default: the head\'s balancing, R = 0.25)')
    parser.add_argument('--pose-loss', choices=('mse', 'l1'), default='mse',
                        help='heatmap loss of every row: mse (the configs\' KeypointMSELoss, '
                        'default) or l1 (the paper\'s eq. 1/6, KeypointL1Loss)')
    parser.add_argument('--jobs', type=int, default=1,
                        help='rows trained side by side, each in its own processes (default 1; '
                        'not with --in-process); rows 4-6 wait for row 3')
    parser.add_argument('--in-process', action=argparse.BooleanOptionalAction, default=None,
                        help='train and evaluate every row in this process, one at a time, '
                        'instead of a subprocess per training and evaluation (saves the '
                        'imports and CUDA start-up of each; default: on with --preset gpu)')
    parser.add_argument('--budgets', type=int, nargs='+',
                        help='train at these multiples of the preset\'s epochs, each (and each '
                        'of --seeds) in WORK_DIR/b<K>x-s<SEED>, and write WORK_DIR/trend.*')
    parser.add_argument('--seeds', type=int, nargs='+',
                        help='with or without --budgets: one sub-table per seed (see --budgets)')
    args = parser.parse_args(argv)
    bad = [r for r in args.rows if r not in ROW_IDS]
    if bad:
        raise StudyError(f'--rows: Table 4 has rows 1-6 (and 1-long), got {bad}')
    if args.max_ratio is not None and (args.no_grad_balance or not args.max_ratio > 0):
        raise StudyError(f'--max-ratio: a number > 0 (and not with --no-grad-balance), got '
                         f'{args.max_ratio}')
    if args.jobs < 1:
        raise StudyError(f'--jobs: rows side by side, an integer >= 1, got {args.jobs}')
    if args.in_process is None:
        args.in_process = PRESETS[args.preset].get('in_process', False) and args.jobs == 1
    if args.in_process and args.jobs > 1:
        raise StudyError(f'--jobs {args.jobs} runs rows side by side in subprocesses; '
                         f'--in-process runs them one at a time: choose one')
    if args.budgets is not None and any(b < 1 for b in args.budgets):
        raise StudyError(f'--budgets: multiples of the preset\'s epochs, integers >= 1, got '
                         f'{args.budgets}')
    return args


def grad_balance_arg(args: argparse.Namespace) -> Union[bool, float]:
    """``row_config``'s ``grad_balance`` from the command line."""
    if args.no_grad_balance:
        return False
    return True if args.max_ratio is None else float(args.max_ratio)


def run_table(args: argparse.Namespace, work_dir: str, data_root: Optional[str], seed: int,
              budget: int, command: str) -> None:
    """Train and evaluate the chosen rows into ``work_dir`` (one table)."""
    preset = PRESETS[args.preset]
    configs = ''.join(open(osp.join(CONFIG_DIR, r[1])).read() for r in ROWS)
    manifest = dict(preset=args.preset, seed=seed, configs_sha=sha16(configs),
                    data_root=osp.abspath(data_root) if data_root else 'rendered',
                    budget=budget, grad_balance=grad_balance_arg(args),
                    pose_loss=args.pose_loss,
                    created=datetime.datetime.now(datetime.timezone.utc).isoformat())
    check_manifest(work_dir, manifest, ('preset', 'seed', 'configs_sha', 'data_root', 'budget',
                                        'grad_balance', 'pose_loss'))
    if data_root is None:
        data_root = osp.join(work_dir, 'data', 'synthhands')
        if not osp.isfile(osp.join(data_root, 'annotations', 'test_shift.json')):
            print(f'[table4] rendering {preset["data"]["num_poses"]} poses x '
                  f'{preset["data"]["appearances"]} appearances into {data_root}', flush=True)
        ensure_synthhands(data_root, preset['data'], osp.join(work_dir, 'data.log'))

    finished = read_rows(work_dir)
    rows = [r for r in ROWS if r[0] in args.rows]
    for r in rows:
        if r[3] is not None and r[3] not in args.rows and r[3] not in finished:
            raise StudyError(f'row {r[0]} starts from row {r[3]}\'s checkpoint: add {r[3]} to '
                             f'--rows (or train it first in this work dir)')
    for rid in [r[0] for r in rows if r[0] in finished]:
        print(f'[table4] row {rid}: finished earlier, not retrained', flush=True)
    todo = [r for r in rows if r[0] not in finished]
    if todo:
        remove_stale_tables(work_dir, FINAL_TABLES, 'table4', 'rows')
    index = {r[0]: i + 1 for i, r in enumerate(rows)}

    def start(row: tuple) -> dict:
        warm = None
        if row[3] is not None:
            src = read_rows(work_dir).get(row[3])
            if src is None:
                raise StudyError(f'row {row[0]} starts from row {row[3]}, which has not '
                                 f'finished')
            warm = last_checkpoint(src)
        return run_row(row, preset, work_dir, data_root, seed, warm, index[row[0]], len(rows),
                       budget, grad_balance_arg(args), args.pose_loss)

    for done in run_rows_scheduled(todo, start, args.jobs):
        if done < len(todo):
            write_reports(work_dir, command, args.preset,
                          progress=(len(rows) - len(todo) + done, len(rows)))
    write_reports(work_dir, command, args.preset)


def run_rows_scheduled(rows: Sequence[tuple], start, jobs: int = 1):
    """Run ``start(row)`` for every row, ``jobs`` at a time; yield the count done after each.

    A row that warm-starts from another row of ``rows`` starts once that row
    has finished; rows that others start from go first. Each row trains and
    evaluates in its own processes (``tools/train.py``, ``tools/test.py``), so
    on a large GPU, whose steps are bound by the host, ``jobs`` rows side by
    side take about as long as one. The first failure stops the scheduling of
    new rows and is raised once the running ones have ended.
    """
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
    needed = {r[3] for r in rows if r[3] is not None}
    ids = {r[0] for r in rows}
    finished, done = set(), 0
    if jobs <= 1:
        for row in rows:
            start(row)
            done += 1
            yield done
        return
    pending = sorted(rows, key=lambda r: r[0] not in needed)  # stable: table order otherwise
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        running, error = {}, None
        while pending or running:
            ready = [r for r in pending
                     if r[3] is None or r[3] not in ids or r[3] in finished]
            while error is None and ready and len(running) < jobs:
                row = ready.pop(0)
                pending.remove(row)
                running[pool.submit(start, row)] = row
            if not running:
                break  # only failures left to report
            ended, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in ended:
                row = running.pop(future)
                if future.exception() is not None:
                    error = error or future.exception()
                    continue
                finished.add(row[0])
                done += 1
                yield done
        if error is not None:
            raise error


def main(argv: Optional[List[str]] = None) -> None:
    import mmselfdis  # noqa: F401  (registers components)

    args = parse_args(argv)
    work_dir = osp.abspath(args.work_dir)
    preset = PRESETS[args.preset]
    set_in_process(args.in_process)
    if args.data_root is not None and not osp.isfile(
            osp.join(args.data_root, 'annotations', 'test_shift.json')):
        raise StudyError(f'--data-root {args.data_root} is not a SynthHands set (no '
                         f'annotations/test_shift.json); render one with '
                         f'tools/make_synthhands.py or leave --data-root out')
    command = 'python tools/reproduce_table4.py ' + ' '.join(
        str(a) for a in (sys.argv[1:] if argv is None else list(argv)))
    t_start = time.time()
    data_root = osp.abspath(args.data_root) if args.data_root else None
    if args.budgets is None and args.seeds is None:
        run_table(args, work_dir, data_root, args.seed, 1, command)
        print(f'[table4] done in {(time.time() - t_start) / 60:.1f} min; table: '
              f'{osp.join(work_dir, "results.md")}', flush=True)
        with open(osp.join(work_dir, 'results.md')) as f:
            print(f.read())
        return
    if data_root is None:  # one rendered set for every budget and seed
        data_root = osp.join(work_dir, 'data', 'synthhands')
        ensure_synthhands(data_root, preset['data'], osp.join(work_dir, 'data.log'))
    for budget in args.budgets or [1]:
        for seed in args.seeds or [args.seed]:
            sub = osp.join(work_dir, f'b{budget}x-s{seed}')
            print(f'[table4] budget {budget}x, seed {seed}: {sub}', flush=True)
            run_table(args, sub, data_root, seed, budget, command)
            write_trend(work_dir, command)
    print(f'[table4] done in {(time.time() - t_start) / 60:.1f} min', flush=True)
    print(write_trend(work_dir, command))


if __name__ == '__main__':
    from mmselfdis.utils import run_cli
    run_cli(main)
