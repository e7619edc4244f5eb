"""Tiny model configs and fake batches for the model tests (seconds on 2 CPU cores)."""
import copy
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from mmengine.structures import InstanceData, PixelData

from mmpose.structures import PoseDataSample

NUM_KPTS = 21
INPUT = 64  # input side
HEATMAP = 16  # heatmap side

__all__ = ['NUM_KPTS', 'INPUT', 'HEATMAP', 'codec', 'backbone_cfg', 'model_cfg', 'make_batch',
           'build_model']


def codec(input_size: int = INPUT, heatmap_size: int = HEATMAP) -> dict:
    return dict(type='MSRAHeatmap', input_size=(input_size, input_size),
                heatmap_size=(heatmap_size, heatmap_size), sigma=1)


def _hrnet_extra() -> dict:
    return dict(
        stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK', num_blocks=(1, ),
                    num_channels=(8, )),
        stage2=dict(num_modules=1, num_branches=2, block='BASIC', num_blocks=(1, 1),
                    num_channels=(8, 16)),
        stage3=dict(num_modules=1, num_branches=3, block='BASIC', num_blocks=(1, 1, 1),
                    num_channels=(8, 16, 32)),
        stage4=dict(num_modules=1, num_branches=4, block='BASIC', num_blocks=(1, 1, 1, 1),
                    num_channels=(8, 16, 32, 64)))


def backbone_cfg(family: str, in_channels: int = 3) -> Tuple[dict, dict, str]:
    """``(backbone, head, appearance_source)`` of a tiny network of ``family``."""
    if family == 'resnet':
        backbone = dict(type='ResNet', depth=18, in_channels=in_channels, stem_channels=8,
                        base_channels=8, out_indices=(3, ))
        head = dict(type='HeatmapHead', in_channels=64, out_channels=NUM_KPTS,
                    deconv_out_channels=(16, 16, 16), deconv_kernel_sizes=(4, 4, 4))
        return backbone, head, 'backbone.layer2'
    if family == 'hrnet':
        backbone = dict(type='HRNet', in_channels=in_channels, extra=_hrnet_extra())
        head = dict(type='HeatmapHead', in_channels=8, out_channels=NUM_KPTS,
                    deconv_out_channels=None)
        return backbone, head, 'backbone.stage2'
    if family == 'mobilenetv2':
        if in_channels != 3:
            raise ValueError('MobileNetV2 takes 3-channel images only')
        backbone = dict(type='MobileNetV2', widen_factor=0.25, out_indices=(7, ))
        head = dict(type='HeatmapHead', in_channels=1280, out_channels=NUM_KPTS,
                    deconv_out_channels=(16, 16, 16), deconv_kernel_sizes=(4, 4, 4))
        return backbone, head, 'backbone.layer2'
    if family == 'unet':
        backbone = dict(type='UNetEncoder', in_channels=in_channels, base_channels=4, depth=4)
        head = dict(type='HeatmapHead', in_channels=32, out_channels=NUM_KPTS,
                    deconv_out_channels=(8, 8), deconv_kernel_sizes=(2, 2))
        return backbone, head, 'backbone.stages.2'
    raise KeyError(family)


def model_cfg(family: str = 'resnet', in_channels: int = 3, selfdis: Optional[dict] = None,
              source: Optional[str] = None, flip_test: bool = False) -> dict:
    """A tiny ``SelfDisPoseEstimator`` config."""
    backbone, head, default_source = backbone_cfg(family, in_channels)
    head['loss'] = dict(type='KeypointMSELoss', use_target_weight=True)
    head['decoder'] = codec()
    mean, std = ([128.0] * 3, [64.0] * 3) if in_channels == 3 else ([128.0], [64.0])
    sd = dict(type='SelfDisHead', appearance_source=source or default_source,
              appearance_channels=8,
              encoder=dict(base_channels=8, max_channels=16),
              decoder=dict(base_channels=8, max_channels=32),
              discriminator=dict(base_channels=8, num_layers=2))
    sd.update(selfdis or {})
    return dict(
        type='SelfDisPoseEstimator',
        data_preprocessor=dict(type='PoseDataPreprocessor', mean=mean, std=std,
                               bgr_to_rgb=in_channels == 3),
        backbone=backbone, head=head, selfdis=sd,
        test_cfg=dict(flip_test=flip_test, flip_mode='heatmap', shift_heatmap=True))


def build_model(cfg: dict, seed: int = 0):
    import mmselfdis  # noqa: F401
    from mmengine.registry import init_default_scope

    from mmpose.registry import MODELS
    init_default_scope('mmpose')
    torch.manual_seed(seed)
    model = MODELS.build(copy.deepcopy(cfg))
    model.init_weights()
    return model


def make_batch(n: int = 4, channels: int = 3, size: int = INPUT, heatmap: int = HEATMAP,
               seed: int = 0, pose_ids: Optional[List[int]] = None
               ) -> Tuple[torch.Tensor, List[PoseDataSample]]:
    """Normalised-looking inputs and data samples with heatmap targets."""
    g = torch.Generator().manual_seed(seed)
    inputs = torch.randn(n, channels, size, size, generator=g)
    samples = []
    for i in range(n):
        sample = PoseDataSample()
        sample.gt_fields = PixelData(heatmaps=torch.rand(NUM_KPTS, heatmap, heatmap, generator=g))
        weights = torch.ones(1, NUM_KPTS)
        weights[0, i % NUM_KPTS] = 0  # one invisible keypoint
        sample.gt_instance_labels = InstanceData(keypoint_weights=weights)
        sample.gt_instances = InstanceData(
            bboxes=np.array([[0, 0, size, size]], dtype=np.float32),
            bbox_scores=np.ones(1, dtype=np.float32))
        meta: Dict = dict(input_size=(size, size), input_center=np.array([size / 2, size / 2]),
                          input_scale=np.array([size, size], dtype=np.float32),
                          flip_indices=list(range(NUM_KPTS)))
        if pose_ids is not None:
            meta['pose_id'] = pose_ids[i]
        sample.set_metainfo(meta)
        samples.append(sample)
    return inputs, samples
