"""Join ratio studies run one seed per work dir into one table with per-seed paired differences.

``tools/ratio_study.py --seeds S`` in its own work dir per seed (e.g. one
``--preset cpu-combo`` command per seed, each within an hour on 2 CPU cores)
gives one table per seed. This tool links every finished arm of those work
dirs into ``OUT/arms/<arm>@seed<S>`` (symbolic links, nothing is copied or
changed) and writes ``OUT/results.{csv,md,png}`` as a study run with
``--seeds`` would: means ± sd over seeds and the paired differences against
r = 0 of the same seed.

The studies must share the config, preset, data, epochs and options (their
``study.json``; only the seed may differ) and no arm may appear twice for one
seed. A combined arm picked per seed (``--combined-with best``,
``--combined-ratio best``) may pick different arms in different seeds; those
are joined under the name ``combined`` and the picks listed under the table.

Example::

    for s in 0 1 2; do
      python tools/ratio_study.py configs/augment/ratio-study_unet_synthhands-mono-64x64.py \\
          --preset cpu-combo --seeds $s --work-dir work_dirs/combo_s$s
    done
    python tools/join_studies.py work_dirs/combo_s0 work_dirs/combo_s1 work_dirs/combo_s2 \\
        --out work_dirs/combo
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import List, Optional

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, osp.join(REPO, 'tools'))

from mmselfdis.utils.study import StudyError, atomic_write  # noqa: E402

# what must agree between the joined studies (ratio_study.MANIFEST_KEYS but the seed)
SAME_KEYS = ('config_sha', 'preset', 'epochs', 'data', 'schedule', 'judge_min_pck',
             'judge_mode', 'consistency', 'consistency_teacher', 'select_on_val')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Join ratio studies run one seed per work dir into one table.')
    parser.add_argument('studies', nargs='+', metavar='STUDY_DIR',
                        help='work dirs of tools/ratio_study.py (one or more seeds each)')
    parser.add_argument('--out', required=True, help='where the joined arms and tables go')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    import ratio_study

    args = parse_args(argv)
    out = osp.abspath(args.out)
    manifests = []
    for d in args.studies:
        path = osp.join(d, 'study.json')
        if not osp.isfile(path):
            raise StudyError(f'{d} is not a ratio study (no study.json): give the --work-dir of '
                             f'tools/ratio_study.py runs')
        with open(path) as f:
            manifests.append(json.load(f))
    for d, m in zip(args.studies[1:], manifests[1:]):
        for key in SAME_KEYS:
            if m.get(key) != manifests[0].get(key):
                raise StudyError(f'{d} differs from {args.studies[0]} in {key} '
                                 f'({m.get(key)!r} vs {manifests[0].get(key)!r}): only studies '
                                 f'of the same config, data and options can be joined')
    if osp.abspath(out) in [osp.abspath(d) for d in args.studies]:
        raise StudyError('--out must be a new directory, not one of the joined studies')
    arms_dir = osp.join(out, 'arms')
    if osp.isdir(arms_dir) and os.listdir(arms_dir):
        raise StudyError(f'{arms_dir} is not empty: give a new --out (or delete it yourself)')

    links = {}
    combined = {}
    splits = []  # the reported splits, in the order the arms list them (val only picks)
    for d in args.studies:
        for name, m in sorted(ratio_study.read_arm_metrics(d).items()):
            splits += [s for s in m['splits'] if s != 'val' and s not in splits]
            seed = m.get('seed', 0)
            if m['kind'] == 'combined':
                combined[seed] = m['arm']
            key = (m['arm'], seed)
            if key in links:
                raise StudyError(f'arm {m["arm"]} of seed {seed} is in {links[key][0]} and in '
                                 f'{d}: join each seed once')
            links[key] = (d, osp.abspath(osp.join(d, 'arms', name)))
    if not links:
        raise StudyError(f'no finished arm in {args.studies}')
    rename = len(set(combined.values())) > 1
    os.makedirs(arms_dir, exist_ok=True)
    for (arm, seed), (_, src) in sorted(links.items()):
        if rename and arm in combined.values():
            # a directory of its own with the metrics renamed (the arm's files stay where
            # they are): the combined arm picked per seed
            with open(osp.join(src, 'metrics.json')) as f:
                m = json.load(f)
            m.update(arm='combined', picked=arm, source=src)
            dst = osp.join(arms_dir, f'combined@seed{seed}')
            os.makedirs(dst)
            atomic_write(osp.join(dst, 'metrics.json'), json.dumps(m, indent=2))
        else:
            os.symlink(src, osp.join(arms_dir, f'{arm}@seed{seed}'))
    command = 'python tools/join_studies.py ' + ' '.join(
        (sys.argv[1:] if argv is None else list(argv)))
    ratio_study.write_reports(out, splits, command)
    if rename:
        picks = ', '.join(f'seed {s}: {a}' for s, a in sorted(combined.items()))
        path = osp.join(out, 'results.md')
        with open(path) as f:
            md = f.read()
        atomic_write(path, md + f'\ncombined: the arm each seed picked on val ({picks}).\n')
    print(f'[join_studies] {len(links)} arms of {len(args.studies)} studies: '
          f'{osp.join(out, "results.md")}', flush=True)


if __name__ == '__main__':
    from mmselfdis.utils import run_cli
    run_cli(main)
