"""Write a training set augmented with mixed images (paper §4.5), offline.

Crops every sample of CONFIG's training set with its pipeline up to
``TopdownAffine``, mixes pose crops with the appearance of other crops through
a trained generator (:func:`mmselfdis.apis.mix_images`, the function the
``MixReconstruct`` transform uses) and writes PNG crops plus a COCO-style
``annotations/train.json`` with keypoints in crop coordinates and
``bbox = [0, 0, w, h]`` (the crop). Any MMPose top-down config can train on it
(``SynthHandDataset``/``OneHand10KDataset``, ``GetBBoxCenterScale(padding=1.0)``
to keep the crop as it is), and so can tools outside MMPose.

Examples::

    python tools/synthesize.py configs/selfdis/t4-1_baseline_unet_synthhands-mono-64x64.py \\
        work_dirs/t4-3/epoch_4.pth data/synthhands-mixed --mixes-per-image 1 --seed 0
    python tools/synthesize.py CONFIG CKPT OUT_DIR --ratio 0.25 --force

``--ratio R``: mixed crops make up the share R of the written set (R = 1
writes one mix per training sample and no originals); ``--mixes-per-image N``
(default 1): the originals plus N mixes of each. The output is written into a
hidden temporary sibling directory (``.OUT_DIR.tmp-PID``) renamed to OUT_DIR
at the end, so a killed run never leaves anything at OUT_DIR; such siblings
left by killed runs (their PID no longer running) are removed by the next
run. An existing OUT_DIR is replaced only with ``--force``.
"""
import argparse
import copy
import datetime
import json
import os
import os.path as osp
import shutil
import sys
from typing import List, Optional, Tuple

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

import mmselfdis  # noqa: E402,F401  (registers components; safe checkpoint loading)
from mmselfdis.apis import RANDOM_TRANSFORMS, crop_pipeline  # noqa: E402
from mmselfdis.datasets.synthhands import (  # noqa: E402
    move_into_place, recover_interrupted_writes, remove_replaced, writer_sibling)
from mmselfdis.utils import ConfigError, check_custom_imports, run_cli  # noqa: E402

CHUNK = 64


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Write a training set augmented with mixed pose/appearance crops.')
    parser.add_argument('config', metavar='CONFIG',
                        help='training config whose train dataset and pipeline (up to '
                        'TopdownAffine) define the crops')
    parser.add_argument('checkpoint', metavar='CHECKPOINT',
                        help='generator checkpoint (a self-disentanglement model)')
    parser.add_argument('out_dir', metavar='OUT_DIR', help='dataset directory to create')
    amount = parser.add_mutually_exclusive_group()
    amount.add_argument('--ratio', type=float,
                        help='share of mixed crops in the written set, in (0, 1] (1: mixes only)')
    amount.add_argument('--mixes-per-image', type=int,
                        help='mixes written per training sample besides the original (default 1)')
    parser.add_argument('--generator-config', help='generator config (default: the one stored '
                        'in CHECKPOINT)')
    parser.add_argument('--policy', choices=('uniform', 'other_pose'), default='other_pose',
                        help='appearance sources: any other sample, or one of another pose '
                        '(default)')
    parser.add_argument('--seed', type=int, default=0, help='random seed (default 0)')
    parser.add_argument('--device', default='cpu', help='generator device (default cpu)')
    parser.add_argument('--keep-random', action='store_true',
                        help=f'keep random steps ({", ".join(RANDOM_TRANSFORMS[:3])}) in the '
                        'crop pipeline (default: crops are deterministic)')
    parser.add_argument('--force', action='store_true', help='replace an existing OUT_DIR')
    parser.add_argument('--quiet', action='store_true', help='no progress output')
    return parser.parse_args(argv)


def _inner_dataset_cfg(cfg: dict) -> dict:
    while 'pipeline' not in cfg and isinstance(cfg.get('dataset'), dict):
        cfg = cfg['dataset']
    return cfg


def build_crop_dataset(cfg, keep_random: bool = False):
    """CONFIG's training dataset with the crop pipeline."""
    from mmengine.registry import init_default_scope

    from mmpose.registry import DATASETS
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    ds_cfg = _inner_dataset_cfg(copy.deepcopy(cfg.train_dataloader.dataset.to_dict()))
    ds_cfg['pipeline'] = crop_pipeline(ds_cfg.get('pipeline', []), keep_random)
    return DATASETS.build(ds_cfg)


def _source_key(info: dict) -> Tuple[str, object]:
    if 'pose_id' in info:
        return ('pose', info['pose_id'])
    return ('img', info.get('img_id', info.get('img_path')))


def plan_mixes(dataset, ratio: Optional[float], mixes_per_image: Optional[int], policy: str,
               seed: int) -> Tuple[bool, List[Tuple[int, int]]]:
    """Whether originals are written, and the ``(pose_index, appearance_index)`` pairs."""
    n = len(dataset)
    if n < 2:
        raise ConfigError('the training set has one sample, so there is no other appearance to '
                          'mix with; use a larger dataset')
    rng = np.random.default_rng(seed)
    if ratio is not None:
        if not 0 < ratio <= 1:
            raise ConfigError(f'--ratio must be in (0, 1], got {ratio}')
        with_originals = ratio < 1
        m = n if ratio == 1 else int(round(ratio * n / (1 - ratio)))
        poses = rng.permutation(n)[:m] if m <= n else rng.integers(0, n, m)
    else:
        per = 1 if mixes_per_image is None else mixes_per_image
        if per < 1:
            raise ConfigError(f'--mixes-per-image must be >= 1, got {per}')
        with_originals = True
        poses = np.repeat(np.arange(n), per)
    keys = [_source_key(dataset.get_data_info(i)) for i in range(n)] \
        if policy == 'other_pose' else None
    pairs = []
    for p in poses.tolist():
        for _ in range(32):
            a = int(rng.integers(0, n))
            if a != p and (keys is None or keys[a] != keys[p]):
                break
        else:
            a = (p + 1) % n
        pairs.append((int(p), a))
    return with_originals, pairs


def _crop(dataset, idx: int) -> dict:
    results = dataset.prepare_data(idx)
    if results is None:
        raise RuntimeError(f'the crop pipeline dropped sample {idx}')
    results.pop('dataset', None)
    return results


def _ann_keypoints(results: dict, w: int, h: int) -> Tuple[List[float], int]:
    kpts = np.asarray(results['transformed_keypoints'], np.float32)[0]
    vis = np.asarray(results['keypoints_visible'], np.float32)
    vis = (vis[..., 0] if vis.ndim == 3 else vis)[0]
    out, count = [], 0
    for (x, y), v in zip(kpts.tolist(), vis.tolist()):
        inside = 0 <= x < w and 0 <= y < h
        if v > 0 and inside:
            out += [round(x, 3), round(y, 3), 2]
            count += 1
        else:
            out += [0.0, 0.0, 0]
    return out, count


def _source(results: dict) -> dict:
    return dict(img_id=results.get('img_id'), img_path=results.get('img_path'),
                id=results.get('id'))


def categories(metainfo: dict) -> List[dict]:
    """The COCO category of the dataset's keypoints."""
    k = int(metainfo['num_keypoints'])
    id2name = metainfo.get('keypoint_id2name') or {}
    names = [id2name.get(i, f'kpt{i}') for i in range(k)]
    skeleton = [[int(a) + 1, int(b) + 1] for a, b in metainfo.get('skeleton_links', [])]
    name = metainfo.get('dataset_name') or 'object'
    return [dict(supercategory=name, id=1, name=name, keypoints=names, skeleton=skeleton)]


class _Writer:
    def __init__(self, root: str) -> None:
        self.root = root
        self.images: List[dict] = []
        self.annotations: List[dict] = []

    def add(self, img: np.ndarray, kind: str, pose: dict, app: Optional[dict]) -> None:
        idx = len(self.images) + 1
        rel = f'images/{kind}/{idx // 1000:04d}/{idx:07d}.png'
        path = osp.join(self.root, rel)
        os.makedirs(osp.dirname(path), exist_ok=True)
        if not cv2.imwrite(path, img):
            raise OSError(f'could not write {path}')
        h, w = img.shape[:2]
        kpts, count = _ann_keypoints(pose, w, h)
        self.images.append(dict(id=idx, file_name=rel, height=h, width=w))
        ann = dict(id=idx, image_id=idx, category_id=1, bbox=[0.0, 0.0, float(w), float(h)],
                   area=float(w * h), iscrowd=0, num_keypoints=count, keypoints=kpts,
                   pose_id=int(pose.get('pose_id', pose.get('img_id', idx))),
                   appearance_id=int((app or pose).get('appearance_id',
                                                       (app or pose).get('img_id', idx))),
                   mixed=app is not None, pose_source=_source(pose),
                   appearance_source=_source(app if app is not None else pose))
        self.annotations.append(ann)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    out = osp.abspath(args.out_dir.rstrip('/'))
    # hidden .OUT_DIR.tmp-PID / .OUT_DIR.old-PID directories of earlier runs that were killed;
    # before the existence check, so that a restored OUT_DIR is not replaced without --force
    for line in recover_interrupted_writes(out):
        print(line, flush=True)
    if osp.exists(out) and not args.force:
        raise ConfigError(f'{out} exists; pass --force to replace it (nothing was written)')
    if not osp.isfile(args.config):
        raise FileNotFoundError(2, 'No such file or directory', args.config)
    from mmengine.config import Config

    from mmselfdis.apis import generator_info, load_generator, mix_images
    cfg = Config.fromfile(args.config)
    check_custom_imports(cfg, args.config)
    generator = load_generator(args.checkpoint, args.generator_config, args.device)
    info = generator_info(generator)
    dataset = build_crop_dataset(cfg, args.keep_random)
    n_kpts = dataset.metainfo.get('num_keypoints')
    if info.num_keypoints is not None and n_kpts is not None and n_kpts != info.num_keypoints:
        raise ConfigError(f'the generator was trained with {info.num_keypoints} keypoints but '
                          f'the training set of {args.config} has {n_kpts}: use a generator '
                          f'trained on this keypoint layout')
    with_originals, pairs = plan_mixes(dataset, args.ratio, args.mixes_per_image, args.policy,
                                       args.seed)

    os.makedirs(osp.dirname(out) or '.', exist_ok=True)
    tmp = writer_sibling(out, 'tmp')
    if osp.exists(tmp):
        shutil.rmtree(tmp)
    os.makedirs(osp.join(tmp, 'annotations'))
    try:
        writer = _Writer(tmp)
        if with_originals:
            for i in range(len(dataset)):
                r = _crop(dataset, i)
                writer.add(r['img'], 'orig', r, None)
        for start in range(0, len(pairs), CHUNK):
            chunk = pairs[start:start + CHUNK]
            poses = [_crop(dataset, p) for p, _ in chunk]
            apps = [_crop(dataset, a) for _, a in chunk]
            mixed = mix_images(
                generator, [r['img'] for r in poses], [r['img'] for r in apps],
                keypoints=np.stack([np.asarray(r['transformed_keypoints'])[0] for r in poses]),
                keypoints_visible=np.stack([np.asarray(r['keypoints_visible'])[0]
                                            for r in poses]))
            for img, pose, app in zip(mixed, poses, apps):
                writer.add(img, 'mix', pose, app)
            if not args.quiet:
                print(f'\rmixed {min(start + CHUNK, len(pairs))}/{len(pairs)}', end='',
                      file=sys.stderr, flush=True)
        if not args.quiet and pairs:
            print(file=sys.stderr)
        coco = dict(
            info=dict(description='mmselfdis tools/synthesize.py: crops with mixed '
                      'pose/appearance (keypoints in crop coordinates, bbox = the crop)',
                      date_created=datetime.datetime.now(datetime.timezone.utc).isoformat(),
                      config=osp.abspath(args.config), checkpoint=osp.abspath(args.checkpoint),
                      seed=args.seed, policy=args.policy, ratio=args.ratio,
                      mixes_per_image=args.mixes_per_image,
                      num_original=len(dataset) if with_originals else 0,
                      num_mixed=len(pairs)),
            licenses=[], images=writer.images, annotations=writer.annotations,
            categories=categories(dataset.metainfo))
        with open(osp.join(tmp, 'annotations', 'train.json'), 'w') as f:
            json.dump(coco, f)
        old = move_into_place(tmp, out)
        if old is not None:  # the replaced OUT_DIR (--force)
            remove_replaced(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print(f'wrote {len(writer.images)} crops ({coco["info"]["num_original"]} original, '
          f'{len(pairs)} mixed) to {out}; train on it with data_root={out}/ '
          f"ann_file='annotations/train.json' data_prefix=dict(img='')")


if __name__ == '__main__':
    run_cli(main)
