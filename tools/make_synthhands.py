"""Render a SynthHands dataset: paired monochrome hand crops with exact keypoints.

Example::

    python tools/make_synthhands.py data/synthhands --num-poses 30000 --appearances 2 \\
        --seed 0 --workers 2

writes ``data/synthhands/images/<split>/...png`` and
``data/synthhands/annotations/{train,val,test,test_shift}.json`` (COCO
style, readable by ``SynthHandDataset`` and any MMPose top-down pipeline).

A correlated set (pose families tied to appearance groups, plus a
``test_combo`` split of the combinations training lacks) and a low-data set::

    python tools/make_synthhands.py data/synthhands-rho1 --num-poses 6000 --correlation 1.0
    python tools/make_synthhands.py data/synthhands-low --num-poses 6000 --correlation 0.9 \
        --train-poses 300 --appearances 2

Everything goes into a hidden ``.synthhands.tmp-PID`` sibling renamed at the
end; such siblings left by killed runs (their PID no longer running) are
removed at the start. See docs/synthhands.md.
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional

# Rendering is many small numpy operations: threaded BLAS only adds overhead.
for _var in ('OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
    os.environ.setdefault(_var, '1')

# The renderer is a top-level package of its own (numpy/OpenCV only): importing it loads
# neither torch nor MMPose, here or in the worker processes.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import synthhands  # noqa: E402
from synthhands.correlation import COMBO_POSES, POSE_FAMILIES  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Render paired hand crops (K appearances per pose) with exact keypoints.')
    parser.add_argument('out_dir', metavar='OUT_DIR', help='dataset directory to create')
    parser.add_argument('--num-poses', type=int, required=True,
                        help='number of poses over all splits')
    parser.add_argument('--appearances', type=int, default=2,
                        help='appearances rendered per pose (K, default 2)')
    parser.add_argument('--seed', type=int, default=0, help='random seed (default 0)')
    parser.add_argument('--size', type=int, default=64, help='image side in pixels (default 64)')
    parser.add_argument('--rgb', action='store_true', help='colour images instead of monochrome')
    parser.add_argument('--workers', type=int, default=os.cpu_count() or 1,
                        help='worker processes (default: all CPUs)')
    parser.add_argument('--force', action='store_true', help='replace an existing OUT_DIR')
    parser.add_argument('--val-frac', type=float, default=0.1,
                        help='fraction of poses for val (default 0.1)')
    parser.add_argument('--test-frac', type=float, default=0.1,
                        help='fraction of poses for test (default 0.1)')
    parser.add_argument('--shift-frac', type=float, default=0.1,
                        help='fraction of poses for test_shift, rendered only with held-out '
                        'appearance families (default 0.1)')
    parser.add_argument('--correlation', type=float, metavar='RHO',
                        help='tie every pose family (template) to an appearance group: in '
                        'train/val/test an image takes its own group\'s appearance with '
                        'probability RHO (1: always; 1/G: no tie), and a test_combo split holds '
                        'seen pose families with the other groups (default: no tie, no '
                        'test_combo)')
    parser.add_argument('--appearance-groups', type=int, metavar='G',
                        help='appearance groups of --correlation (2 or 3; default 3, with '
                        '--pose-family side 2)')
    parser.add_argument('--pose-family', choices=POSE_FAMILIES, default='template',
                        help='what --correlation ties to the appearance groups: the pose '
                        'template (default; 21 families) or the hand\'s side (left/right, 2 '
                        'groups: a left hand from the palm and a right hand from the back share '
                        'their outline, so the tie can stand in for the thumb\'s side)')
    parser.add_argument('--combo-poses', choices=COMBO_POSES, default='own',
                        help='poses of test_combo: a range of its own (default) or the test '
                        'split\'s poses in another group\'s appearance (test_combo - test is '
                        'then the combination alone, image for image)')
    parser.add_argument('--hard-group', action='store_true',
                        help='with --correlation: appearance group 0 is seen through a poor '
                        'camera (blur 2.5 px, noise 0.08): its hands keep their outline and lose '
                        'their fingers, which a pose model can then take from the pose families '
                        'the group shows in training (a tie that test_combo punishes)')
    parser.add_argument('--combo-frac', type=float,
                        help='fraction of poses for test_combo (default 0.1 with --correlation)')
    parser.add_argument('--train-poses', type=int, metavar='N',
                        help='low data: keep only the first N train poses (the test splits stay '
                        'those of the full set; combine with --appearances 1 or 2 for few '
                        'appearances per pose)')
    parser.add_argument('--png-compression', type=int, default=0,
                        help='PNG zlib level 0-9 (default 0: uncompressed, fastest; 1 makes '
                        'files about 25%% smaller at a lower throughput)')
    parser.add_argument('--quiet', action='store_true', help='no progress bar')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    try:
        # hidden .OUT_DIR.tmp-PID / .OUT_DIR.old-PID directories of earlier runs that were killed
        for line in synthhands.recover_interrupted_writes(args.out_dir):
            print(line, flush=True)
        stats = synthhands.write_dataset(
            args.out_dir,
            num_poses=args.num_poses,
            appearances=args.appearances,
            seed=args.seed,
            size=args.size,
            rgb=args.rgb,
            workers=args.workers,
            force=args.force,
            val_frac=args.val_frac,
            test_frac=args.test_frac,
            shift_frac=args.shift_frac,
            png_compression=args.png_compression,
            progress=not args.quiet,
            correlation=args.correlation,
            appearance_groups=args.appearance_groups,
            pose_family=args.pose_family,
            combo_poses=args.combo_poses,
            hard_group=args.hard_group,
            combo_frac=args.combo_frac,
            train_poses=args.train_poses)
    except (ValueError, OSError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    if args.appearances < 2:
        print('warning: --appearances 1 renders no pairs (use 2 or more for paired data)',
              file=sys.stderr)
    for split, count in stats['splits'].items():
        if count == 0:
            print(f'warning: split {split} is empty (its fraction is 0)', file=sys.stderr)
    seconds = stats['seconds']
    splits = ' / '.join(f'{split} {count}' for split, count in stats['splits'].items())
    print(f"wrote {stats['images']} images ({stats['poses']} poses x {args.appearances} "
          f"appearances; poses per split: {splits}) to {osp.abspath(args.out_dir)} in "
          f"{seconds:.1f} s with {args.workers} worker(s): "
          f"{stats['images'] / seconds:.0f} paired samples/s "
          f"({stats['poses'] / seconds:.0f} poses/s)")
    return 0


if __name__ == '__main__':
    sys.exit(main())
