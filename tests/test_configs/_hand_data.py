"""Tiny data and option sets for the configs/hands tests.

Real samples: the OneHand10K and FreiHAND files in shared/data/mmpose-hand-samples. RHD2D,
CMU Panoptic and COCO-WholeBody-hand files are written here in their own formats (the fields
MMPose's dataset classes read) around the real sample images.
"""
import copy
import glob
import json
import os.path as osp

import torch
from mmengine.config import Config

from tests.conftest import REPO, SAMPLES

HANDS = osp.join(REPO, 'configs', 'hands')
ONEHAND10K = osp.join(SAMPLES, 'onehand10k')
FREIHAND = osp.join(SAMPLES, 'freihand')
ONEHAND10K_JSON = osp.join(ONEHAND10K, 'test_onehand10k.json')
FREIHAND_JSON = osp.join(FREIHAND, 'test_freihand.json')

# every leaf config (the _base_ folders hold shared pieces only)
CONFIGS = sorted(p for p in glob.glob(osp.join(HANDS, '*', '*.py')) if '_base_' not in p)
FOLDERS = ('onehand10k', 'freihand2d', 'rhd2d', 'panoptic_hand2d', 'coco_wholebody_hand',
           'combined')

# RHD lists each finger tip-first; index i of the OneHand10K order is RHD_FROM_OH[i] in RHD.
RHD_FROM_OH = [0] + [4 * f + 4 - j for f in range(5) for j in range(4)]

TINY_CODEC = dict(type='MSRAHeatmap', input_size=(64, 64), heatmap_size=(16, 16), sigma=2)


def load_json(path):
    with open(path) as f:
        return json.load(f)


def write_json(obj, path):
    with open(path, 'w') as f:
        json.dump(obj, f)
    return str(path)


def to_rhd_order(keypoints):
    """A flat ``[x, y, v] * 21`` list in the OneHand10K order -> the RHD order."""
    triples = [keypoints[3 * i:3 * i + 3] for i in range(21)]
    rhd = [None] * 21
    for oh_idx, rhd_idx in enumerate(RHD_FROM_OH):
        rhd[rhd_idx] = triples[oh_idx]
    return [v for t in rhd for v in t]


def write_rhd(src_json, path):
    """An RHD-format copy of a OneHand10K-order file: same boxes, fingers tip-first."""
    data = copy.deepcopy(load_json(src_json))
    for ann in data['annotations']:
        ann['keypoints'] = to_rhd_order(ann['keypoints'])
    data['categories'][0]['keypoints'] = None  # the names would be stale; MMPose ignores them
    return write_json(data, path)


def write_panoptic(src_json, path):
    """A CMU Panoptic-format file (OneHand10K order + ``head_size``, the box size)."""
    data = copy.deepcopy(load_json(src_json))
    for ann in data['annotations']:
        ann['head_size'] = float(max(ann['bbox'][2:]))
    return write_json(data, path)


def write_coco_wholebody_hand(src_json, path):
    """A COCO-WholeBody file: each sample hand as a right hand, the left hand invalid."""
    data = copy.deepcopy(load_json(src_json))
    for ann in data['annotations']:
        ann.update(
            righthand_kpts=ann['keypoints'], righthand_box=ann['bbox'], righthand_valid=True,
            lefthand_kpts=[0] * 63, lefthand_box=[0, 0, 0, 0], lefthand_valid=False,
            keypoints=[0] * 51, num_keypoints=0)
    return write_json(data, path)


def dataset_options(folder, tmp_path):
    """``--cfg-options`` pointing a folder's configs at tiny data (real images)."""
    def split(key, root, ann, img):
        return {f'{key}.data_root': root, f'{key}.ann_file': ann,
                f'{key}.data_prefix': dict(img=img)}

    if folder == 'onehand10k':
        one = (ONEHAND10K, 'test_onehand10k.json', '')
    elif folder == 'freihand2d':
        one = (FREIHAND, 'test_freihand.json', '')
    elif folder == 'rhd2d':
        one = (str(tmp_path), write_rhd(ONEHAND10K_JSON, tmp_path / 'rhd.json'), ONEHAND10K)
    elif folder == 'panoptic_hand2d':
        one = (str(tmp_path), write_panoptic(ONEHAND10K_JSON, tmp_path / 'panoptic.json'),
               ONEHAND10K)
    elif folder == 'coco_wholebody_hand':
        one = (str(tmp_path), write_coco_wholebody_hand(ONEHAND10K_JSON, tmp_path / 'cwb.json'),
               ONEHAND10K)
    elif folder == 'combined':
        # pose sources: an RHD-format file of the FreiHAND samples + the OneHand10K samples
        rhd = (str(tmp_path), write_rhd(FREIHAND_JSON, tmp_path / 'rhd.json'), FREIHAND)
        one = (ONEHAND10K, 'test_onehand10k.json', '')
        opts = {**split('train_dataloader.dataset.datasets.0', *rhd),
                **split('train_dataloader.dataset.datasets.1', *one)}
        for key in ('val_dataloader.dataset', 'test_dataloader.dataset'):
            opts.update(split(key, *one))
        return opts
    else:
        raise KeyError(folder)
    opts = {}
    for key in ('train_dataloader.dataset', 'val_dataloader.dataset', 'test_dataloader.dataset'):
        opts.update(split(key, *one))
    return opts


def _pipeline_options(prefix, pipeline):
    opts = {}
    for i, t in enumerate(pipeline):
        if t['type'] == 'TopdownAffine':
            opts[f'{prefix}.{i}.input_size'] = TINY_CODEC['input_size']
        elif t['type'] == 'GenerateTarget':
            opts[f'{prefix}.{i}.encoder'] = dict(TINY_CODEC)
        elif t['type'] == 'MixReconstruct':
            opts.update(_pipeline_options(f'{prefix}.{i}.pre_transform', t['pre_transform']))
    return opts


def tiny_options(cfg):
    """``--cfg-options`` shrinking a config: quarter-width ResNet-18, 64x64 input, one epoch.

    The same code paths as the full config; only sizes change.
    """
    opts = {
        'model.backbone.depth': 18,
        'model.backbone.init_cfg': None,  # no ImageNet download in tests
        'model.backbone.stem_channels': 16,
        'model.backbone.base_channels': 16,
        'model.head.in_channels': 128,
        'model.head.deconv_out_channels': (16, 16, 16),
        'model.head.decoder': dict(TINY_CODEC),
        'model.test_cfg.flip_test': False,
        'codec': dict(TINY_CODEC),
        'train_cfg.max_epochs': 1,
        'train_cfg.val_interval': 1,
        'default_hooks.logger.interval': 1,
        'default_hooks.checkpoint.interval': 1,
        'randomness.seed': 0,
    }
    for split in ('train', 'val', 'test'):
        key = f'{split}_dataloader'
        opts.update({f'{key}.batch_size': 2 if split == 'train' else 4,
                     f'{key}.num_workers': 0, f'{key}.persistent_workers': False})
        opts.update(_pipeline_options(f'{key}.dataset.pipeline', cfg[key].dataset.pipeline))
    return opts


def as_cli(opts):
    """The options as ``tools/train.py --cfg-options`` arguments (dicts as dotted keys)."""
    args = []
    for key, value in opts.items():
        if isinstance(value, dict):
            args += as_cli({f'{key}.{k}': v for k, v in value.items()})
        else:
            args.append(f'{key}={str(value).replace(" ", "")}')
    return args


def mode_of(path):
    return 'mono' if path.endswith('_mono.py') else 'rgb'


def folder_of(path):
    return osp.basename(osp.dirname(path))


def family_of(path):
    return osp.basename(path).split('_')[0]  # baseline | selfdis | selfdis-mix


def write_generator(mode, path):
    """A tiny trained-format generator checkpoint: the OneHand10K selfdis config, shrunk."""
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS

    cfg = Config.fromfile(osp.join(HANDS, 'onehand10k',
                                   f'selfdis_res50_onehand10k-256x256_{mode}.py'))
    cfg.merge_from_dict(tiny_options(cfg))
    init_default_scope('mmpose')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    torch.save({'state_dict': model.state_dict(), 'meta': {'cfg': cfg.pretty_text}}, path)
    return str(path)
