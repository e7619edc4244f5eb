"""Mixed training images from a frozen generator, a batch at a time on the training device."""
import os
import os.path as osp
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor, nn

from mmpose.registry import MODELS
from mmpose.utils.typing import SampleList
from ..models.data_preprocessors import ImageSpace
from .generator import generator_info, load_generator, mix_images

__all__ = ['BatchMixReconstruct']


@MODELS.register_module()
class BatchMixReconstruct(nn.Module):
    """Batch augment: give chosen samples the appearance of another sample of the batch.

    The batch-level counterpart of :class:`~mmselfdis.datasets.MixReconstruct`
    for ``PoseDataPreprocessor(batch_augments=[...])``. It runs a trained
    generator, so it lives with the other generator applications in
    :mod:`mmselfdis.apis` (the models package does not depend on it). Each sample is mixed
    with probability ``prob``; its appearance source is another sample of
    the same batch (the batch rolled by a random non-zero offset). The mixing
    is :func:`mmselfdis.apis.mix_images`, run on the inputs' device.

    The preprocessor calls batch augments on *normalised* inputs, after its
    BGR→RGB conversion; this module undoes both with ``mean``/``std``/
    ``bgr_to_rgb`` (by default the generator's own preprocessor settings) through
    :class:`ImageSpace`, mixes in image space and normalises the result again.

    The generator is held outside module registration: it is not a submodule,
    so it never appears in the trained model's ``state_dict``,
    ``parameters()`` or optimizer, ``model.train()`` does not switch it out
    of ``eval`` mode, and it is not pickled or deep-copied with the model
    (it is reloaded on first use).

    Each data sample gets the metainfo ``mixed`` (bool), ``mix_source``
    (``batch_index``, ``img_id``, ``img_path`` of the appearance source, or
    ``None``) and ``mix_pose_image`` (the sample before mixing, image space,
    ``(C, H, W)``, for :class:`~mmselfdis.models.MixConsistencyEstimator`; or
    ``None``).

    Args:
        checkpoint: The generator's checkpoint.
        config: The generator's config; ``None`` reads it from the checkpoint.
        prob: Probability of mixing each sample, in ``[0, 1]``.
        mean: Per-channel mean the training preprocessor subtracts; ``None``
            takes the generator's.
        std: Per-channel std the training preprocessor divides by; ``None``
            takes the generator's.
        bgr_to_rgb: Whether the training preprocessor converted BGR to RGB;
            ``None`` takes the generator's setting.
    """

    def __init__(self,
                 checkpoint: str,
                 config: Any = None,
                 prob: float = 0.5,
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None,
                 bgr_to_rgb: Optional[bool] = None) -> None:
        super().__init__()
        if isinstance(prob, bool) or not isinstance(prob, (int, float)) or not 0 <= prob <= 1:
            raise ValueError(f'BatchMixReconstruct: prob is the share of mixed samples and must '
                             f'be a number in [0, 1], got {prob!r}')
        if (mean is None) != (std is None):
            raise ValueError('BatchMixReconstruct: give both mean and std (those of the training '
                             'data preprocessor) or neither (use the generator\'s)')
        if not isinstance(checkpoint, (str, os.PathLike)) or not osp.isfile(checkpoint):
            raise FileNotFoundError(
                2, 'BatchMixReconstruct: generator checkpoint not found (train one with '
                'tools/train.py on a configs/selfdis config and pass its epoch_*.pth)',
                os.fspath(checkpoint) if isinstance(checkpoint, (str, os.PathLike))
                else repr(checkpoint))
        self.checkpoint = os.fspath(checkpoint)
        self.config = config
        self.prob = float(prob)
        self.mean = None if mean is None else tuple(float(m) for m in mean)
        self.std = None if std is None else tuple(float(s) for s in std)
        self.bgr_to_rgb = bgr_to_rgb
        # plain attribute set through object.__setattr__: never a registered submodule
        object.__setattr__(self, '_generator', None)

    # --------------------------------------------------------- generator access
    def __setattr__(self, name: str, value: Any) -> None:
        if name == '_generator':
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def __getstate__(self) -> Dict[str, Any]:
        state = super().__getstate__() if hasattr(super(), '__getstate__') else self.__dict__
        state = dict(state)
        state['_generator'] = None
        return state

    def generator(self, device: torch.device) -> nn.Module:
        """The frozen generator on ``device`` (loaded on first use)."""
        gen = self._generator
        if gen is None:
            gen = load_generator(self.checkpoint, self.config, device)
            object.__setattr__(self, '_generator', gen)
        elif next(gen.parameters()).device != device:
            gen.to(device)
        return gen

    def _space(self, gen: nn.Module, channels: int) -> ImageSpace:
        """The training preprocessor's mapping: given mean/std/bgr_to_rgb, else the generator's."""
        own = ImageSpace.of(gen.data_preprocessor, channels)
        swap = own.bgr_to_rgb if self.bgr_to_rgb is None else self.bgr_to_rgb
        if self.mean is not None:
            return ImageSpace(self.mean, self.std, swap)
        return ImageSpace(own.mean, own.std, swap)

    # ------------------------------------------------------------------ forward
    def forward(self, inputs: Tensor, data_samples: SampleList) -> Tuple[Tensor, SampleList]:
        """Mix the chosen samples of a normalised batch.

        Args:
            inputs: Normalised images from the data preprocessor.
            data_samples: The batch's data samples (metainfo is updated).

        Returns:
            tuple: The inputs (a new tensor when something was mixed) and the
            data samples.

        Note:
            - inputs: ``(N, C, H, W)``
        """
        n = inputs.shape[0]
        chosen = torch.zeros(n, dtype=torch.bool)
        if n >= 2 and self.prob > 0:
            chosen = torch.rand(n) < self.prob
        for sample in data_samples:
            sample.set_metainfo(dict(mixed=False, mix_source=None, mix_pose_image=None))
        if not bool(chosen.any()):
            return inputs, data_samples

        gen = self.generator(inputs.device)
        info = generator_info(gen)
        kpts = self._num_keypoints(data_samples)
        if info.num_keypoints is not None and kpts is not None and kpts != info.num_keypoints:
            raise ValueError(
                f'BatchMixReconstruct: the generator was trained with {info.num_keypoints} '
                f'keypoints but the batch has {kpts}: train a generator on this dataset.')
        offset = int(torch.randint(1, n, (1, )))
        app_idx = (torch.arange(n) + offset) % n
        idx = chosen.nonzero().flatten()

        space = self._space(gen, inputs.shape[1])
        with torch.no_grad():
            img = space.to_image(inputs.detach())
            maps = None
            if getattr(gen, 'draws_labels', False):
                maps = gen.selfdis.sample_label_maps([data_samples[i] for i in idx.tolist()])
            mixed = mix_images(gen, img[idx], img[app_idx[idx]], pose_maps=maps,
                               **self._app_keypoints(gen, data_samples,
                                                     app_idx[idx].tolist())).float()
            out = inputs.clone()
            out[idx] = space.to_model(mixed).to(inputs.dtype)
        for i in idx.tolist():
            j = int(app_idx[i])
            src = data_samples[j].metainfo
            data_samples[i].set_metainfo(dict(
                mixed=True,
                mix_pose_image=img[i],  # x before mixing, image space (MixConsistencyEstimator)
                mix_source=dict(batch_index=j, img_id=src.get('img_id'),
                                img_path=src.get('img_path'), id=src.get('id'))))
        return out, data_samples

    @staticmethod
    def _app_keypoints(gen, data_samples, idx) -> dict:
        """The appearance crops' keypoints, for a generator that paints over them."""
        if getattr(getattr(gen, 'selfdis', None), 'background', None) is None:
            return {}
        gts = [data_samples[i].get('gt_instances') for i in idx]
        if any(gt is None or 'transformed_keypoints' not in gt for gt in gts):
            return {}  # their hands are then found by the pose model
        kpts = np.stack([np.asarray(gt.transformed_keypoints)[0] for gt in gts])
        vis = np.stack([np.asarray(gt.keypoints_visible).reshape(
            len(kpts[0]), -1)[:, 0] if 'keypoints_visible' in gt else np.ones(len(kpts[0]))
            for gt in gts])
        return dict(app_keypoints=kpts, app_keypoints_visible=vis)

    @staticmethod
    def _num_keypoints(data_samples: SampleList) -> Optional[int]:
        for sample in data_samples:
            gt = sample.get('gt_instances', None)
            if gt is not None and 'keypoints' in gt:
                return int(gt.keypoints.shape[-2])
            labels = sample.get('gt_instance_labels', None)
            if labels is not None and 'keypoint_weights' in labels:
                return int(labels.keypoint_weights.shape[-1])
        return None

    def extra_repr(self) -> str:
        return (f'checkpoint={self.checkpoint!r}, prob={self.prob}, mean={self.mean}, '
                f'std={self.std}, bgr_to_rgb={self.bgr_to_rgb}')
