"""Tiny generators, a tiny SynthHands set and pipelines for the augmentation tests."""
import copy
import os.path as osp
from typing import List, Optional

import torch
from mmengine.config import Config

from tests.conftest import REPO, load_tool, run_tool
from tests.test_models._tiny import model_cfg

STUDY_CFG = osp.join(REPO, 'configs', 'augment', 'ratio-study_unet_synthhands-mono-64x64.py')

__all__ = ['LABELS_SELFDIS', 'save_tiny_generator', 'make_tiny_synthhands', 'crop_steps', 'MIX_META',
           'synth_dataset', 'load_tool', 'heatmap_codec']

MIX_META = ('id', 'img_id', 'img_path', 'input_size', 'input_center', 'input_scale',
            'flip_indices', 'pose_id', 'mixed', 'mix_source')


LABELS_SELFDIS = dict(pose_maps_from='labels',
                      decoder=dict(type='PoseModulatedDecoder', base_channels=4,
                                   hidden_channels=4, pose_encoding='limbs'))
"""A branch that draws the pose image's labelled keypoints (``pose_maps_from='labels'``)."""


def save_tiny_generator(path: str, channels: int = 1, num_keypoints: int = 21,
                        with_cfg: bool = True, seed: int = 0,
                        selfdis: Optional[dict] = None) -> str:
    """A tiny SelfDisPoseEstimator saved as an MMEngine-style checkpoint.

    ``{'state_dict': ..., 'meta': {'cfg': cfg.pretty_text}}`` (64x64 crops).
    """
    import mmselfdis  # noqa: F401
    from mmengine.registry import init_default_scope

    from mmpose.registry import MODELS
    cfg_model = model_cfg('unet', in_channels=channels, selfdis=selfdis)
    cfg_model['head']['out_channels'] = num_keypoints
    cfg = Config(dict(model=cfg_model,
                      custom_imports=dict(imports=['mmselfdis'], allow_failed_imports=False)))
    init_default_scope('mmpose')
    torch.manual_seed(seed)
    model = MODELS.build(copy.deepcopy(cfg.model.to_dict()))
    # a non-trivial decoder output: the untrained image decoder is nearly constant
    with torch.no_grad():
        for p in model.selfdis.image_decoder.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    ckpt = {'state_dict': model.state_dict()}
    if with_cfg:
        ckpt['meta'] = {'cfg': cfg.pretty_text}
    torch.save(ckpt, path)
    return path


def make_tiny_synthhands(out_dir: str, num_poses: int = 24) -> str:
    """Render a tiny SynthHands set (``num_poses`` x 2 appearances)."""
    if not osp.isfile(osp.join(out_dir, 'annotations', 'train.json')):
        run_tool('tools/make_synthhands.py', out_dir, '--num-poses', num_poses, '--appearances',
                 2, '--seed', 0, '--workers', 1, '--quiet')
    return out_dir


def crop_steps(size: int = 64, mono: bool = True) -> List[dict]:
    """Pipeline up to TopdownAffine."""
    steps = [dict(type='LoadImage')]
    if mono:
        steps.append(dict(type='ToMonochrome'))
    return steps + [dict(type='GetBBoxCenterScale'),
                    dict(type='TopdownAffine', input_size=(size, size))]


def synth_dataset(root: str, pipeline: list, ann: str = 'train.json',
                  dataset_type: str = 'SynthHandDataset', test_mode: bool = False,
                  ann_file: Optional[str] = None):
    from mmengine.registry import init_default_scope

    from mmpose.registry import DATASETS
    init_default_scope('mmpose')
    return DATASETS.build(dict(type=dataset_type, data_root=root,
                               ann_file=ann_file or f'annotations/{ann}', data_prefix=dict(img=''),
                               pipeline=pipeline, test_mode=test_mode))


def tool_path(name: str) -> str:
    return osp.join(REPO, 'tools', name)


def heatmap_codec(size: int = 64, heatmap: int = 16) -> dict:
    return dict(type='MSRAHeatmap', input_size=(size, size), heatmap_size=(heatmap, heatmap),
                sigma=1)


