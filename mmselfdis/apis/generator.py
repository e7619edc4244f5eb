"""The frozen generator of the augmentation: loading and THE mixing function.

Every way of adding mixed images to a training set (the ``MixReconstruct``
pipeline transform, the ``BatchMixReconstruct`` batch augment and
``tools/synthesize.py``) loads its generator with :func:`load_generator` and
mixes with :func:`mix_images`, so the three produce the same images.

A generator is a trained :class:`~mmselfdis.models.SelfDisPoseEstimator`:
``mix(pose, app) = D_I([E_p(pose), E_I(app)])`` (paper §3, §4.5).
"""
import os
from typing import Any, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import Tensor, nn

from ..utils import load_model

__all__ = ['GeneratorInfo', 'load_generator', 'generator_info', 'mix_images',
           'set_worker_threads']

ImageBatch = Union[np.ndarray, Tensor, Sequence[np.ndarray]]


class GeneratorInfo(NamedTuple):
    """What a generator expects of the images it mixes.

    Attributes:
        num_keypoints: Keypoints of the pose model it was trained with.
        input_size: Crop size ``(w, h)``.
        channels: Image channels (1 for monochrome).
    """

    num_keypoints: Optional[int]
    input_size: Tuple[int, int]
    channels: int


def load_generator(checkpoint: Union[str, os.PathLike],
                   config: Any = None,
                   device: Union[str, torch.device] = 'cpu') -> nn.Module:
    """Build a trained :class:`SelfDisPoseEstimator` as a frozen generator.

    Loaded with :func:`~mmselfdis.utils.load_model` (``weights_only=True``,
    strict fit; the model is built from the config text MMEngine stores in
    ``meta['cfg']`` unless ``config`` is given, without batch augments), in
    ``eval()`` mode and with every parameter ``requires_grad=False``.

    Args:
        checkpoint: Path of a checkpoint written by ``tools/train.py`` for a
            self-disentanglement config.
        config: The generator's config (path, dict or :class:`Config`);
            ``None`` reads it from the checkpoint.
        device: Where the generator runs.

    Returns:
        nn.Module: The frozen estimator; :func:`generator_info` describes
        what it expects.

    Raises:
        CheckpointLoadError: Missing, truncated or unsafe file, or no config.
        ValueError: The config is not a self-disentanglement model, or the
            weights do not fit it.
    """
    model = load_model(config, checkpoint, device)
    if not callable(getattr(model, 'mix', None)) or getattr(model, 'selfdis', None) is None:
        raise ValueError(
            f'{os.fspath(checkpoint)!r} holds a {type(model).__name__} model; mixing needs a '
            f'generator trained with self-disentanglement (type=\'SelfDisPoseEstimator\', e.g. '
            f'configs/selfdis/t4-3_selfdis_unet_synthhands-mono-64x64.py).')
    model.requires_grad_(False)
    return model


def generator_info(generator: nn.Module) -> GeneratorInfo:
    """Keypoint count, crop size ``(w, h)`` and channels a generator expects.

    The keypoint count is that of the checkpoint's ``dataset_meta`` (set by
    :func:`~mmselfdis.utils.load_model`), else the pose head's output channels.
    """
    num_kpts = (getattr(generator, 'dataset_meta', None) or {}).get('num_keypoints')
    if num_kpts is None:
        num_kpts = getattr(getattr(generator, 'head', None), 'out_channels', None)
    head = generator.selfdis
    w, h = head.input_size
    return GeneratorInfo(None if num_kpts is None else int(num_kpts), (int(w), int(h)),
                         int(head.image_channels))


def set_worker_threads() -> None:
    """Use one torch thread inside a data-loader worker (workers run in parallel)."""
    from torch.utils.data import get_worker_info
    if get_worker_info() is not None:
        torch.set_num_threads(1)


def _to_tensor(imgs: ImageBatch, name: str) -> Tuple[Tensor, str, bool]:
    """Images → float ``(N, C, H, W)``; also the input kind and whether it was a single image."""
    if torch.is_tensor(imgs):
        t = imgs
        single = t.dim() == 3
        if single:
            t = t.unsqueeze(0)
        if t.dim() != 4:
            raise ValueError(f'{name}: expected a (N, C, H, W) or (C, H, W) tensor, got shape '
                             f'{tuple(imgs.shape)}')
        return t.float(), 'tensor', single
    if isinstance(imgs, np.ndarray):
        if imgs.ndim == 2 or (imgs.ndim == 3 and imgs.shape[2] in (1, 3, 4)):
            arrays, single = [imgs], True
        elif imgs.ndim == 4:
            arrays, single = list(imgs), False
        else:
            raise ValueError(f'{name}: expected an (H, W) or (H, W, C) image or an (N, H, W, C) '
                             f'batch, got shape {imgs.shape}')
    elif isinstance(imgs, (list, tuple)) and imgs and all(isinstance(a, np.ndarray)
                                                          for a in imgs):
        arrays, single = list(imgs), False
    else:
        raise TypeError(f'{name}: expected numpy images or a tensor, got {type(imgs)!r}')
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f'{name}: images of different shapes {sorted(shapes)}; crop them to '
                         f'one size first (TopdownAffine)')
    batch = np.stack([a if a.ndim == 3 else a[..., None] for a in arrays])
    return torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2).float(), \
        'numpy2d' if arrays[0].ndim == 2 else 'numpy', single


def _check(t: Tensor, info: GeneratorInfo, name: str) -> None:
    w, h = info.input_size
    if t.shape[1] != info.channels:
        fix = ("convert them with ToMonochrome after LoadImage" if info.channels == 1 else
               "load them in colour (LoadImage color_type='color', no ToMonochrome)")
        raise ValueError(f'{name} have {t.shape[1]} channel(s) but the generator was trained on '
                         f'{info.channels}-channel images: {fix}, or use a generator trained on '
                         f'{t.shape[1]}-channel images.')
    if tuple(t.shape[-2:]) != (h, w):
        raise ValueError(
            f'{name} are {t.shape[-1]}x{t.shape[-2]} (w x h) but the generator mixes '
            f'{w}x{h} crops: place the mixing after TopdownAffine(input_size=({w}, {h})) in the '
            f'pipeline, or use a generator trained at this crop size.')


def _crop_points(keypoints) -> np.ndarray:
    """Keypoints (array or tensor; ``(K, 2)`` for one image) as ``(N, K, 2)`` float32."""
    kpts = np.asarray(keypoints.cpu() if torch.is_tensor(keypoints) else keypoints,
                      dtype=np.float32)
    return kpts.reshape(-1, *kpts.shape[-2:])


def mix_images(generator: nn.Module, pose_imgs: ImageBatch, app_imgs: ImageBatch,
               keypoints=None, keypoints_visible=None,
               pose_maps: Optional[Tensor] = None, app_keypoints=None,
               app_keypoints_visible=None) -> Union[np.ndarray, Tensor]:
    """Images with the pose of ``pose_imgs`` and the appearance of ``app_imgs``.

    THE mixing function of the project: ``D_I([p(pose), a(app)])`` in
    ``no_grad``, clamped to ``0..255`` and rounded to ``uint8``.

    Args:
        generator: A generator from :func:`load_generator`.
        pose_imgs: Pose sources in image space (``0..255``, BGR/mono as
            loaded): one numpy image ``(H, W)``/``(H, W, C)``, a list of them,
            an ``(N, H, W, C)`` array, or a ``(N, C, H, W)``/``(C, H, W)``
            tensor.
        app_imgs: Appearance sources, same layout (a batch of one is used for
            every pose image).
        keypoints: The pose images' keypoints in crop pixels, ``(N, K, 2)``
            (or ``(K, 2)`` for one image), with ``keypoints_visible``
            ``(N, K)``: drawn by a generator trained with
            ``pose_maps_from='labels'`` (which needs them, or ``pose_maps``:
            their heatmaps in the pose head's codec); ignored by others.
        app_keypoints: The appearance images' keypoints in crop pixels, with
            ``app_keypoints_visible``: a generator that paints the hand over
            the appearance image (``selfdis.background``) cuts its hand out
            there (else where its pose model finds it); ignored by others.

    Returns:
        The mixed images as ``uint8`` in the layout of ``pose_imgs`` (numpy
        in, numpy out: one image or an ``(N, H, W[, C])`` array; tensor in,
        ``(N, C, H, W)``/``(C, H, W)`` tensor out on the input's device).

    Raises:
        ValueError: Channels or crop size differ from the generator's.
    """
    info = generator_info(generator)
    pose, kind, single = _to_tensor(pose_imgs, 'pose images')
    app, _, _ = _to_tensor(app_imgs, 'appearance images')
    _check(pose, info, 'pose images')
    _check(app, info, 'appearance images')
    if app.shape[0] not in (1, pose.shape[0]):
        raise ValueError(f'{app.shape[0]} appearance images for {pose.shape[0]} pose images; '
                         f'give one per pose image or a single one')
    device = next(generator.parameters()).device
    kw = {}
    if getattr(generator, 'draws_labels', False):
        if keypoints is not None:
            # label_maps reads the visibility in any of MMPose's layouts
            kw = dict(keypoints=_crop_points(keypoints), keypoints_visible=keypoints_visible)
        elif pose_maps is not None:
            kw = dict(pose_maps=pose_maps)
    if app_keypoints is not None and getattr(getattr(generator, 'selfdis', None), 'background',
                                             None) is not None:
        kw.update(app_keypoints=_crop_points(app_keypoints),
                  app_keypoints_visible=app_keypoints_visible)
    with torch.no_grad():
        out = generator.mix(pose.to(device), app.to(device), **kw)
    out = out.clamp_(0, 255).round_().to(torch.uint8)
    if kind == 'tensor':
        out = out.to(pose_imgs.device)
        return out[0] if single else out
    arr = out.permute(0, 2, 3, 1).cpu().numpy()
    if kind == 'numpy2d':
        arr = arr[..., 0]
    return np.ascontiguousarray(arr[0] if single else arr)
