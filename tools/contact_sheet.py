"""Contact sheet of a SynthHands split: pairs of one pose, then the same images with keypoints.

Each group shows the ``K`` appearances of one pose (captioned with their
background / lighting / texture families), then the same images with the
keypoints and skeleton drawn on them (filled dots: visible, rings: occluded;
one colour per finger). Example::

    python tools/contact_sheet.py data/synthhands --split train --poses 16 \\
        --out docs/images/synthhands_pairs.png
"""
import argparse
import json
import os.path as osp
import sys
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np

# BGR colour per finger (thumb, index, middle, ring, pinky); the wrist is white.
FINGER_COLOURS = ((0, 0, 255), (0, 200, 255), (0, 220, 0), (255, 160, 0), (255, 0, 200))
CAPTION_HEIGHT = 14
GAP = (6, 10)  # white space below and right of each group


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Contact sheet of SynthHands pairs.')
    parser.add_argument('data_root', help='dataset directory (written by make_synthhands.py)')
    parser.add_argument('--split', default='train', help='split to show (default train)')
    parser.add_argument('--poses', type=int, default=16, help='number of poses (default 16)')
    parser.add_argument('--per-row', type=int, default=2, help='poses per row (default 2)')
    parser.add_argument('--first', type=int, default=0,
                        help='skip this many poses of the split first (default 0)')
    parser.add_argument('--scale', type=int, default=3,
                        help='nearest-neighbour up-scaling of each crop (default 3)')
    parser.add_argument('--out', required=True, help='output PNG')
    return parser.parse_args(argv)


def _colour_of(k: int) -> tuple:
    return (255, 255, 255) if k == 0 else FINGER_COLOURS[(k - 1) // 4]


def draw_keypoints(img: np.ndarray, keypoints: Sequence[float], skeleton: Sequence[Sequence[int]],
                   scale: int) -> np.ndarray:
    """Draw COCO ``[x, y, v] * K`` keypoints (``v=2`` visible, else occluded) on an up-scaled copy.

    Args:
        img: BGR image already up-scaled by ``scale``.
        keypoints: Flat COCO keypoints in the original pixel coordinates.
        skeleton: 1-based keypoint index pairs.
        scale: The up-scaling factor of ``img``.
    """
    out = img.copy()
    kps = np.asarray(keypoints, float).reshape(-1, 3)
    # Pixel centres stay centred under nearest-neighbour up-scaling.
    pts = np.round(((kps[:, :2] + 0.5) * scale - 0.5) * 16).astype(int)
    for a, b in skeleton:
        cv2.line(out, tuple(pts[a - 1]), tuple(pts[b - 1]), _colour_of(b - 1), 1, cv2.LINE_AA, 4)
    radius = max(2, scale) * 16
    for k, (p, v) in enumerate(zip(pts, kps[:, 2])):
        cv2.circle(out, tuple(p), radius, _colour_of(k), -1 if v >= 2 else 1, cv2.LINE_AA, 4)
    return out


def _tile(img: np.ndarray, caption: str, scale: int) -> np.ndarray:
    """Up-scaled crop with a caption strip below."""
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    h, w = img.shape[:2]
    tile = np.full((h + CAPTION_HEIGHT, w, 3), 32, np.uint8)
    tile[:h] = img
    cv2.putText(tile, caption, (2, h + CAPTION_HEIGHT - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.3,
                (230, 230, 230), 1, cv2.LINE_AA)
    return tile


def _families(ann: Dict) -> str:
    app = ann['appearance']
    return '/'.join((app['background']['family'], app['lighting']['family'],
                     app['skin']['family']))


def make_sheet(data_root: str, split: str, poses: int, per_row: int, scale: int,
               first: int = 0) -> np.ndarray:
    """Build the contact sheet of ``poses`` poses of ``split``.

    Raises:
        FileNotFoundError: The split's annotation file is missing.
        ValueError: The split has no poses to show.
    """
    ann_file = osp.join(data_root, 'annotations', f'{split}.json')
    if not osp.isfile(ann_file):
        raise FileNotFoundError(f'no annotation file {ann_file}; render the dataset first '
                                f'(tools/make_synthhands.py) or check --split')
    with open(ann_file) as f:
        coco = json.load(f)
    images = {img['id']: img for img in coco['images']}
    skeleton = coco['categories'][0]['skeleton']
    groups: Dict[int, List[Dict]] = defaultdict(list)
    for ann in coco['annotations']:
        groups[ann['pose_id']].append(ann)
    pose_ids = sorted(groups)[first:first + poses]
    if not pose_ids:
        raise ValueError(f'{ann_file} has no poses to show (after skipping {first})')
    blocks = []
    for pose_id in pose_ids:
        anns = sorted(groups[pose_id], key=lambda a: a['appearance_index'])
        plain, marked = [], []
        for ann in anns:
            path = osp.join(data_root, images[ann['image_id']]['file_name'])
            img = cv2.imread(path, cv2.IMREAD_COLOR)
            if img is None:
                raise FileNotFoundError(f'cannot read {path}')
            big = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
            plain.append(_tile(big, _families(ann), scale))
            marked.append(
                _tile(draw_keypoints(big, ann['keypoints'], skeleton, scale),
                      f"#{pose_id} {ann['pose']['template']} {ann['pose']['side'][0].upper()}",
                      scale))
        block = np.concatenate([np.pad(t, ((2, 2), (2, 2), (0, 0))) for t in plain + marked],
                               axis=1)
        blocks.append(np.pad(block, ((0, GAP[0]), (0, GAP[1]), (0, 0)), constant_values=255))
    rows = []
    for start in range(0, len(blocks), per_row):
        row = blocks[start:start + per_row]
        while len(row) < per_row:
            row.append(np.full_like(blocks[0], 255))
        rows.append(np.concatenate(row, axis=1))
    return np.concatenate(rows, axis=0)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    try:
        sheet = make_sheet(args.data_root, args.split, args.poses, args.per_row, args.scale,
                           args.first)
    except (OSError, ValueError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    if not cv2.imwrite(args.out, sheet, [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        print(f'error: cannot write {args.out}; check that its directory exists and is writable',
              file=sys.stderr)
        return 2
    print(f'wrote {args.out} ({sheet.shape[1]}x{sheet.shape[0]})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
