"""Picking and loading the fixed source images of the swap grid and retrieval figures."""
import copy
import os.path as osp
from typing import List, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config
from torch import Tensor

__all__ = ['SPLITS', 'build_split_dataset', 'spread_indices', 'pick_sources', 'load_samples']

SPLITS = ('test', 'test_shift', 'test_combo', 'val')


def build_split_dataset(cfg: Config, split: str = 'test'):
    """Build the dataset of ``split`` from a config's data loaders.

    ``test`` and ``val`` are the config's ``test_dataloader`` and
    ``val_dataloader`` datasets; ``test_shift`` is the test dataset with its
    ``ann_file`` pointed at ``annotations/test_shift.json`` (the SynthHands
    appearance-shift split); ``test_combo`` likewise at
    ``annotations/test_combo.json`` (the correlated benchmark's unseen
    pose–appearance combinations, ``make_synthhands.py --correlation``).

    Raises:
        ValueError: Unknown split, or ``test_shift``/``test_combo`` for data
        that has none.
    """
    from mmengine.registry import init_default_scope

    from mmpose.registry import DATASETS

    if split not in SPLITS:
        raise ValueError(f'--split must be one of {SPLITS}, got {split!r}')
    loader = cfg.get('val_dataloader' if split == 'val' else 'test_dataloader')
    if not loader or 'dataset' not in loader:
        raise ValueError(f'the config has no {"val" if split == "val" else "test"}_dataloader '
                         f'with a dataset to take the {split!r} images from')
    ds_cfg = copy.deepcopy(loader['dataset'])
    if split in ('test_shift', 'test_combo'):
        root = ds_cfg.get('data_root', '') or ''
        ann = f'annotations/{split}.json'
        what = ('the SynthHands appearance-shift split written by tools/make_synthhands.py'
                if split == 'test_shift' else 'the unseen combinations of the correlated '
                'benchmark, tools/make_synthhands.py --correlation RHO')
        if not osp.isfile(osp.join(root, ann)):
            raise ValueError(f'--split {split} needs {osp.join(root, ann)} ({what}); use '
                             f'--split test or val for other data')
        ds_cfg['ann_file'] = ann
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    return DATASETS.build(ds_cfg)


def spread_indices(total: int, count: int, offset: float = 0.0) -> List[int]:
    """``count`` indices spread evenly over ``range(total)`` (repeating when too few).

    ``offset`` (a share of one step) shifts them, so two calls with offsets 0
    and 0.5 pick interleaved, mostly different samples.
    """
    if total < 1:
        raise ValueError('the dataset is empty')
    if count < 1:
        raise ValueError(f'need at least one image, got {count}')
    step = total / count
    return [int((j + offset) * step) % total for j in range(count)]


def pick_sources(dataset, count: int, offset: float = 0.0) -> List[int]:
    """``count`` source images spread over the dataset, one per pose where possible.

    For data with pose groups (``SynthHandDataset.pose_groups``: several
    appearances per pose) the picks are spread over the poses, so no two
    sources share a pose; ``offset`` 0 takes each pose's first appearance,
    other offsets the last one, and also shifts the poses (pose and
    appearance sources then differ). Other datasets: :func:`spread_indices`.
    """
    groups = getattr(dataset, 'pose_groups', None)
    if callable(groups):
        ordered = [g for _, g in sorted(groups().items())]
        if len(ordered) >= 2:
            picks = spread_indices(len(ordered), count, offset)
            return [ordered[g][0 if offset == 0 else -1] for g in picks]
    return spread_indices(len(dataset), count, offset)


def _crop_keypoints(sample) -> dict:
    """The sample's keypoints in crop pixels (``{}`` when it has none or no crop)."""
    from mmselfdis.evaluation.metrics import to_crop
    meta, gt = sample.metainfo, sample.get('gt_instances')
    if gt is None or 'keypoints' not in gt or 'input_center' not in meta:
        return {}
    kpts = np.asarray(gt.keypoints, np.float64).reshape(-1, 2)
    crop = to_crop(kpts, np.asarray(meta['input_center'], np.float64).reshape(2),
                   np.asarray(meta['input_scale'], np.float64).reshape(2),
                   np.asarray(meta['input_size'], np.float64))
    vis = np.asarray(gt.keypoints_visible, np.float64).reshape(len(kpts), -1)[:, 0]
    return dict(keypoints=crop.astype(np.float32), keypoints_visible=vis.astype(np.float32))


def load_samples(dataset, indices: Sequence[int]) -> Tuple[Tensor, List[dict]]:
    """Run the dataset pipeline on ``indices``; return the crops and their metainfo.

    Returns:
        tuple: ``uint8`` crops ``(N, C, H, W)`` and one metainfo dict per crop
        (``index``, ``img_path``, ``pose_id`` when the data has it, and the
        crop's ``keypoints`` ``(K, 2)`` in crop pixels with their
        ``keypoints_visible`` ``(K,)`` when it is labelled).

    Raises:
        IndexError: An index is out of range.
    """
    imgs, infos = [], []
    for idx in indices:
        if not 0 <= idx < len(dataset):
            raise IndexError(f'sample {idx} is out of range: the dataset has {len(dataset)} '
                             f'samples (0..{len(dataset) - 1})')
        item = dataset[idx]
        imgs.append(torch.as_tensor(item['inputs']))
        meta = item['data_samples'].metainfo
        raw = meta.get('raw_ann_info') or {}
        info = dict(index=int(idx), img_path=meta.get('img_path'),
                    pose_id=raw.get('pose_id', meta.get('pose_id')))
        info.update(_crop_keypoints(item['data_samples']))
        infos.append(info)
    shapes = {tuple(t.shape) for t in imgs}
    if len(shapes) != 1:
        raise ValueError(f'the pipeline gives crops of different shapes {sorted(shapes)}; the '
                         f'figures need a fixed-size TopdownAffine')
    return torch.stack(imgs), infos
