"""An independent judge of mixes: a plain pose estimator that never saw a mix.

A self-disentanglement model that scores its own mixes with its own pose
branch grades itself: the cycle-pose loss trained that branch to find x's pose
in exactly those mixes, and a generator can hide what its encoder reads in a
pattern nobody else sees (Chu et al. 2017, "CycleGAN, a master of
steganography"). The judge is a plain MMPose ``TopdownPoseEstimator`` with the
same backbone and heatmap head as the generator's pose path but its own fresh
weights, trained only on the **real** training images of the same split (the
test pipeline's crops plus heatmap targets: no mixing transform, no
reconstruction, no generator).

It is trained once by ``tools/train_judge.py`` (or by the tools that score
mixes, through :func:`ensure_judge`) and cached next to the data::

    <data_root>/judge/config.py    the judge's config (tools/train.py can rerun it)
    <data_root>/judge/judge.pth    its weights
    <data_root>/judge/judge.json   what it is: source config, budget, seed, data, wall time
    <data_root>/judge/work/        the training run (log, checkpoints)

:class:`~mmselfdis.evaluation.DisentanglementMetric` finds it there by
itself (``judge='auto'``), or takes ``judge=dict(config=..., checkpoint=...)``.
"""
import copy
import datetime
import json
import math
import os
import os.path as osp
import shutil
import time
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData
from torch import Tensor, nn

from mmpose.structures import PoseDataSample
from mmselfdis.utils.study import (atomic_write, inner_dataset, sha16, tool_threads,
                                    train_run)

__all__ = ['JUDGE_DIR', 'JUDGE_EPOCHS', 'judge_config', 'judge_dir', 'find_judge',
           'ensure_judge', 'load_judge', 'set_judge', 'predict_crop_keypoints', 'JudgeError']

JUDGE_DIR = 'judge'
"""Name of the judge's folder inside a data root."""

JUDGE_EPOCHS = 20
"""Default training budget of a judge (epochs over the training split)."""

# hooks of a generator config that the judge keeps: they change its speed, not what it learns
_SPEED_HOOKS = ('ChannelsLastHook', )

# TopdownPoseEstimator's arguments that a generator config's model may carry
_ESTIMATOR_KEYS = ('data_preprocessor', 'backbone', 'neck', 'head', 'train_cfg', 'test_cfg',
                   'metainfo')


class JudgeError(ValueError):
    """A judge cannot be built, found or reused as asked; the message names the fix."""


def judge_config(source: Union[str, Config], epochs: int = JUDGE_EPOCHS, seed: int = 0,
                 data_root: Optional[str] = None) -> Config:
    """The config of a judge for the generator config ``source``.

    The judge keeps ``source``'s backbone, neck, heatmap head, test settings
    and data preprocessor (without ``batch_augments``: no mixing), as a plain
    ``TopdownPoseEstimator``. It trains on ``source``'s training split with
    the **test** pipeline's crops plus ``GenerateTarget`` (real images only,
    whatever mixing or jitter the generator's training pipeline has), with
    ``source``'s optimiser, and is validated once, after the last epoch. Of
    ``source``'s custom hooks it keeps only ``ChannelsLastHook`` (speed).

    Args:
        source: A generator (or plain pose estimator) config, or its path.
        epochs: Training epochs.
        seed: ``randomness.seed``.
        data_root: Point the train/val/test datasets at this root.

    Returns:
        Config: A config that ``tools/train.py`` trains as it is.

    Raises:
        JudgeError: ``source`` has no top-down heatmap model or no data loaders.
    """
    src = Config.fromfile(source) if isinstance(source, str) else copy.deepcopy(source)
    if epochs < 1:
        raise JudgeError(f'a judge needs at least 1 training epoch, got {epochs}')
    model = src.get('model')
    if not model or 'backbone' not in model or 'head' not in model:
        raise JudgeError('the config has no model with a backbone and a head to copy the '
                         'judge\'s architecture from; pass a self-disentanglement or top-down '
                         'pose estimator config')
    for loader in ('train_dataloader', 'test_dataloader'):
        if not src.get(loader) or 'dataset' not in src[loader]:
            raise JudgeError(f'the config has no {loader} with a dataset; the judge trains on '
                             f'the training split and crops it like the test split')
    judge_model = {k: copy.deepcopy(model[k]) for k in _ESTIMATOR_KEYS if k in model}
    judge_model['type'] = 'TopdownPoseEstimator'
    preproc = judge_model.get('data_preprocessor')
    if preproc is not None:
        preproc.pop('batch_augments', None)
    codec = judge_model['head'].get('decoder')
    if codec is None:
        raise JudgeError('the config\'s head has no decoder (codec) to make heatmap targets')

    test_steps = [dict(s) for s in inner_dataset(src.test_dataloader.dataset)['pipeline']]
    pack = [s for s in test_steps if s.get('type') == 'PackPoseInputs']
    steps = [s for s in test_steps if s.get('type') != 'PackPoseInputs']
    pipeline = steps + [dict(type='GenerateTarget', encoder=copy.deepcopy(codec)),
                        pack[0] if pack else dict(type='PackPoseInputs')]

    cfg = copy.deepcopy(src)
    cfg.model = judge_model
    train_ds = copy.deepcopy(inner_dataset(src.train_dataloader.dataset))
    train_ds['pipeline'] = pipeline
    train_ds.pop('test_mode', None)
    cfg.train_dataloader = dict(
        batch_size=src.train_dataloader.get('batch_size', 32),
        num_workers=src.train_dataloader.get('num_workers', 0),
        persistent_workers=bool(src.train_dataloader.get('num_workers', 0)) and
        src.train_dataloader.get('persistent_workers', False),
        sampler=dict(type='DefaultSampler', shuffle=True),
        dataset=train_ds)
    if src.train_dataloader.get('collate_fn') is not None:
        # the source's batching (shared_pseudo_collate: one shared-memory block per field
        # instead of per sample; without it the judge waited ~0.1 s a step for its data)
        cfg.train_dataloader['collate_fn'] = copy.deepcopy(src.train_dataloader.collate_fn)
    metrics = [dict(type='EPE'), dict(type='PCKAccuracy', thr=0.2), dict(type='AUC')]
    cfg.val_evaluator = metrics
    cfg.test_evaluator = copy.deepcopy(metrics)
    if not cfg.get('val_dataloader'):
        cfg.val_dataloader = copy.deepcopy(cfg.test_dataloader)
    cfg.val_cfg = cfg.get('val_cfg') or dict()
    cfg.test_cfg = cfg.get('test_cfg') or dict()
    cfg.train_cfg = dict(by_epoch=True, max_epochs=int(epochs), val_interval=int(epochs))
    # no hook of the generator's (mixing, swap grids, metrics) but its memory format: the
    # same numbers up to the kernels' summation order, a faster step on CPUs
    cfg.custom_hooks = [copy.deepcopy(h) for h in src.get('custom_hooks') or []
                        if h.get('type') in _SPEED_HOOKS]
    cfg.default_hooks = cfg.get('default_hooks') or dict()
    cfg.default_hooks['checkpoint'] = dict(type='CheckpointHook', interval=int(epochs),
                                           max_keep_ckpts=1, save_last=True, save_best=None)
    cfg.randomness = dict(seed=int(seed))
    cfg.load_from = None
    cfg.resume = False
    if data_root is not None:
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            inner_dataset(cfg[loader]['dataset'])['data_root'] = data_root.rstrip('/') + '/'
    return cfg


def judge_dir(data_root: str) -> str:
    """Where the judge of the data under ``data_root`` is cached."""
    return osp.join(data_root, JUDGE_DIR)


def find_judge(data_root: Optional[str]) -> Optional[Tuple[str, str]]:
    """The cached judge ``(config, checkpoint)`` of ``data_root``, or ``None``.

    A judge counts only when its ``judge.json`` (written last) is there.
    """
    if not data_root:
        return None
    folder = judge_dir(data_root)
    files = tuple(osp.join(folder, f) for f in ('config.py', 'judge.pth', 'judge.json'))
    return files[:2] if all(osp.isfile(f) for f in files) else None


def _model_sha(cfg: Config) -> str:
    return sha16(json.dumps(cfg.model.to_dict(), sort_keys=True, default=str))


def _count_samples(cfg: Config) -> Optional[int]:
    ds = inner_dataset(cfg.train_dataloader.dataset)
    path = osp.join(ds.get('data_root', '') or '', ds.get('ann_file', ''))
    try:
        with open(path) as f:
            return len(json.load(f).get('annotations', []))
    except (OSError, ValueError):
        return None


def ensure_judge(source: Union[str, Config], data_root: str, epochs: int = JUDGE_EPOCHS,
                 seed: int = 0, log: Optional[str] = None,
                 echo: Optional[str] = None, threads: Optional[int] = None) -> Tuple[str, str]:
    """Train the judge of ``data_root`` once (``tools/train.py``); reuse it afterwards.

    A cached judge (:func:`find_judge`) is reused when its ``judge.json``
    records the same architecture, epochs and seed; a judge trained with
    other settings is never overwritten (the error says what to do). An
    interrupted training resumes from its last checkpoint.

    Args:
        source: The generator config whose pose path the judge copies.
        data_root: The data (its training split trains the judge; the
            judge is cached in ``<data_root>/judge/``).
        epochs: Training epochs.
        seed: Training seed.
        log: Training log (default ``<data_root>/judge/train.log``).
        echo: Print the training log's lines that contain this text.
        threads: The training's thread count (default: this process's
            ``OMP_NUM_THREADS``, else every core).

    Returns:
        tuple: ``(config path, checkpoint path)`` of the judge.

    Raises:
        JudgeError: A judge with other settings is cached there.
    """
    cfg = judge_config(source, epochs, seed, data_root)
    folder = judge_dir(data_root)
    record_path = osp.join(folder, 'judge.json')
    want = dict(model_sha=_model_sha(cfg), epochs=int(epochs), seed=int(seed))
    found = find_judge(data_root)
    if found is not None:
        with open(record_path) as f:
            have = json.load(f)
        diff = {k: (have.get(k), v) for k, v in want.items() if have.get(k) != v}
        if diff:
            raise JudgeError(
                f'{folder} holds a judge trained with other settings '
                f'({", ".join(f"{k}: {a!r} there, {b!r} asked" for k, (a, b) in diff.items())}'
                f'); it is not overwritten. Pass it with --judge {found[0]} {found[1]}, or '
                f'move that folder away to train a new one.')
        return found
    os.makedirs(folder, exist_ok=True)
    cfg_path = osp.join(folder, 'config.py')
    cfg.dump(cfg_path)
    work = osp.join(folder, 'work')
    t0 = time.time()
    train_run(cfg_path, work, seed, log or osp.join(folder, 'train.log'), echo=echo,
              threads=threads)
    wall = time.time() - t0
    ckpt = osp.join(folder, 'judge.pth')
    tmp = f'{ckpt}.tmp-{os.getpid()}'
    shutil.copyfile(osp.join(work, f'epoch_{int(epochs)}.pth'), tmp)
    os.replace(tmp, ckpt)
    num = _count_samples(cfg)
    batch = int(cfg.train_dataloader.batch_size)
    record = dict(
        **want,
        what='independent judge: TopdownPoseEstimator trained on the real training images '
        'only (never a mix or a reconstruction)',
        source_config=source if isinstance(source, str) else getattr(source, 'filename', None),
        architecture=dict(backbone=cfg.model.backbone.get('type'),
                          head=cfg.model.head.get('type')),
        data_root=osp.abspath(data_root),
        train_ann_file=inner_dataset(cfg.train_dataloader.dataset).get('ann_file'),
        train_samples=num,
        batch_size=batch,
        iterations=None if num is None else int(epochs) * math.ceil(num / batch),
        train_wall_s=round(wall, 1),
        train_threads=int(threads) if threads else tool_threads(),
        created=datetime.datetime.now(datetime.timezone.utc).isoformat())
    atomic_write(record_path, json.dumps(record, indent=2))
    return cfg_path, ckpt


def load_judge(config: str, checkpoint: str,
               device: Union[str, torch.device] = 'cpu') -> nn.Module:
    """A frozen judge: ``eval()`` mode, no gradients.

    Raises:
        JudgeError: The config is not a plain pose estimator (a judge must
            not be a generator).
    """
    from mmselfdis.utils import load_model

    cfg = Config.fromfile(config)
    if 'selfdis' in cfg.model or cfg.model.get('type') != 'TopdownPoseEstimator':
        raise JudgeError(
            f'{config!r} is a {cfg.model.get("type")} config; a judge is a plain '
            f'TopdownPoseEstimator trained on real images only (tools/train_judge.py makes one). '
            f'Judging mixes with a generator\'s own pose branch is self-grading.')
    model = load_model(config, checkpoint, device=device)
    model.eval().requires_grad_(False)
    return model


def set_judge(cfg: Config, config: str, checkpoint: str) -> int:
    """Give every ``DisentanglementMetric`` of ``cfg``'s val/test evaluators this judge.

    Returns:
        int: How many metrics got it.
    """
    count = 0
    for key in ('val_evaluator', 'test_evaluator'):
        evaluators = cfg.get(key)
        if evaluators is None:
            continue
        for metric in evaluators if isinstance(evaluators, (list, tuple)) else [evaluators]:
            if isinstance(metric, dict) and metric.get('type') == 'DisentanglementMetric':
                metric['judge'] = dict(config=config, checkpoint=checkpoint)
                count += 1
    return count


def predict_crop_keypoints(estimator: nn.Module, imgs: Tensor,
                           flip_indices: Optional[Sequence[Optional[list]]] = None
                           ) -> np.ndarray:
    """Keypoints that a pose estimator finds on crops, in crop pixels.

    The crops go through the estimator's own data preprocessor and
    ``predict`` (flip test and all, as its config says) with metainfo that
    maps each crop onto itself, so the back-projection is the identity.

    Args:
        estimator: A top-down pose estimator (a judge or a generator's pose
            path).
        imgs: Crops in image space (``0..255``, as the pipeline packs them).
        flip_indices: Per crop, the dataset's flip indices (needed only with
            flip test).

    Returns:
        The keypoints.

    Note:
        - imgs: ``(N, C, H, W)``
        - return: ``(N, K, 2)``
    """
    h, w = imgs.shape[-2:]
    flips = list(flip_indices) if flip_indices is not None else [None] * len(imgs)
    samples = []
    for flip in flips:
        s = PoseDataSample()
        s.set_metainfo(dict(input_size=(w, h), input_center=np.array([w / 2, h / 2]),
                            input_scale=np.array([w, h], np.float32), flip_indices=flip))
        s.gt_instances = InstanceData(bboxes=np.array([[0, 0, w, h]], np.float32),
                                      bbox_scores=np.ones(1, np.float32))
        samples.append(s)
    device = next(estimator.parameters()).device
    data = estimator.data_preprocessor(dict(inputs=imgs.to(device).float(), data_samples=samples),
                                       False)
    preds = estimator.predict(data['inputs'], data['data_samples'])
    return np.stack([np.asarray(s.pred_instances.keypoints, np.float64)[0, :, :2]
                     for s in preds])
