"""Tiny models and real/synthetic data loaders for the evaluation tests."""
import copy
import os.path as osp
import subprocess
import sys
from typing import List, Optional, Tuple

import torch
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

from tests.conftest import REPO, SAMPLES
from tests.test_models._tiny import build_model, model_cfg

__all__ = ['VAL_PIPELINE', 'tiny_model', 'make_synthhands', 'synth_dataset', 'onehand_dataset',
           'batches', 'run_metric']

VAL_PIPELINE = [
    dict(type='LoadImage'),
    dict(type='ToMonochrome'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=(64, 64)),
    dict(type='PackPoseInputs'),
]


def tiny_model(family: str = 'unet', seed: int = 0):
    """A tiny monochrome 64x64 ``SelfDisPoseEstimator`` in eval mode."""
    model = build_model(model_cfg(family, in_channels=1), seed=seed)
    return model.eval()


def make_synthhands(root: str, num_poses: int = 40, appearances: int = 2, seed: int = 0) -> str:
    """Render a tiny SynthHands set with tools/make_synthhands.py; return its root."""
    subprocess.run([sys.executable, osp.join(REPO, 'tools', 'make_synthhands.py'), root,
                    '--num-poses', str(num_poses), '--appearances', str(appearances), '--seed',
                    str(seed), '--workers', '1', '--quiet'], check=True, cwd=REPO)
    return root


def _build(cfg: dict):
    import mmselfdis  # noqa: F401
    from mmpose.registry import DATASETS
    init_default_scope('mmpose')
    return DATASETS.build(copy.deepcopy(cfg))


def synth_dataset(root: str, split: str = 'train'):
    return _build(dict(type='SynthHandDataset', data_root=root, data_mode='topdown',
                       ann_file=f'annotations/{split}.json', data_prefix=dict(img=''),
                       test_mode=True, pipeline=VAL_PIPELINE))


def onehand_dataset():
    return _build(dict(type='OneHand10KDataset', data_root=osp.join(SAMPLES, 'onehand10k'),
                       data_mode='topdown', ann_file='test_onehand10k.json',
                       data_prefix=dict(img=''), test_mode=True, pipeline=VAL_PIPELINE))


def batches(dataset, batch_size: int = 8, limit: Optional[int] = None) -> List[dict]:
    n = len(dataset) if limit is None else min(limit, len(dataset))
    return [pseudo_collate([dataset[i] for i in range(s, min(n, s + batch_size))])
            for s in range(0, n, batch_size)]


def run_metric(model, metric_list, data_batches) -> Tuple[dict, list]:
    """Drive an MMEngine Evaluator like ValLoop/TestLoop do; return metrics and outputs."""
    from mmengine.evaluator import Evaluator
    evaluator = Evaluator(metric_list)
    evaluator.dataset_meta = dict(num_keypoints=21)
    size = 0
    outputs = []
    with torch.no_grad():
        for batch in data_batches:
            out = model.test_step(batch)
            evaluator.process(data_samples=out, data_batch=batch)
            size += len(out)
            outputs += out
    return evaluator.evaluate(size), outputs
