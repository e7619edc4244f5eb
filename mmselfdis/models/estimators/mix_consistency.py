"""A top-down pose estimator with a consistency loss on mixed images."""
from typing import Optional

import numpy as np
import torch
from mmengine.model import ExponentialMovingAverage
from mmpose.models.pose_estimators import TopdownPoseEstimator
from mmpose.registry import MODELS
from mmpose.utils.typing import SampleList
from torch import Tensor, nn

from ..data_preprocessors.image_space import ImageSpace
from ..utils.frozen import frozen_call

__all__ = ['MixConsistencyEstimator']


@MODELS.register_module()
class MixConsistencyEstimator(TopdownPoseEstimator):
    """``TopdownPoseEstimator`` that also matches, on every mixed image, its
    heatmaps to a teacher's heatmaps on the pose source ``x``.

    A mix keeps the labels of its pose image ``x``; when the generator loses
    part of ``x``'s pose those hard labels are partly wrong. Beside them, this
    estimator adds ``loss_consistency``: the weighted mean squared difference
    between its heatmaps on the mix and the teacher's heatmaps on ``x`` itself
    (soft labels, as DG-Net's and AdvMix's teachers give). The heatmaps on the
    mixes come from a second pass of the head over their features that leaves
    the head's BatchNorm statistics as the pose loss's pass left them. The teacher is the
    model itself (``teacher='self'``) or an exponential moving average of its
    backbone, neck and head (``teacher='ema'``, MMEngine's
    ``ExponentialMovingAverage``: ``avg = (1 - momentum) * avg + momentum *
    weights`` before every training step, the first step copying the
    weights; BatchNorm statistics copied). The teacher runs without gradient
    and in the student's mode — in training, BatchNorm normalises with the
    batch of x's statistics, as the student does with the mixes' — and leaves
    every running statistic as it was. (An eval-mode teacher, whose running
    statistics lag the batch statistics early in training, gave heatmaps far
    from the student's and made training diverge: docs/results.md.)
    ``tools/export.py`` drops the EMA copy.

    ``x`` comes from the data samples' ``mix_pose_image`` metainfo, which
    :class:`~mmselfdis.datasets.transforms.MixReconstruct` and
    :class:`~mmselfdis.apis.BatchMixReconstruct` set on each mixed sample (the
    crop before mixing, in image space); pack it with
    :data:`~mmselfdis.datasets.transforms.MIX_META_KEYS`. Unmixed samples add
    nothing; a batch without mixes gives a zero loss.

    Args:
        consistency (dict): ``loss_weight`` (default 1.0), ``teacher``
            (``'self'``, default, or ``'ema'``) and ``momentum`` of the EMA
            teacher (default 0.001).
        **kwargs: Arguments of ``TopdownPoseEstimator``.

    Example::

        model = dict(type='MixConsistencyEstimator', consistency=dict(loss_weight=1.0),
                     backbone=..., head=..., data_preprocessor=...)
    """

    def __init__(self, *args, consistency: Optional[dict] = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cfg = dict(loss_weight=1.0, teacher='self', momentum=0.001)
        unknown = set(consistency or {}) - set(cfg)
        if unknown:
            raise ValueError(f'MixConsistencyEstimator: consistency takes loss_weight, teacher '
                             f'and momentum, got unknown keys {sorted(unknown)}')
        cfg.update(consistency or {})
        if cfg['teacher'] not in ('self', 'ema'):
            raise ValueError(f"MixConsistencyEstimator: teacher must be 'self' (the model "
                             f"itself, without gradient) or 'ema' (a moving average of its "
                             f"weights), got {cfg['teacher']!r}")
        if not 0 < cfg['momentum'] <= 1:
            raise ValueError(f'MixConsistencyEstimator: consistency.momentum must lie in '
                             f'(0, 1], got {cfg["momentum"]!r}')
        weight = cfg['loss_weight']
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
            raise ValueError(f'MixConsistencyEstimator: consistency.loss_weight must be a '
                             f'number >= 0, got {weight!r}')
        self.consistency_weight = float(weight)
        self.teacher = cfg['teacher']
        if self.teacher == 'ema':
            self.ema_teacher = ExponentialMovingAverage(self._pose_net(),
                                                        momentum=float(cfg['momentum']))

    def _pose_net(self) -> nn.ModuleDict:
        """The modules that predict heatmaps (shared, not copied)."""
        parts = dict(backbone=self.backbone, head=self.head)
        if self.with_neck:
            parts['neck'] = self.neck
        return nn.ModuleDict(parts)

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        """The head's losses and ``loss_consistency``.

        Args:
            inputs: Normalised images ``(N, C, H, W)``.
            data_samples: The batch's data samples.

        Returns:
            dict: The losses.
        """
        if self.teacher == 'ema' and self.training:
            self.ema_teacher.update_parameters(self._pose_net())
        feats = self.extract_feat(inputs)
        losses = dict()
        if self.with_head:
            losses.update(self.head.loss(feats, data_samples, train_cfg=self.train_cfg))
        losses['loss_consistency'] = self.consistency_loss(feats, inputs, data_samples)
        return losses

    def consistency_loss(self, feats, inputs: Tensor, data_samples: SampleList) -> Tensor:
        """``loss_weight * mean_k w_k * mean_pixels (H_mix - H_teacher(x))^2`` over the mixes.

        ``w_k`` are the samples' keypoint weights (a judge's ``mask`` mode sets
        those of the keypoints it did not find to 0).
        """
        idx = [i for i, s in enumerate(data_samples)
               if s.metainfo.get('mixed') and s.metainfo.get('mix_pose_image') is not None]
        if not idx or self.consistency_weight == 0:
            return inputs.new_zeros(())
        # the head's second pass, on the mixes only, trains its weights but must not move its
        # BatchNorm statistics (head.loss has updated them once, with the whole batch)
        student = frozen_call(self.head, tuple(f[idx] for f in feats), detach_params=False)
        if not isinstance(student, Tensor) or student.dim() != 4:
            raise TypeError(f'MixConsistencyEstimator needs a heatmap head (forward returns '
                            f'(N, K, H, W)); {type(self.head).__name__} returns '
                            f'{type(student).__name__}')
        teacher = self.teacher_heatmaps(self.pose_images(data_samples, idx, inputs))
        weights = torch.stack([
            torch.as_tensor(data_samples[i].gt_instance_labels.keypoint_weights,
                            dtype=student.dtype).reshape(-1) for i in idx
        ]).to(student.device)
        per_kpt = (student - teacher).pow(2).mean(dim=(2, 3))
        return self.consistency_weight * (per_kpt * weights).mean()

    def pose_images(self, data_samples: SampleList, idx, inputs: Tensor) -> Tensor:
        """The pose sources of samples ``idx`` in model space, shaped like ``inputs``."""
        imgs = []
        for i in idx:
            img = data_samples[i].metainfo['mix_pose_image']
            if isinstance(img, np.ndarray):
                img = torch.from_numpy(np.ascontiguousarray(img))
                img = img[None] if img.dim() == 2 else img.permute(2, 0, 1)  # HWC -> CHW
            if img.shape != inputs.shape[1:]:
                raise ValueError(f'MixConsistencyEstimator: mix_pose_image is '
                                 f'{tuple(img.shape)} but the inputs are '
                                 f'{tuple(inputs.shape[1:])}; it must be the crop before '
                                 f'mixing, as the pipeline made it')
            imgs.append(img.to(inputs.device, torch.float32))
        x = torch.stack(imgs)
        space = ImageSpace.of(self.data_preprocessor, inputs.shape[1])
        return space.to_model(x).to(inputs.dtype)

    def teacher_heatmaps(self, x: Tensor) -> Tensor:
        """The teacher's heatmaps on ``x``: no gradient, the student's mode, statistics untouched."""
        net = self.ema_teacher.module if self.teacher == 'ema' else self._pose_net()
        with torch.no_grad():
            feats = frozen_call(net['backbone'], x)
            if 'neck' in net:
                feats = frozen_call(net['neck'], feats)
            return frozen_call(net['head'], feats)
