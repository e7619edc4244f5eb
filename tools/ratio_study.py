"""Augmentation-ratio study (paper §4.5): pose error vs the share r of mixed images.

Trains CONFIG (a top-down pose config) once per arm and seed through
``tools/train.py`` with the same budget, evaluates every arm with
``tools/test.py`` on the config's test set(s) (for SynthHands ``test``,
``test_shift`` and, on a correlated set, ``test_combo``) and on ``val`` (used
only to pick the combined arm's r), and writes ``results.csv``,
``results.md`` (with per-seed paired differences against r = 0) and
``results.png`` into the work dir.

Arms:

* ``r=<r>`` for each ratio: ``MixReconstruct(prob=r)`` after ``TopdownAffine``
  (r = 0 is the plain baseline);
* conventional, label-exact arms at the same budget (``--conventional``):
  ``jitter`` (``AppearanceJitter``), ``amplitude`` (``AmplitudeMix``, FACT's
  amplitude-spectrum mix) and ``mixstyle`` (``MixStyleBackbone``: MixStyle
  after the backbone's first two stages);
* ``<conv>+r=<r>``: the conventional arm ``--combined-with`` (default
  ``jitter``; ``best``: the conventional arm with the lowest val EPE) and
  mixing, at ``--combined-ratio`` (default ``best``: the r > 0 with the
  lowest val EPE);
* ``judged_r=<r>`` (with ``--judged-ratios``): mixing gated by a judge, the
  r = 0 arm of the same seed (a plain pose model trained on the real images):
  a mix whose judge PCK is below ``--judge-min-pck`` is dropped;
* ``truth_r=<r>`` (with ``--truth-ratios``, SynthHands only): the oracle of
  mixing, the share r of samples re-rendered by the renderer itself with
  another sample's appearance (``TruthMix``): perfect mixes, what a generator
  that drew the true picture would give at that r (``--truth-keep F``: the
  other appearance but the pose image's own factor F, ``truth-keep-F_r=<r>``);
* ``recon_r=<r>`` (with ``--reconstruction-ratio r``): a control, the share r
  of samples replaced by the generator's reconstruction of themselves
  (``MixReconstruct(appearance_policy='self')``): the generator's pictures
  without another appearance, to tell their effect from the mixing's.

Without ``--generator`` the generator (``--generator-config``, default the
self-disentanglement config of Table 4 row 3) is trained once first, on the
same data and preset, and reused. ``--correlation RHO`` renders the preset's
data as the correlated benchmark (``make_synthhands.py --correlation``);
``--seeds`` trains every arm once per seed; ``--mix-start``/``--mix-real-last``
schedule the mixing arms (``MixRatioHook``).

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
    python tools/ratio_study.py CONFIG --preset cpu-small --correlation 1.0 --seeds 0 1 2 \
        --ratios 0 0.25 0.5 --conventional jitter amplitude mixstyle --work-dir DIR
"""
import argparse
import csv
import datetime
import glob
import io
import json
import os.path as osp
import re
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

from mmselfdis.utils.study import (StudyError, apply_options, atomic_write,  # noqa: E402
                                   atomic_write_bytes, dump_run, ensure_synthhands, inner_dataset,
                                   evaluate_splits, fmt_seeds, mean_sd, micro_options,
                                   environment_note, read_environment, remove_files,
                                   remove_stale_tables, set_data_root, set_in_process, sha16,
                                   train_run)
from mmselfdis.utils.study import check_manifest as _check_manifest  # noqa: E402
from mmselfdis.datasets.transforms.truth_mix import APPEARANCE_FACTORS  # noqa: E402
from synthhands.correlation import COMBO_POSES, POSE_FAMILIES  # noqa: E402

DEFAULT_RATIOS = (0.0, 0.1, 0.25, 0.5, 0.75)
DEFAULT_GENERATOR_CONFIG = osp.join(REPO, 'configs', 'selfdis',
                                    't4-3_selfdis_unet_synthhands-mono-64x64.py')
METRIC_KEYS = ('EPE', 'PCK', 'AUC')
CORRELATION_OPTIONS = ('pose_family', 'combo_poses', 'hard_group')
"""Data options that only a correlated set (``--correlation``) has."""
CONVENTIONAL = ('jitter', 'amplitude', 'mixstyle')
"""The label-exact conventional arms (no generator)."""
CONVENTIONAL_LABELS = {'jitter': 'AppearanceJitter', 'amplitude': 'AmplitudeMix (FACT)',
                       'mixstyle': 'MixStyle'}
MIXSTYLE_AFTER = ('stages.0', 'stages.1')
"""Backbone modules MixStyle follows (the UNet encoder's first two blocks)."""

# The 'micro' preset (seconds per arm, for tests of the bookkeeping on real tiny runs): the
# same overrides for the pose model and the generator.
_MICRO = {
    'train_cfg.max_epochs': 1,
    'train_cfg.val_interval': 1,
    **micro_options((8, 8, 4, 4)),
    'default_hooks.checkpoint.save_best': None,
}

_CPU_SMALL_POSE = {
    'train_cfg.max_epochs': 2,
    'train_cfg.val_interval': 1000,
    'train_dataloader.batch_size': 32,
    'model.backbone.base_channels': 8,
    'model.head.in_channels': 64,
    'model.head.deconv_out_channels': (32, 16, 8, 8),
    'default_hooks.checkpoint.save_best': None,
}
# The generator of the correlated presets: the background demo's painter with the demo's
# cycle-pose weight.
_PAINTER = osp.join(REPO, 'configs', 'demo',
                    'selfdis-demo-background_unet_synthhands-mono-64x64.py')
_PAINTER_OPTIONS = {
    'model.selfdis.loss_cycle_pose.loss_weight': 10.0,
    'train_cfg.val_interval': 10**6,
    'default_hooks.checkpoint.save_best': None,
}
# Presets: overrides of the pose config and the generator config, the synthetic data set a
# preset renders itself (None: use the config's data_root as it is), and optionally the
# generator config and the arms a preset runs when the command line does not name them.
PRESETS: Dict[str, dict] = {
    # the configs as written (paper scale: pass a paper-scale CONFIG, run on a GPU)
    'paper': dict(data=None, pose={}, generator={}),
    # the whole study on 2 CPU cores in <= 45 min (an otherwise idle machine): 2000 poses
    # x 2 appearances (2800 training crops), a narrow UNet (base 8), 2 epochs per arm
    # and for the generator; no validation during training (every arm is evaluated
    # once, at its last epoch)
    'cpu-small': dict(
        data=dict(num_poses=2000, appearances=2, seed=0),
        pose=dict(_CPU_SMALL_POSE),
        generator=dict(_CPU_SMALL_POSE)),
    # the correlated benchmark's study (docs/results.md), one command per seed, <= 60 min each
    # on 2 CPU cores: cpu-small's data rendered with RHO = 1 (adds test_combo; since 2026-11-30
    # the paired one, the test poses in other groups' appearances, so that test_combo - test is
    # the combination alone: with its own poses the gap was those poses), 8-epoch pose
    # arms (the budget where the test_combo gap exists), the generator that measured best as
    # augmentation on this benchmark - the demo's painter over the appearance image, y's hand
    # inpainted, with the demo's cycle-pose weight (its marks at the joints help the pose
    # model: docs/results.md, "Do the marks help the pose model?") - trained 12 epochs on the
    # correlated training split, and by default the arms: r = 0, 0.25, 0.5, the three
    # conventional arms and the best conventional + mixing, and the oracle truth_r=0.25 (the
    # renderer's true mixes at the mixing arm's ratio, to read the generator's arm against)
    'cpu-combo': dict(
        data=dict(num_poses=2000, appearances=2, seed=0, correlation=1.0, combo_poses='test'),
        pose=dict(_CPU_SMALL_POSE, **{'train_cfg.max_epochs': 8}),
        generator_config=_PAINTER,
        generator=dict(_PAINTER_OPTIONS, **{'train_cfg.max_epochs': 12}),
        arms=dict(ratios=[0.0, 0.25, 0.5], conventional=list(CONVENTIONAL),
                  combined_with='best', truth_ratios=[0.25])),
    # low data, where the mixes pay (docs/results.md, "Low data"): cpu-combo's set with 200
    # training poses (400 crops, each pose in two appearances of its own group), pose arms
    # trained 48 epochs (the iterations of cpu-combo's 8; about the r = 0 model's best: 24 and
    # 96 epochs are worse), the same painter trained 72 epochs (the iterations of its
    # 12 on the full set), the arms and the oracle at r = 0.5
    'cpu-low': dict(
        data=dict(num_poses=2000, appearances=2, seed=0, correlation=1.0, combo_poses='test',
                  train_poses=200),
        pose=dict(_CPU_SMALL_POSE, **{'train_cfg.max_epochs': 48}),
        generator_config=_PAINTER,
        generator=dict(_PAINTER_OPTIONS, **{'train_cfg.max_epochs': 72}),
        arms=dict(ratios=[0.0, 0.25, 0.5], conventional=list(CONVENTIONAL),
                  combined_with='best', truth_ratios=[0.5])),
    'micro': dict(
        data=dict(num_poses=40, appearances=2, seed=0),
        pose=dict(_MICRO),
        generator=dict(_MICRO)),
}
# scarcer still (docs/results.md, "One appearance per training pose"): cpu-low with each of the
# 200 training poses in one appearance (200 crops; every split one image per pose), the pose
# arms 96 epochs and the painter 144 (cpu-low's iterations); the same arms
PRESETS['cpu-scarce'] = dict(
    PRESETS['cpu-low'],
    data=dict(PRESETS['cpu-low']['data'], appearances=1),
    pose=dict(PRESETS['cpu-low']['pose'], **{'train_cfg.max_epochs': 96}),
    generator=dict(PRESETS['cpu-low']['generator'], **{'train_cfg.max_epochs': 144}))


# --------------------------------------------------------------------- helpers
def ratio_name(r: float) -> str:
    """Arm name of a ratio: ``r=0.25``."""
    return f'r={r:g}'


def arm_list(ratios: Sequence[float], conventional, combined: bool,
             reconstruction: Optional[float] = None, judged: Sequence[float] = (),
             combined_with: str = 'jitter', truth: Sequence[float] = (),
             truth_keep: Sequence[str] = ()) -> List[dict]:
    """The arms of a study, in run order (combined last: its r depends on the others).

    Args:
        ratios: Mixing ratios (``r=<r>`` arms; 0 is the baseline).
        conventional: Names from :data:`CONVENTIONAL` (``True``: ``['jitter']``,
            ``False``: none).
        combined: Add the ``<combined_with>+r`` arm.
        reconstruction: Ratio of the reconstruction control arm, if any.
        judged: Ratios of judge-gated mixing arms (``judged_r=<r>``).
        combined_with: The conventional augmentation of the combined arm.
        truth: Ratios of the oracle arms (``truth_r=<r>``, ``TruthMix``).
        truth_keep: Appearance factors the oracle arms keep from the pose image
            (``truth-keep-<f>_r=<r>``; ``TruthMix(factors=<the others>)``).
    """
    if conventional is True:
        conventional = ['jitter']
    elif conventional is False:
        conventional = []

    def arm(name, kind, ratio, aug=None, **kw):
        return dict(name=name, kind=kind, ratio=ratio, aug=aug, jitter=aug == 'jitter', **kw)

    arms = [arm(ratio_name(r), 'ratio', float(r)) for r in ratios]
    arms += [arm(f'judged_{ratio_name(r)}', 'judged', float(r)) for r in judged]
    keep = list(dict.fromkeys(truth_keep))
    prefix = 'truth' + ''.join(f'-keep-{f}' for f in keep)
    arms += [arm(f'{prefix}_{ratio_name(r)}', 'truth', float(r), truth_keep=keep)
             for r in truth]
    if reconstruction is not None:
        arms.append(arm(f'recon_{ratio_name(reconstruction)}', 'reconstruction',
                        float(reconstruction)))
    arms += [arm(name, 'conventional', 0.0, name) for name in conventional]
    if combined:
        arms.append(arm(f'{combined_with}+r', 'combined', None, combined_with))
    return arms


def arm_aug(m: dict) -> Optional[str]:
    """The conventional augmentation of an arm's metrics (older files: from ``jitter``)."""
    return m.get('aug') or ('jitter' if m.get('jitter') else None)


def arm_dir_name(name: str, seed: int, seeds: Sequence[int]) -> str:
    """Directory of an arm under ``arms/``: the name, with ``@seed<S>`` for several seeds."""
    return name if len(seeds) == 1 else f'{name}@seed{seed}'


KIND_ORDER = ('ratio', 'judged', 'truth', 'reconstruction', 'conventional', 'combined')
"""The order of the arms' kinds in the tables and plots."""


def arm_order(m: dict) -> tuple:
    """Sort key of an arm's metrics in the tables and plots: kind, ratio, name."""
    return KIND_ORDER.index(m['kind']), m['ratio'], m['arm']


def aggregate(metrics: Dict[str, dict]) -> Dict[str, dict]:
    """``{arm: metrics}`` with each split's numbers averaged over the arm's seeds.

    Each aggregated arm also has ``seeds`` (sorted) and ``per_seed``
    (``{seed: splits}``). An arm whose seeds used different conventional
    augmentations or ratios (the combined arm picked per seed) has them as ``aug``
    and ``ratio_label``, joined with ``/`` in seed order.
    """
    out: Dict[str, dict] = {}
    augs: Dict[str, Dict[int, Optional[str]]] = {}
    ratios: Dict[str, Dict[int, float]] = {}
    for m in metrics.values():
        agg = out.setdefault(m['arm'], dict(m, per_seed={}))
        agg['per_seed'][m.get('seed', 0)] = m['splits']
        augs.setdefault(m['arm'], {})[m.get('seed', 0)] = arm_aug(m)
        ratios.setdefault(m['arm'], {})[m.get('seed', 0)] = m['ratio']
    for name, agg in out.items():
        seeds = sorted(agg['per_seed'])
        agg['seeds'] = seeds
        if len(set(augs[name].values())) > 1:
            agg['aug'] = '/'.join(str(augs[name][s]) for s in seeds)
        if len(set(ratios[name].values())) > 1:
            agg['ratio_label'] = '/'.join(f'{ratios[name][s]:g}' for s in seeds)
        splits = {}
        for split in agg['per_seed'][seeds[0]]:
            if all(split in agg['per_seed'][s] for s in seeds):
                splits[split] = {
                    k: sum(agg['per_seed'][s][split][k] for s in seeds) / len(seeds)
                    for k in agg['per_seed'][seeds[0]][split]
                    if all(k in agg['per_seed'][s][split] for s in seeds)}
        agg['splits'] = splits
    return out


def read_arm_metrics(work_dir: str) -> Dict[str, dict]:
    """``{arm directory: metrics}`` of every finished arm and seed (``arms/*/metrics.json``)."""
    out = {}
    for path in sorted(glob.glob(osp.join(work_dir, 'arms', '*', 'metrics.json'))):
        with open(path) as f:
            m = json.load(f)
        out[osp.basename(osp.dirname(path))] = m
    return out


def pick_best_conventional(metrics: Dict[str, dict]) -> str:
    """The conventional arm (its augmentation) with the lowest val EPE, mean over seeds."""
    arms = [m for m in aggregate(metrics).values()
            if m['kind'] == 'conventional' and 'val' in m['splits']]
    if not arms:
        raise StudyError('--combined-with best needs finished conventional arms evaluated on val '
                         '(run them in this work dir, or name the arm: --combined-with jitter)')
    return arm_aug(min(arms, key=lambda m: m['splits']['val']['EPE']))


def pick_combined_ratio(metrics: Dict[str, dict], choice: str) -> float:
    """The combined arm's r: a number, ``'best'`` (lowest val EPE of r > 0) or ``'middle'``."""
    if choice not in ('best', 'middle'):
        return float(choice)
    metrics = aggregate(metrics)
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


def paired_changes(arm: dict, base: Optional[dict], split: str) -> List[float]:
    """Per-seed EPE change (%) of an aggregated arm against r = 0 of the SAME seed."""
    if base is None:
        return []
    out = []
    for seed in arm['seeds']:
        v = arm['per_seed'][seed].get(split)
        b = base['per_seed'].get(seed, {}).get(split)
        if v and b and b.get('EPE'):
            out.append(100.0 * (v['EPE'] - b['EPE']) / b['EPE'])
    return out


def build_tables(metrics: Dict[str, dict], report_splits: Sequence[str]
                 ) -> Tuple[str, str]:
    """``results.csv`` and ``results.md`` text from the finished arms' metrics.

    The csv has one row per arm, seed and split, its change column against
    r = 0 of the same seed. The markdown table has one row per arm: each
    number the mean over the arm's seeds (``mean ± sd`` for several), and per
    split the EPE change against r = 0, paired by seed (mean ± sd of the
    per-seed changes, and in how many seeds the arm's EPE was lower).
    """
    runs = sorted(metrics.values(), key=lambda m: (*arm_order(m), m.get('seed', 0)))
    agg = aggregate(metrics)
    arms = sorted(agg.values(), key=arm_order)
    base = next((m for m in arms if m['kind'] == 'ratio' and m['ratio'] == 0), None)

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator='\n')
    w.writerow(['arm', 'kind', 'ratio', 'jitter', 'split', 'EPE', 'PCK@0.2', 'AUC',
                'EPE_change_vs_r0_percent', 'train_seconds', 'data_time_share', 'seed', 'aug'])
    for m in runs:
        seed = m.get('seed', 0)
        for split, vals in m['splits'].items():
            b = base['per_seed'].get(seed, {}).get(split) if base else None
            change = (100.0 * (vals['EPE'] - b['EPE']) / b['EPE']
                      if b and b.get('EPE') and 'EPE' in vals else None)
            w.writerow([m['arm'], m['kind'], m['ratio'], int(bool(m.get('jitter'))), split,
                        vals.get('EPE'), vals.get('PCK'), vals.get('AUC'),
                        '' if change is None else round(change, 2),
                        m.get('train_seconds'), m.get('data_time_share'), seed,
                        arm_aug(m) or ''])

    def cell(m: dict, split: str, key: str) -> str:
        vals = [m['per_seed'][s][split][key] for s in m['seeds']
                if key in m['per_seed'][s].get(split, {})]
        return fmt_seeds(vals) if vals else '–'

    def change_cell(m: dict, split: str) -> str:
        ch = paired_changes(m, base, split)
        if not ch:
            return '–'
        if len(ch) == 1:
            return f'{ch[0]:+.1f} %'
        mean, sd = mean_sd(ch)
        return f'{mean:+.1f} ± {sd:.1f} % ({sum(c < 0 for c in ch)}/{len(ch)} lower)'

    head = ['arm', 'r', 'aug', 'seeds']
    for s in report_splits:
        head += [f'{s} EPE', f'{s} PCK@0.2']
    head += [f'{s} EPE vs r=0' for s in report_splits]
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for m in arms:
        row = [m['arm'], m.get('ratio_label', f'{m["ratio"]:g}'), arm_aug(m) or '-',
               str(len(m['seeds']))]
        for s in report_splits:
            row += [cell(m, s, 'EPE'), cell(m, s, 'PCK')]
        row += [change_cell(m, s) for s in report_splits]
        lines.append('| ' + ' | '.join(row) + ' |')
    return buf.getvalue(), '\n'.join(lines) + '\n'


def plot_val_curves(metrics: Dict[str, dict], path: str) -> bool:
    """Val EPE over the epochs of every arm that recorded it (``--select-on-val``), one
    panel per seed, each arm's picked epoch marked; False when no arm has a curve."""
    curves = [m for m in metrics.values() if m.get('val_curve')]
    if not curves:
        return False
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    seeds = sorted({m.get('seed', 0) for m in curves})
    curves.sort(key=arm_order)  # the tables' order: r = 0 first, its colour the same in each panel
    arms = list(dict.fromkeys(m['arm'] for m in curves))
    colors = plt.rcParams['axes.prop_cycle'].by_key()['color']
    fig, axes = plt.subplots(1, len(seeds), figsize=(5 * len(seeds), 4), squeeze=False,
                             sharey=True)
    for ax, seed in zip(axes[0], seeds):
        for m in curves:
            if m.get('seed', 0) != seed:
                continue
            c = colors[arms.index(m['arm']) % len(colors)]
            ax.plot(*zip(*m['val_curve']), '-', color=c, lw=1.2, label=m['arm'])
            best = dict(map(tuple, m['val_curve'])).get(m.get('best_epoch'))
            if best is not None:
                ax.plot([m['best_epoch']], [best], 'o', color=c, ms=5)
        ax.set_title(f'seed {seed}')
        ax.set_xlabel('epoch')
        ax.grid(alpha=.3)
    axes[0][0].set_ylabel('val EPE (px; dot: the epoch the table reads)')
    axes[0][-1].legend(fontsize=7, loc='upper left', bbox_to_anchor=(1.02, 1))
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format='png', dpi=110, bbox_inches='tight')
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return True


def plot(metrics: Dict[str, dict], report_splits: Sequence[str], path: str) -> None:
    """EPE and PCK@0.2 vs r per split (means over seeds), with the r = 0 line and other arms."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    metrics = aggregate(metrics)
    fig, axes = plt.subplots(1, 2, figsize=(13, 4))
    colors = plt.rcParams['axes.prop_cycle'].by_key()['color']
    styles = {'jitter': '--', 'amplitude': '-.', 'mixstyle': (0, (1, 1))}
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
                v = m['splits'][split][key]
                if m['kind'] == 'conventional':
                    aug = arm_aug(m)
                    ax.axhline(v, color=c, ls=styles.get(aug, '--'), lw=1,
                               label=f'{CONVENTIONAL_LABELS.get(aug, aug)}, {split}')
                elif m['kind'] == 'combined':
                    what = ('best conventional + mixing (picked per seed on val)'
                            if m['arm'] == 'combined' else
                            f'{arm_aug(m)} + mixing (r={m["ratio"]:g})')
                    ax.plot([m['ratio']], [v], '*', ms=12, color=c, label=f'{what}, {split}')
                elif m['kind'] == 'reconstruction':
                    ax.plot([m['ratio']], [v], 'x', ms=10, mew=2,
                            color=c, label=f'reconstructions (r={m["ratio"]:g}), {split}')
                elif m['kind'] == 'judged':
                    ax.plot([m['ratio']], [v], '^', ms=8, color=c,
                            label=f'judged mixing (r={m["ratio"]:g}), {split}')
                elif m['kind'] == 'truth':
                    ax.plot([m['ratio']], [v], 'D', ms=7, mfc='none', mew=1.5, color=c,
                            label=f'true renders (oracle, {m["arm"]}), {split}')
        ax.set_xlabel('augmentation ratio r')
        ax.set_ylabel(label)
        ax.grid(alpha=.3)
    # beside the panels, not over them: with three splits and every arm it is taller than a panel
    axes[1].legend(fontsize=6, loc='upper left', bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format='png', dpi=110, bbox_inches='tight')
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


FINAL_TABLES = ('results.csv', 'results.md', 'results.png', 'results_last.csv',
                'results_last.md', 'val_curves.png')
"""The tables of a finished study; these names never hold the tables of an unfinished one."""
PARTIAL_TABLES = ('results.partial.csv', 'results.partial.md')
"""Progress tables written after each arm while the study is unfinished."""


def reading_note(metrics: Dict[str, dict]) -> str:
    """Which checkpoint of each arm the tables read."""
    picked = [m['best_epoch'] for m in metrics.values() if m.get('best_epoch') is not None]
    if not picked:
        return 'Last-epoch checkpoints, equal budget'
    if len(picked) < len(metrics):
        return ('Mixed readings: some arms at the epoch with the lowest val EPE (--select-on-val), '
                'others at their last epoch - do not compare them')
    return (f'Each arm at the epoch with its lowest val EPE (--select-on-val; epochs '
            f'{min(picked)}-{max(picked)}, per arm in metrics.json), the same maximum budget; '
            f'the last epochs are in results_last.md')


def last_epoch_reading(metrics: Dict[str, dict]) -> Optional[Dict[str, dict]]:
    """The arms' metrics read at their last epoch (``splits_last``), where every arm
    was also read at its best val epoch (``--select-on-val``); else None."""
    if not metrics or any('splits_last' not in m for m in metrics.values()):
        return None
    return {name: dict(m, splits=m['splits_last'], best_epoch=None)
            for name, m in metrics.items()}


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
    note = ('EPE: mean keypoint distance in pixels (64x64 crops); PCK@0.2: share of keypoints '
            f'within 0.2 of the box size. {reading_note(metrics)}; every arm runs '
            'with the same seeds. With several seeds a number is mean ± sd over seeds, and '
            '"EPE vs r=0" is paired: the change against r = 0 of the same seed, mean ± sd over '
            'seeds, with the number of seeds in which the arm\'s EPE was lower.\n')
    note += '\n' + environment_note({name: (m.get('seed', 0), m.get('environment'))
                                     for name, m in metrics.items()})
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
    plot_val_curves(metrics, osp.join(work_dir, 'val_curves.png'))
    last = last_epoch_reading(metrics)
    if last is not None:  # --select-on-val: the same runs at their last epoch
        csv_last, md_last = build_tables(last, report_splits)
        atomic_write(osp.join(work_dir, 'results_last.csv'), csv_last)
        atomic_write(osp.join(work_dir, 'results_last.md'),
                     f'# Augmentation ratio study, last epochs\n\nCommand: `{command}`\n\n'
                     f'{md_last}\nThe same runs as results.md, each read at its last epoch '
                     f'(equal budget) instead of its lowest val EPE.\n')
    plot(metrics, report_splits, osp.join(work_dir, 'results.png'))
    remove_files(work_dir, PARTIAL_TABLES)


# ------------------------------------------------------------------ the study
MANIFEST_KEYS = ('config', 'config_sha', 'preset', 'seed', 'generator', 'epochs',
                 'generator_epochs', 'data',
                 'schedule', 'judge_min_pck', 'judge_mode', 'consistency',
                 'consistency_teacher', 'consistency_momentum', 'select_on_val')


def check_manifest(work_dir: str, manifest: dict) -> None:
    """Refuse a work dir that holds a study of another config/preset; else record ours."""
    _check_manifest(work_dir, manifest, MANIFEST_KEYS)


PACK_META_KEYS = ('id', 'img_id', 'img_path', 'category_id', 'crowd_index', 'ori_shape',
                  'img_shape', 'input_size', 'input_center', 'input_scale', 'flip',
                  'flip_direction', 'flip_indices', 'raw_ann_info', 'dataset_name')
"""``PackPoseInputs``' default meta keys (MMPose 1.x)."""


def make_arm_config(base_cfg, arm: dict, generator: Optional[str],
                    judge: Optional[dict] = None, judge_min_pck: float = 0.5,
                    schedule: Optional[Tuple[int, int]] = None, judge_mode: str = 'drop',
                    consistency: Optional[float] = None, teacher: str = 'self',
                    momentum: Optional[float] = None):
    """The arm's config: the base with the augmentation after ``TopdownAffine``.

    Args:
        base_cfg: The pose config.
        arm: An entry of :func:`arm_list` (``ratio`` set).
        generator: The generator checkpoint (mixing arms).
        judge: ``dict(config=..., checkpoint=...)`` of the judge (``judged``
            arms).
        judge_min_pck: The judge's PCK below which a mix is dropped.
        judge_mode: ``'drop'`` or ``'mask'`` (see ``MixReconstruct``).
        schedule: ``(start, real_only_last)`` epochs of ``MixRatioHook`` for
            the mixing arms, or ``None`` (mix from the first to the last epoch).
        consistency: ``loss_weight`` of ``MixConsistencyEstimator`` for the
            arms that mix another appearance (their heatmaps on each mix pulled
            towards the teacher's on the pose source), or ``None``.
        teacher: ``'self'`` or ``'ema'`` (see ``MixConsistencyEstimator``).
        momentum: The EMA teacher's momentum (``None``: the estimator's default).
    """
    import copy

    from mmselfdis.apis import crop_pipeline, insert_after_affine, insert_after_load
    from mmselfdis.datasets.transforms import MIX_META_KEYS
    cfg = copy.deepcopy(base_cfg)
    ds = inner_dataset(cfg.train_dataloader.dataset)
    steps = []
    mixing = arm['ratio'] > 0
    if arm['kind'] == 'truth':  # the renderer redraws the image file: right after LoadImage
        step = dict(type='TruthMix', prob=arm['ratio'])
        if arm.get('truth_keep'):
            step['factors'] = [f for f in APPEARANCE_FACTORS if f not in arm['truth_keep']]
        ds.pipeline = insert_after_load(ds.pipeline, [step])
    elif mixing:
        steps.append(dict(type='MixReconstruct', checkpoint=generator, prob=arm['ratio'],
                          pre_transform=crop_pipeline(ds.pipeline), device='cpu'))
        if arm['kind'] == 'reconstruction':
            steps[-1]['appearance_policy'] = 'self'
        if arm['kind'] == 'judged':
            if judge is None:
                raise StudyError(f'arm {arm["name"]} needs a judge (the r=0 arm of its seed)')
            steps[-1].update(judge=dict(judge), judge_min_pck=judge_min_pck,
                             judge_mode=judge_mode)
    aug = arm.get('aug') or ('jitter' if arm.get('jitter') else None)
    if aug == 'jitter':
        steps.append(dict(type='AppearanceJitter'))
    elif aug == 'amplitude':
        steps.append(dict(type='AmplitudeMix', prob=0.5,
                          pre_transform=crop_pipeline(ds.pipeline)))
    elif aug == 'mixstyle':
        cfg.model.backbone = dict(type='MixStyleBackbone', backbone=cfg.model.backbone,
                                  after=MIXSTYLE_AFTER, mixstyle=dict(p=0.5, alpha=0.1))
    elif aug is not None:
        raise StudyError(f'unknown conventional arm {aug!r}; choose from {CONVENTIONAL}')
    if steps:
        ds.pipeline = insert_after_affine(ds.pipeline, steps)
    if mixing:
        # keep the mix marks in the data samples, so MixRatioHook counts mixes and drops
        for step in ds.pipeline:
            if step.get('type') == 'PackPoseInputs':
                keys = tuple(step.get('meta_keys', PACK_META_KEYS))
                step['meta_keys'] = keys + tuple(k for k in MIX_META_KEYS if k not in keys)
        start, last = schedule or (0, 0)
        hooks = [h for h in (cfg.get('custom_hooks') or []) if h.get('type') != 'MixRatioHook']
        cfg.custom_hooks = hooks + [dict(type='MixRatioHook', start=int(start),
                                         real_only_last=int(last))]
        if consistency is not None and arm['kind'] not in ('reconstruction', 'truth'):
            if cfg.model.type != 'TopdownPoseEstimator':
                raise StudyError(f'--consistency turns the TopdownPoseEstimator into a '
                                 f'MixConsistencyEstimator; the config\'s model is '
                                 f'{cfg.model.type}')
            cfg.model.type = 'MixConsistencyEstimator'
            cfg.model.consistency = dict(loss_weight=float(consistency), teacher=teacher)
            if momentum is not None:
                cfg.model.consistency['momentum'] = float(momentum)
    cfg.custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)
    return cfg


def test_splits(cfg) -> Dict[str, str]:
    """``{split: ann_file}``: val, the config's test file and sibling ``test_shift.json`` and
    ``test_combo.json`` (a correlated set) where they exist."""
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
    for extra in ('test_shift', 'test_combo'):
        path = osp.join(osp.dirname(test_ann), f'{extra}.json')
        if osp.basename(test_ann) == 'test.json' and osp.isfile(osp.join(root, path)):
            splits[extra] = path
    return splits


def _scalar_rows(work: str) -> List[dict]:
    """The rows of every ``scalars.json`` a run (and its resumptions) logged, in order."""
    rows = []
    for path in sorted(glob.glob(osp.join(work, '*', 'vis_data', 'scalars.json'))):
        with open(path) as f:
            rows += [json.loads(line) for line in f if line.strip()]
    return rows


def _train_timing(work: str) -> Tuple[Optional[float], Optional[float]]:
    """Mean ``data_time`` share of iteration time and the training wall time (s)."""
    train = [r for r in _scalar_rows(work) if 'data_time' in r and 'loss' in r]
    if not train:
        return None, None
    skip = train[1:] if len(train) > 1 else train  # the first window includes worker start-up
    share = sum(r['data_time'] for r in skip) / max(1e-9, sum(r['time'] for r in skip))
    return round(share, 4), None


def best_on_val(work: str) -> Tuple[str, int]:
    """The checkpoint with the lowest val EPE that ``CheckpointHook(save_best='EPE')``
    kept in ``work`` and its epoch."""
    found = glob.glob(osp.join(work, 'best_EPE_epoch_*.pth'))
    if len(found) != 1:
        raise StudyError(f'--select-on-val: expected one best_EPE_epoch_*.pth in {work}, found '
                         f'{len(found)}; the run\'s validation did not save its best checkpoint '
                         f'(is val_interval larger than max_epochs?)')
    return found[0], int(re.search(r'best_EPE_epoch_(\d+)\.pth$', found[0]).group(1))


def val_curve(work: str) -> List[List[float]]:
    """``[[epoch, val EPE], ...]`` of a run's validations (its ``scalars.json``)."""
    curve = {int(row['step']): float(row['EPE'])  # a resumed run's epoch: the latest row
             for row in _scalar_rows(work) if 'EPE' in row and 'loss' not in row}
    return [[epoch, epe] for epoch, epe in sorted(curve.items())]


def select_on_val_options(every: int) -> Dict[str, object]:
    """Pose-config options of ``--select-on-val EVERY``: validate every EVERY epochs and
    keep the checkpoint with the lowest val EPE beside the last one."""
    return {'train_cfg.val_interval': int(every),
            'default_hooks.checkpoint.save_best': 'EPE',
            'default_hooks.checkpoint.rule': 'less'}


def run_arm(arm: dict, base_cfg, work_dir: str, generator: Optional[str], seed: int,
            splits: Dict[str, str], dir_name: Optional[str] = None,
            select_on_val: bool = False, **config_kw) -> dict:
    """Train and evaluate one arm for one seed (resuming an interrupted run); its metrics.

    With ``select_on_val`` (the config validates during training and saves its best
    checkpoint: :func:`select_on_val_options`) the metrics' ``splits`` are those of the
    checkpoint with the lowest val EPE and ``splits_last`` those of the last epoch.
    ``config_kw`` go to :func:`make_arm_config` (judge, schedule).
    """
    arm_dir = osp.join(work_dir, 'arms', dir_name or arm['name'])
    cfg_path, work, ckpt = dump_run(make_arm_config(base_cfg, arm, generator, **config_kw),
                                    arm_dir)
    t0 = time.time()
    if not osp.isfile(ckpt):
        train_run(cfg_path, work, seed, osp.join(arm_dir, 'train.log'))
    train_seconds = round(time.time() - t0, 1)
    share, _ = _train_timing(work)
    counts = mix_counts(osp.join(arm_dir, 'train.log'))
    results = evaluate_splits(cfg_path, ckpt, arm_dir, splits, METRIC_KEYS)
    picked = {}
    if select_on_val:
        best, epoch = best_on_val(work)
        picked = dict(splits_last=results, checkpoint_last=ckpt, best_epoch=epoch,
                      val_curve=val_curve(work))
        ckpt = best
        results = evaluate_splits(cfg_path, best, osp.join(arm_dir, 'best_on_val'), splits,
                                  METRIC_KEYS)
    metrics = dict(arm=arm['name'], kind=arm['kind'], ratio=arm['ratio'], jitter=arm['jitter'],
                   aug=arm.get('aug'), seed=seed, checkpoint=ckpt, config=cfg_path,
                   splits=results, **picked, train_seconds=train_seconds, data_time_share=share,
                   mix_counts=counts, environment=read_environment(work),
                   finished=datetime.datetime.now(datetime.timezone.utc).isoformat())
    atomic_write(osp.join(arm_dir, 'metrics.json'), json.dumps(metrics, indent=2))
    return metrics


_MIX_LINE = re.compile(r'MixRatioHook \(epoch \d+\): (\d+) samples, (\d+) mixed, (\d+) mixes '
                       r'dropped')


def mix_counts(log: str) -> Optional[Dict[str, int]]:
    """Samples, mixes and judge drops over the epochs of a training log (``MixRatioHook``)."""
    if not osp.isfile(log):
        return None
    total = dict(samples=0, mixed=0, dropped=0)
    found = False
    with open(log, errors='replace') as f:
        for line in f:
            m = _MIX_LINE.search(line)
            if m:
                found = True
                for key, value in zip(total, m.groups()):
                    total[key] += int(value)
    return total if found else None


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
    atomic_write(done, json.dumps(dict(checkpoint=ckpt, seconds=round(time.time() - t0, 1),
                                       environment=read_environment(work)), indent=2))
    return ckpt


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Pose error vs augmentation ratio r (mixed images), with a conventional '
        'and a combined arm at the same budget.')
    parser.add_argument('config', metavar='CONFIG', help='the base pose config')
    parser.add_argument('--work-dir', required=True, help='where arms and tables go')
    parser.add_argument('--ratios', type=float, nargs='+',
                        help='augmentation ratios r in [0, 1] (default 0 0.1 0.25 0.5 0.75; '
                        'presets cpu-combo, cpu-low, cpu-scarce: 0 0.25 0.5)')
    parser.add_argument('--preset', choices=sorted(PRESETS), default='paper',
                        help='paper: the configs as written (GPU); cpu-small: the whole study '
                        'on 2 CPU cores in <= 45 min; cpu-combo: the correlated benchmark '
                        '(RHO = 1, test_combo), 8-epoch arms, the background demo\'s painter '
                        'and all the arms, one command per seed; cpu-low: the same with 200 '
                        'training poses, 48-epoch arms and a 72-epoch painter (low data, where '
                        'the mixes pay); cpu-scarce: cpu-low with one appearance per pose, '
                        '96-epoch arms, a 144-epoch painter; micro: seconds, for tests')
    parser.add_argument('--generator', help='trained generator checkpoint (default: train '
                        '--generator-config once in WORK_DIR/generator)')
    parser.add_argument('--generator-config',
                        help='config to train the generator with when --generator is not '
                        'given (default: Table 4 row 3; cpu-combo/-low: the background demo\'s, '
                        'cycle-pose weight 10)')
    parser.add_argument('--conventional', nargs='+', choices=CONVENTIONAL,
                        help='label-exact conventional arms (default: jitter; preset '
                        'cpu-combo/-low: the skeptic\'s set, jitter amplitude mixstyle)')
    parser.add_argument('--no-conventional', action='store_true',
                        help='skip the conventional arms')
    parser.add_argument('--no-combined', action='store_true',
                        help='skip the conventional + mixing arm')
    parser.add_argument('--combined-with', choices=CONVENTIONAL + ('best', ),
                        help='conventional augmentation of the combined arm (default jitter, '
                        'cpu-combo/-low: best, the conventional arm with the lowest val EPE)')
    parser.add_argument('--judged-ratios', type=float, nargs='+', default=[], metavar='R',
                        help='add judge-gated mixing arms judged_r=R: a mix is dropped (the '
                        'real sample kept) when the judge, the r=0 arm of the same seed, finds '
                        'x\'s keypoints with a PCK@0.2 below --judge-min-pck (needs r=0 in '
                        '--ratios)')
    parser.add_argument('--truth-ratios', type=float, nargs='+', metavar='R',
                        help='add oracle arms truth_r=R (SynthHands only): the share R of '
                        'samples re-rendered by the renderer with another sample\'s appearance '
                        '(TruthMix): perfect mixes, what a generator that drew the true '
                        'picture would give at that ratio; cpu-combo: 0.25, cpu-low and '
                        'cpu-scarce: 0.5)')
    parser.add_argument('--no-truth', action='store_true',
                        help='skip the oracle arms (those of a preset too)')
    parser.add_argument('--truth-keep', nargs='+', default=[], metavar='FACTOR',
                        choices=APPEARANCE_FACTORS,
                        help='the oracle arms keep these appearance factors of the pose image '
                        '(arms truth-keep-<F>_r=R), e.g. skin: everything of the other '
                        'appearance but its skin texture')
    parser.add_argument('--judge-min-pck', type=float, default=0.5,
                        help='judge PCK below which a mix is dropped (default 0.5)')
    parser.add_argument('--judge-mode', choices=('drop', 'mask'), default='drop',
                        help='judged arms: drop a mix below --judge-min-pck (default), or '
                        'besides unlabel the keypoints the judge misses on a kept mix (mask)')
    parser.add_argument('--mix-start', type=int, default=0, metavar='N',
                        help='mixing arms: real images only in the first N epochs (default 0)')
    parser.add_argument('--mix-real-last', type=int, default=0, metavar='M',
                        help='mixing arms: real images only in the last M epochs (default 0)')
    parser.add_argument('--consistency', type=float, metavar='W',
                        help='mixing arms: beside x\'s labels, pull the heatmaps on each mix '
                        'towards a teacher\'s on x with weight W (MixConsistencyEstimator)')
    parser.add_argument('--consistency-teacher', choices=('self', 'ema'), default='self',
                        help='the teacher of --consistency: the model itself (default) or an '
                        'exponential moving average of its weights')
    parser.add_argument('--consistency-momentum', type=float, metavar='M',
                        help='the EMA teacher\'s momentum (default 0.001: a horizon of about '
                        '1000 iterations; shorter runs need a larger M)')
    parser.add_argument('--correlation', type=float, metavar='RHO',
                        help='render the preset\'s data as the correlated benchmark '
                        '(make_synthhands.py --correlation RHO; adds test_combo)')
    parser.add_argument('--pose-family', choices=POSE_FAMILIES,
                        help='with --correlation: tie the appearance groups to the pose '
                        'template (make_synthhands.py\'s default) or to the hand\'s side '
                        '(left/right, 2 groups)')
    parser.add_argument('--combo-poses', choices=COMBO_POSES,
                        help='with --correlation: test_combo\'s poses, a range of its own '
                        '(make_synthhands.py\'s default) or the test split\'s, in other groups\' '
                        'appearances (test_combo - test is then the combination alone)')
    parser.add_argument('--hard-group', action='store_true', default=None,
                        help='with --correlation: appearance group 0 seen through a poor camera '
                        '(make_synthhands.py --hard-group: its fingers are hard to see, so the '
                        'group can stand in for them)')
    parser.add_argument('--train-poses', type=int, metavar='N',
                        help='low data: the preset\'s data with only N train poses')
    parser.add_argument('--appearances', type=int, metavar='K',
                        help='appearances rendered per pose in the preset\'s data (default 2; '
                        'with --train-poses, 1 gives the fewest appearances per pose: each '
                        'training pose seen in one appearance only)')
    parser.add_argument('--combined-ratio', default='best',
                        help="r of the combined arm: a number, 'best' (lowest val EPE, "
                        "default; arms are then also evaluated on val) or 'middle'")
    parser.add_argument('--reconstruction-ratio', type=float, metavar='R',
                        help="add a control arm: the share R of samples replaced by the "
                        "generator's reconstruction of themselves (no other appearance)")
    parser.add_argument('--seed', type=int, default=0, help='seed of every arm (default 0)')
    parser.add_argument('--seeds', type=int, nargs='+',
                        help='train every arm once per seed (arms/<arm>@seed<S>); overrides '
                        '--seed; the generator is trained with the first')
    parser.add_argument('--select-on-val', type=int, metavar='EVERY',
                        help='validate each pose arm every EVERY epochs and read it at the '
                        'checkpoint with its lowest val EPE (early stopping within the same '
                        'maximum budget): results.md; the same runs at their last epoch: '
                        'results_last.md')
    parser.add_argument('--epochs', type=int,
                        help="epochs of every pose arm (default: the preset's; the generator "
                        "keeps the preset's schedule unless --generator-epochs is given)")
    parser.add_argument('--generator-epochs', type=int, metavar='N',
                        help='epochs of the generator trained in WORK_DIR/generator (default: '
                        'the preset\'s; with --train-poses its iterations shrink with the data, '
                        'so low-data studies give it more epochs)')
    parser.add_argument('--in-process', action='store_true',
                        help='train and evaluate every arm in this process, one after the '
                        'other, instead of a subprocess each (the imports are paid once)')
    args = parser.parse_args(argv)
    defaults = dict(ratios=list(DEFAULT_RATIOS), conventional=['jitter'],
                    combined_with='jitter', generator_config=DEFAULT_GENERATOR_CONFIG,
                    truth_ratios=[])
    defaults.update(PRESETS[args.preset].get('arms', {}))
    if 'generator_config' in PRESETS[args.preset]:
        defaults['generator_config'] = PRESETS[args.preset]['generator_config']
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    bad = [r for r in args.ratios if not 0 <= r <= 1]
    if bad:
        raise StudyError(f'--ratios must lie in [0, 1], got {bad}')
    if args.reconstruction_ratio is not None and not 0 < args.reconstruction_ratio <= 1:
        raise StudyError(f'--reconstruction-ratio must lie in (0, 1], got '
                         f'{args.reconstruction_ratio}')
    for key in ('epochs', 'generator_epochs'):
        if getattr(args, key) is not None and getattr(args, key) < 1:
            raise StudyError(f'--{key.replace("_", "-")} must be >= 1, got {getattr(args, key)}')
    bad = [r for r in args.judged_ratios if not 0 < r <= 1]
    if bad:
        raise StudyError(f'--judged-ratios must lie in (0, 1], got {bad}')
    if args.no_truth:
        args.truth_ratios = []
    bad = [r for r in args.truth_ratios if not 0 < r <= 1]
    if bad:
        raise StudyError(f'--truth-ratios must lie in (0, 1], got {bad}')
    if args.truth_keep and not args.truth_ratios:
        raise StudyError('--truth-keep sets what the oracle arms keep; add them with '
                         '--truth-ratios R')
    if set(args.truth_keep) >= set(APPEARANCE_FACTORS):
        raise StudyError('--truth-keep keeps every appearance factor: the oracle arm would '
                         'be the real image; leave at least one factor to take')
    if args.judged_ratios and 0 not in args.ratios:
        raise StudyError('--judged-ratios needs r=0 in --ratios: its model is the judge')
    if not 0 <= args.judge_min_pck <= 1:
        raise StudyError(f'--judge-min-pck must lie in [0, 1], got {args.judge_min_pck}')
    if args.mix_start < 0 or args.mix_real_last < 0:
        raise StudyError('--mix-start and --mix-real-last must be >= 0')
    if args.consistency is not None and not args.consistency > 0:
        raise StudyError(f'--consistency must be a weight > 0, got {args.consistency}')
    if args.consistency_momentum is not None and (
            args.consistency_teacher != 'ema' or not 0 < args.consistency_momentum <= 1):
        raise StudyError(f'--consistency-momentum is the EMA teacher\'s momentum, in (0, 1] '
                         f'with --consistency-teacher ema; got {args.consistency_momentum} '
                         f'with teacher {args.consistency_teacher!r}')
    if args.select_on_val is not None and args.select_on_val < 1:
        raise StudyError(f'--select-on-val must be >= 1 (validate every so many epochs), got '
                         f'{args.select_on_val}')
    if args.correlation is not None and not 0 <= args.correlation <= 1:
        raise StudyError(f'--correlation must lie in [0, 1], got {args.correlation}')
    if args.train_poses is not None and args.train_poses < 1:
        raise StudyError(f'--train-poses must be >= 1, got {args.train_poses}')
    if args.appearances is not None and args.appearances < 1:
        raise StudyError(f'--appearances must be >= 1, got {args.appearances}')
    args.seeds = list(dict.fromkeys(args.seeds)) if args.seeds else [args.seed]
    args.seed = args.seeds[0]
    return args


def main(argv: Optional[List[str]] = None) -> None:
    import mmselfdis  # noqa: F401  (registers components)
    from mmengine.config import Config

    from mmselfdis.utils import check_custom_imports

    args = parse_args(argv)
    if not osp.isfile(args.config):
        raise FileNotFoundError(2, 'No such file or directory', args.config)
    set_in_process(args.in_process)
    work_dir = osp.abspath(args.work_dir)
    preset = PRESETS[args.preset]
    data_spec = preset['data']
    if data_spec is not None:
        data_spec = dict(data_spec)
        if args.correlation is not None:
            data_spec['correlation'] = args.correlation
        if args.train_poses is not None:
            data_spec['train_poses'] = args.train_poses
        if args.appearances is not None:
            data_spec['appearances'] = args.appearances
        for key in CORRELATION_OPTIONS:
            if getattr(args, key) is not None:
                if data_spec.get('correlation') is None:
                    raise StudyError(f'--{key.replace("_", "-")} sets up the correlated set; add '
                                     f'--correlation RHO')
                data_spec[key] = getattr(args, key)
    elif any(getattr(args, key) is not None
             for key in ('correlation', 'train_poses', 'appearances') + CORRELATION_OPTIONS):
        raise StudyError(f'--correlation/--train-poses/--appearances/--pose-family/--combo-poses/'
                         f'--hard-group render the data of a preset; preset '
                         f'{args.preset!r} uses the config\'s data_root (render it with '
                         f'tools/make_synthhands.py --correlation and point the config at it)')
    schedule = ((args.mix_start, args.mix_real_last)
                if args.mix_start or args.mix_real_last else None)
    base_cfg = Config.fromfile(args.config)
    check_custom_imports(base_cfg, args.config)
    max_epochs = int(args.epochs or preset['pose'].get('train_cfg.max_epochs')
                     or base_cfg.train_cfg.max_epochs)
    if args.select_on_val is not None and args.select_on_val > max_epochs:
        raise StudyError(f'--select-on-val {args.select_on_val}: validate every 1 to '
                         f'{max_epochs} epochs (the pose arms\' max_epochs)')
    if args.generator is not None and not osp.isfile(args.generator):
        raise FileNotFoundError(2, 'No such file or directory (--generator)', args.generator)
    manifest = dict(config=osp.abspath(args.config), config_sha=sha16(base_cfg.pretty_text),
                    preset=args.preset, seed=args.seed,
                    generator=osp.abspath(args.generator) if args.generator else 'trained',
                    epochs=args.epochs, generator_epochs=args.generator_epochs,
                    data=data_spec if data_spec != preset['data'] else None,
                    schedule=list(schedule) if schedule else None,
                    judge_min_pck=args.judge_min_pck if args.judged_ratios else None,
                    judge_mode=args.judge_mode if args.judged_ratios else None,
                    consistency=args.consistency,
                    consistency_teacher=args.consistency_teacher if args.consistency else None,
                    consistency_momentum=args.consistency_momentum,
                    select_on_val=args.select_on_val,
                    created=datetime.datetime.now(datetime.timezone.utc).isoformat())
    check_manifest(work_dir, manifest)
    command = 'python tools/ratio_study.py ' + ' '.join(
        [osp.relpath(args.config, REPO)] + (sys.argv[2:] if argv is None else list(argv)[1:]))

    apply_options(base_cfg, preset['pose'])
    if args.epochs is not None:
        base_cfg.train_cfg.max_epochs = args.epochs
    if args.select_on_val is not None:
        apply_options(base_cfg, select_on_val_options(args.select_on_val))
    data_root = ensure_data(work_dir, data_spec)
    set_data_root(base_cfg, data_root)
    splits = test_splits(base_cfg)
    report = [s for s in splits if s != 'val']
    picks_on_val = args.select_on_val is not None or not args.no_combined and (
        (args.combined_ratio == 'best' and len([r for r in args.ratios if r > 0]) > 1)
        or args.combined_with == 'best')
    if not picks_on_val:
        splits.pop('val')  # val only serves to pick the combined arm's r

    needs_generator = (any(r > 0 for r in args.ratios) or not args.no_combined
                       or args.reconstruction_ratio is not None or bool(args.judged_ratios))
    generator = args.generator
    if generator is None and needs_generator:
        if args.generator_epochs is not None:
            preset = dict(preset, generator=dict(
                preset['generator'], **{'train_cfg.max_epochs': args.generator_epochs}))
        generator = ensure_generator(work_dir, args.generator_config, preset, data_root,
                                     args.seed)
    generator = osp.abspath(generator) if generator else None

    conventional = [] if args.no_conventional else list(dict.fromkeys(args.conventional))
    arms = arm_list(args.ratios, conventional, not args.no_combined,
                    args.reconstruction_ratio, args.judged_ratios, args.combined_with,
                    args.truth_ratios, args.truth_keep)
    runs = [(arm, seed) for arm in arms for seed in args.seeds]
    for i, (arm, seed) in enumerate(runs):
        if arm['kind'] == 'combined':
            done = read_arm_metrics(work_dir)
            rc = pick_combined_ratio(done, args.combined_ratio)
            aug = pick_best_conventional(done) if arm['aug'] == 'best' else arm['aug']
            arm = dict(arm, name=f'{aug}+{ratio_name(rc)}', ratio=rc, aug=aug,
                       jitter=aug == 'jitter')
        dir_name = arm_dir_name(arm['name'], seed, args.seeds)
        if osp.isfile(osp.join(work_dir, 'arms', dir_name, 'metrics.json')):
            print(f'[ratio_study] {dir_name}: finished earlier, not retrained', flush=True)
            continue
        judge = None
        if arm['kind'] == 'judged':
            base = osp.join(work_dir, 'arms', arm_dir_name(ratio_name(0), seed, args.seeds),
                            'metrics.json')
            with open(base) as f:
                judged_by = json.load(f)
            judge = dict(config=judged_by.get('config',
                                              osp.join(osp.dirname(base), 'config.py')),
                         checkpoint=judged_by['checkpoint'])
        remove_stale_tables(work_dir, FINAL_TABLES, 'ratio_study', 'arms')
        t0 = time.time()
        print(f'[ratio_study] {dir_name}: training and evaluating', flush=True)
        run_arm(arm, base_cfg, work_dir, generator, seed, splits, dir_name,
                select_on_val=args.select_on_val is not None, judge=judge,
                judge_min_pck=args.judge_min_pck, schedule=schedule,
                judge_mode=args.judge_mode, consistency=args.consistency,
                teacher=args.consistency_teacher, momentum=args.consistency_momentum)
        print(f'[ratio_study] {dir_name}: done in {time.time() - t0:.0f} s', flush=True)
        if i + 1 < len(runs):
            write_reports(work_dir, report, command, progress=(i + 1, len(runs)))
    write_reports(work_dir, report, command)
    print(f'[ratio_study] tables: {osp.join(work_dir, "results.md")}', flush=True)


if __name__ == '__main__':
    from mmselfdis.utils import run_cli
    run_cli(main)
