"""Gradient probe: what each loss term does to the layers the pose estimator shares.

Trains a Table 4 row (or any self-disentanglement config) for a few hundred
iterations exactly as ``tools/train.py`` would (same model, data, optimizer),
and every ``--every`` iterations differentiates each loss term on its own
(:func:`mmselfdis.models.utils.gradient_probe`): per shared parameter group
(the modules up to ``selfdis.appearance_source``), the gradient norm of every
term, of the pose loss (``loss_kpt``) and of the sum of the others, their
ratio, and the cosine between the pose gradient and the sum of the others;
with the head's gradient balancing on, also what the other terms add after
balancing (``applied_other``, ``cos_applied``).

Writes ``OUT/probe.json`` (every probe) and ``OUT/probe.md`` (means over the
first and the second half of the run), and prints the table.

Examples::

    python tools/grad_probe.py --row 3 --preset cpu --data-root DATA --out work_dirs/probe3
    python tools/grad_probe.py --row 3 --preset cpu --data-root DATA --no-grad-balance \\
        --out work_dirs/probe3_plain
    python tools/grad_probe.py --config configs/selfdis/t4-3_....py --out DIR
"""
import argparse
import json
import os
import os.path as osp
import statistics
import sys
import time
from typing import List, Optional

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

from mmselfdis.utils.study import StudyError, atomic_write  # noqa: E402

POSE_KEYS = ('loss_kpt', )


def load_row_config(row: str, preset: str, data_root: str, grad_balance: bool):
    """A Table 4 row's config at a ``tools/reproduce_table4.py`` preset."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'reproduce_table4', osp.join(REPO, 'tools', 'reproduce_table4.py'))
    t4 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(t4)
    rows = {r[0]: r for r in t4.ROWS}
    if row not in rows:
        raise StudyError(f'--row: Table 4 has rows {", ".join(rows)}, got {row!r}')
    if rows[row][3] is not None:
        raise StudyError(f'--row {row} starts from row {rows[row][3]}\'s checkpoint; probe a '
                         f'row trained from scratch (2 or 3), or pass --config with load_from')
    return t4.row_config(rows[row], t4.PRESETS[preset], data_root, None,
                         grad_balance=grad_balance)


def probe_run(cfg, iters: int, every: int, seed: int, log=print) -> List[dict]:
    """Train ``cfg``'s model ``iters`` steps, probing every ``every``; the probes."""
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner, set_random_seed

    from mmpose.registry import MODELS
    from mmselfdis.models.utils import gradient_probe, shared_parameter_groups

    init_default_scope('mmpose')
    set_random_seed(seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    head = getattr(model, 'selfdis', None)
    if head is None:
        raise StudyError('the config has no selfdis branch (model.selfdis): there is no image '
                         'loss to probe')
    groups = shared_parameter_groups(model, head.appearance_source)
    balancer = head.grad_balance
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=seed)
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    records, it, t0 = [], 0, time.time()
    while it < iters:
        for batch in loader:
            if it >= iters:
                break
            data = model.data_preprocessor(batch, True)
            losses = model(**data, mode='loss')
            total, log_vars = model.parse_losses(losses)
            if it % every == 0 or it == iters - 1:
                terms = {k: v for k, v in losses.items() if k.startswith('loss')}
                rec = dict(iter=it, losses={k: float(v.detach()) for k, v in terms.items()},
                           groups=gradient_probe(terms, groups, POSE_KEYS, total=total,
                                                 balancer=balancer))
                records.append(rec)
            optim.update_params(total)
            if balancer is not None and balancer.last and records and records[-1]['iter'] == it:
                records[-1]['feature'] = dict(balancer.last)
            if it % every == 0:
                last = list(groups)[-1]
                g = records[-1]['groups'][last]
                log(f'[probe] iter {it}/{iters} ({time.time() - t0:.0f} s): {last}: |g_pose| '
                    f'{g["norm/pose"]:.3g}, |g_other| {g["norm/other"]:.3g}, cos '
                    f'{g["cos"]:+.3f}' + (f', applied {g["applied_other"]:.3g}'
                                          if 'applied_other' in g else ''))
            it += 1
    return records


def summarise(records: List[dict]) -> str:
    """Markdown: per group and half of the run, mean norms / ratio / cosines."""
    if not records:
        return ''
    half = records[-1]['iter'] / 2
    parts = [('first half', [r for r in records if r['iter'] <= half]),
             ('second half', [r for r in records if r['iter'] > half])]
    terms = [k[len('norm/'):] for k in records[0]['groups'][next(iter(records[0]['groups']))]
             if k.startswith('norm/') and k not in ('norm/pose', 'norm/other')]
    keys = [f'norm/{t}' for t in terms] + ['norm/other', 'ratio', 'cos']
    extra = ['applied_other', 'cos_applied'] if 'applied_other' in next(
        iter(records[0]['groups'].values())) else []
    head = ['group', 'iters'] + [k.replace('norm/', '|g| ') for k in keys] + extra
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for group in records[0]['groups']:
        for label, rs in parts:
            if not rs:
                continue
            cells = [group, f'{label} ({rs[0]["iter"]}-{rs[-1]["iter"]}, {len(rs)} probes)']
            for k in keys + extra:
                vals = [r['groups'][group][k] for r in rs]
                fmt = '{:+.3f}' if k.startswith('cos') else '{:.3g}'
                cells.append(fmt.format(statistics.mean(vals)))
            lines.append('| ' + ' | '.join(cells) + ' |')
    feats = [r['feature'] for r in records if 'feature' in r]
    note = ''
    if feats:
        note = ('\nAt the shared feature (the split of the gradient balancing), mean over the '
                f'probes: |g_pose| {statistics.mean(f["pose_norm"] for f in feats):.3g}, '
                f'|g_branch| {statistics.mean(f["branch_norm"] for f in feats):.3g}, cos '
                f'{statistics.mean(f["cos"] for f in feats):+.3f}, applied scale '
                f'{statistics.mean(f["scale"] for f in feats):.3g}.\n')
    return '\n'.join(lines) + '\n' + note


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Per-loss gradient norms and cosines on the layers shared by the pose '
        'estimator and the image branch, over a short training run.')
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument('--row', help='a Table 4 row trained from scratch (2 or 3)')
    src.add_argument('--config', help='any config with a selfdis branch')
    parser.add_argument('--preset', default='cpu', help='with --row: the reproduce_table4 '
                        'preset (cpu, paper, micro; default cpu)')
    parser.add_argument('--data-root', help='the SynthHands set (with --row: required)')
    parser.add_argument('--no-grad-balance', action='store_true',
                        help='switch the head\'s gradient balancing off (the paper\'s plain sum)')
    parser.add_argument('--iters', type=int, default=132, help='training iterations (default '
                        '132: one epoch of the cpu preset)')
    parser.add_argument('--every', type=int, default=12, help='probe every N iterations')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', required=True, help='output folder (must not hold a probe)')
    args = parser.parse_args(argv)
    if args.iters < 1 or args.every < 1:
        raise StudyError(f'--iters and --every must be >= 1, got {args.iters} and {args.every}')
    if args.row is not None and not args.data_root:
        raise StudyError('--row needs --data-root (a SynthHands set: tools/make_synthhands.py, '
                         'or WORK_DIR/data/synthhands of tools/reproduce_table4.py)')
    return args


def main(argv: Optional[List[str]] = None) -> None:
    import mmselfdis  # noqa: F401

    args = parse_args(argv)
    out = osp.abspath(args.out)
    if osp.exists(osp.join(out, 'probe.json')):
        raise StudyError(f'{out} already holds a probe (probe.json); choose another --out')
    if args.row is not None:
        cfg = load_row_config(args.row, args.preset, osp.abspath(args.data_root),
                              not args.no_grad_balance)
    else:
        from mmengine.config import Config
        cfg = Config.fromfile(args.config)
        if args.data_root:
            from mmselfdis.utils.study import set_data_root
            set_data_root(cfg, osp.abspath(args.data_root))
        if args.no_grad_balance and 'selfdis' in cfg.model:
            cfg.model.selfdis.grad_balance = None
    t0 = time.time()
    records = probe_run(cfg, args.iters, args.every, args.seed)
    os.makedirs(out, exist_ok=True)
    command = 'python tools/grad_probe.py ' + ' '.join(sys.argv[1:] if argv is None else argv)
    atomic_write(osp.join(out, 'probe.json'),
                 json.dumps(dict(command=command, seconds=round(time.time() - t0, 1),
                                 records=records), indent=1))
    md = (f'# Gradient probe\n\nCommand: `{command}` ({time.time() - t0:.0f} s)\n\n'
          f'Gradient norms on the shared parameter groups (pose = loss_kpt; other = the sum of '
          f'every other term); ratio = |g_other| / |g_pose|; cos = cos(g_pose, g_other).\n\n'
          + summarise(records))
    atomic_write(osp.join(out, 'probe.md'), md)
    print(md)


if __name__ == '__main__':
    from mmselfdis.utils import run_cli
    run_cli(main)
