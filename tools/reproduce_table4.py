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

Presets:

* ``cpu``: the whole table on 2 CPU cores in <= 45 min: 3,000 poses x 2
  appearances (4,200 training crops), the configs' narrow UNet (base 16) with
  BatchNorm and 16x16 heatmaps (both make the pose branch learn within the
  budget), 4 epochs per row (rows 4-6: 4 more).
* ``paper``: the paper's scale (GPU): 123,034 poses x 2 appearances, the
  full-width UNet (base 64) and heatmap decoder of the configs, 75 epochs at
  batch 128 (rows 4-6: 75 more).
* ``micro``: seconds per row, to test the bookkeeping.

The tool is resumable (a row whose ``metrics.json`` exists is not retrained,
an interrupted row resumes from its last checkpoint), ``results.{md,csv}``
exist only once every row has finished (until then progress goes to
``results.partial.md``), and a work dir holding another preset's or seed's
table is refused.

Examples::

    python tools/reproduce_table4.py --preset cpu --work-dir work_dirs/table4
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
from typing import Dict, List, Optional, Sequence

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

from mmselfdis.utils.study import (StudyError, apply_options, atomic_write,  # noqa: E402
                                   check_manifest, dump_run, ensure_synthhands, evaluate_splits,
                                   fmt_cell, micro_options, remove_files, remove_stale_tables,
                                   set_data_root, set_heatmap_size, sha16, train_run)

CONFIG_DIR = osp.join(REPO, 'configs', 'selfdis')

# (id, config, name in the paper's table, warm start from row, paper EPE "MSE in pixels")
ROWS = (
    (1, 't4-1_baseline_unet_synthhands-mono-64x64.py', 'Baseline pose estimator', None,
     4.174),
    (2, 't4-2_autoencoder_unet_synthhands-mono-64x64.py',
     'Pose estimator + image reconstruction', None, 3.982),
    (3, 't4-3_selfdis_unet_synthhands-mono-64x64.py', 'Self-disentanglement', None, 3.923),
    (4, 't4-4_selfdis-resume_unet_synthhands-mono-64x64.py',
     'Self-disentanglement + resume (**)', 3, 3.864),
    (5, 't4-5_selfdis-no-estimator-detach_unet_synthhands-mono-64x64.py',
     '(**) + no pose estimator detach', 3, 3.756),
    (6, 't4-6_selfdis-no-pose-detach_unet_synthhands-mono-64x64.py',
     '(**) + no pose estimator detach + no pose detach', 3, 3.735),
)
SPLITS = ('test', 'test_shift')
METRIC_KEYS = ('EPE', 'PCK', 'AUC')

_NO_VAL = {
    'train_cfg.val_interval': 10**6,  # every row is evaluated once, at its last epoch
    'default_hooks.checkpoint.save_best': None,
}
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
    'paper': dict(
        data=dict(num_poses=123034, appearances=2, seed=0),
        heatmap_size=None,
        options={
            **_NO_VAL,
            'train_cfg.max_epochs': 75,
            'train_dataloader.batch_size': 128,
            'auto_scale_lr.base_batch_size': 128,
            'model.backbone.base_channels': 64,
            'model.head.in_channels': 512,
            'model.head.deconv_out_channels': (256, 128, 64, 32),
            'default_hooks.logger.interval': 100,
        }),
    'micro': dict(
        data=dict(num_poses=40, appearances=2, seed=0),
        heatmap_size=16,
        options={**_NO_VAL, 'train_cfg.max_epochs': 1, **micro_options((8, 8, 4, 4))}),
}
FINAL_TABLES = ('results.csv', 'results.md')
PARTIAL_TABLES = ('results.partial.md', )


def row_config(row: tuple, preset: dict, data_root: str, warm_start: Optional[str]):
    """The row's config at the preset's scale, on ``data_root``."""
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(CONFIG_DIR, row[1]))
    apply_options(cfg, preset['options'])
    if preset['heatmap_size']:
        set_heatmap_size(cfg, preset['heatmap_size'])
    set_data_root(cfg, data_root)
    cfg.load_from = warm_start  # rows 4-6: row 3's weights; rows 1-3: from scratch
    return cfg


def run_row(row: tuple, preset: dict, work_dir: str, data_root: str, seed: int,
            warm_start: Optional[str], index: int, total: int) -> dict:
    """Train and evaluate one row (resuming an interrupted run); its metrics."""
    rid, config, name = row[:3]
    row_dir = osp.join(work_dir, 'rows', f'{rid}')
    cfg = row_config(row, preset, data_root, warm_start)
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
    metrics = dict(row=rid, config=config, name=name, epochs=epochs,
                   total_epochs=epochs * (2 if warm_start else 1), warm_start=warm_start,
                   checkpoint=ckpt, seed=seed, splits=results, train_seconds=train_seconds,
                   finished=datetime.datetime.now(datetime.timezone.utc).isoformat())
    atomic_write(osp.join(row_dir, 'metrics.json'), json.dumps(metrics, indent=2))
    print(f'[table4] row {rid}: test EPE {results["test"]["EPE"]:.3f} px, test_shift EPE '
          f'{results["test_shift"]["EPE"]:.3f} px ({time.time() - t0:.0f} s)', flush=True)
    return metrics


def read_rows(work_dir: str) -> Dict[int, dict]:
    """``{row id: metrics}`` of the finished rows."""
    out = {}
    for rid, *_ in ROWS:
        path = osp.join(work_dir, 'rows', str(rid), 'metrics.json')
        if osp.isfile(path):
            with open(path) as f:
                out[rid] = json.load(f)
    return out


def improvement(metrics: Dict[int, dict], rid: int, split: str) -> Optional[float]:
    """Relative EPE improvement of row ``rid`` over row 1 in percent (positive: better)."""
    if 1 not in metrics or rid not in metrics:
        return None
    base = metrics[1]['splits'][split]['EPE']
    return 100.0 * (base - metrics[rid]['splits'][split]['EPE']) / base if base else None


def build_tables(metrics: Dict[int, dict]) -> tuple:
    """``results.csv`` and the markdown table from the finished rows."""
    paper_base = ROWS[0][4]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator='\n')
    w.writerow(['row', 'model', 'epochs', 'split', 'EPE', 'PCK@0.2', 'AUC',
                'improvement_vs_row1_percent', 'paper_EPE', 'paper_improvement_percent',
                'train_seconds'])
    head = ['ID', 'Model', 'Epochs', 'test EPE', 'vs 1', 'test_shift EPE', 'vs 1',
            'test PCK@0.2', 'test_shift PCK@0.2', 'paper EPE', 'paper vs 1']
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for rid, _, name, _, paper in ROWS:
        paper_imp = 100.0 * (paper_base - paper) / paper_base
        m = metrics.get(rid)
        if m is None:
            continue
        for split in SPLITS:
            v = m['splits'][split]
            imp = improvement(metrics, rid, split)
            w.writerow([rid, name, m['total_epochs'], split, v.get('EPE'), v.get('PCK'),
                        v.get('AUC'), '' if imp is None else round(imp, 2), paper,
                        round(paper_imp, 2), m['train_seconds']])
        cells = [str(rid), name, str(m['total_epochs'])]
        for split in SPLITS:
            imp = improvement(metrics, rid, split)
            cells += [fmt_cell(m['splits'][split]['EPE']),
                      '–' if rid == 1 or imp is None else f'{imp:+.2f} %']
        cells += [fmt_cell(m['splits'][s].get('PCK')) for s in SPLITS]
        cells += [f'{paper:.3f}', '–' if rid == 1 else f'{paper_imp:+.2f} %']
        lines.append('| ' + ' | '.join(cells) + ' |')
    return buf.getvalue(), '\n'.join(lines) + '\n'


def write_reports(work_dir: str, command: str, preset_name: str,
                  progress: Optional[Sequence[int]] = None) -> None:
    """(Re)write the tables; ``progress=(done, total)`` writes only the partial one."""
    metrics = read_rows(work_dir)
    if not metrics:
        return
    csv_text, table = build_tables(metrics)
    note = ('EPE: mean distance of the predicted to the true keypoints in pixels of the 64x64 '
            'crop (the paper\'s "MSE in pixels"); "vs 1": relative EPE improvement over row 1 '
            '(positive = better). test_shift: backgrounds, lighting and textures no training '
            'image has. The paper\'s EPE is on its own real monochrome test set.\n')
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


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Reproduce Table 4 (models 1-6: baseline, + image reconstruction, '
        'self-disentanglement, + resume, + no pose-estimator detach, + no pose detach) on '
        'the synthetic paired set; EPE on test and test_shift.')
    parser.add_argument('--work-dir', required=True, help='where rows and tables go')
    parser.add_argument('--preset', choices=sorted(PRESETS), default='cpu',
                        help='cpu: the whole table on 2 CPU cores in <= 45 min (default); '
                        'paper: the paper\'s scale, for a GPU; micro: seconds, for tests')
    parser.add_argument('--data-root', help='an existing SynthHands set (default: render the '
                        'preset\'s set into WORK_DIR/data/synthhands)')
    parser.add_argument('--seed', type=int, default=0, help='seed of every row (default 0)')
    parser.add_argument('--rows', type=int, nargs='+', default=[r[0] for r in ROWS],
                        help='rows to train (default: all; rows 4-6 need row 3, trained now or '
                        'earlier in the same work dir)')
    args = parser.parse_args(argv)
    bad = sorted(set(args.rows) - {r[0] for r in ROWS})
    if bad:
        raise StudyError(f'--rows: Table 4 has rows 1-6, got {bad}')
    return args


def main(argv: Optional[List[str]] = None) -> None:
    import mmselfdis  # noqa: F401  (registers components)

    args = parse_args(argv)
    work_dir = osp.abspath(args.work_dir)
    preset = PRESETS[args.preset]
    if args.data_root is not None and not osp.isfile(
            osp.join(args.data_root, 'annotations', 'test_shift.json')):
        raise StudyError(f'--data-root {args.data_root} is not a SynthHands set (no '
                         f'annotations/test_shift.json); render one with '
                         f'tools/make_synthhands.py or leave --data-root out')
    configs = ''.join(open(osp.join(CONFIG_DIR, r[1])).read() for r in ROWS)
    manifest = dict(preset=args.preset, seed=args.seed, configs_sha=sha16(configs),
                    data_root=osp.abspath(args.data_root) if args.data_root else 'rendered',
                    created=datetime.datetime.now(datetime.timezone.utc).isoformat())
    check_manifest(work_dir, manifest, ('preset', 'seed', 'configs_sha', 'data_root'))
    command = 'python tools/reproduce_table4.py ' + ' '.join(
        sys.argv[1:] if argv is None else list(argv))

    t_start = time.time()
    if args.data_root:
        data_root = osp.abspath(args.data_root)
    else:
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
    for i, row in enumerate(rows):
        rid = row[0]
        if rid in finished:
            print(f'[table4] row {rid}: finished earlier, not retrained', flush=True)
            continue
        remove_stale_tables(work_dir, FINAL_TABLES, 'table4', 'rows')
        warm = None
        if row[3] is not None:
            src = read_rows(work_dir).get(row[3])
            if src is None:
                raise StudyError(f'row {rid} starts from row {row[3]}, which has not finished')
            warm = src['checkpoint']
        run_row(row, preset, work_dir, data_root, args.seed, warm, i + 1, len(rows))
        if i + 1 < len(rows):
            write_reports(work_dir, command, args.preset, progress=(i + 1, len(rows)))
    write_reports(work_dir, command, args.preset)
    print(f'[table4] done in {(time.time() - t_start) / 60:.1f} min; table: '
          f'{osp.join(work_dir, "results.md")}', flush=True)
    with open(osp.join(work_dir, 'results.md')) as f:
        print(f.read())


if __name__ == '__main__':
    from mmselfdis.utils import run_cli
    run_cli(main)
