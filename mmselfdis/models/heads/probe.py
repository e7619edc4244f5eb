"""What :meth:`SelfDisHead.bind` learns from the pose estimator, and the checks it makes."""
import math
from typing import Dict, NamedTuple, Optional, Tuple

import torch
from torch import Tensor, nn

__all__ = [
    'BranchShapes', 'log2_ratio', 'default_widths', 'first_conv', 'resolve_source',
    'check_preprocessor_channels', 'check_shapes'
]


class BranchShapes(NamedTuple):
    """Sizes of the pose estimator that the branch's sub-networks are built for.

    Attributes:
        image_channels: Channels of the images (the backbone's first conv).
        pose_channels: ``C_p``.
        source_channels: Channels of the appearance source.
        num_upsamples: ``k``: the image is ``2**k`` times the pose feature.
        num_downsamples: ``j``: the source is ``2**j`` times the pose feature.
        pose_map_channels: Channels of the pose head's heatmaps (``None`` when
            the head does not return a heatmap tensor).
    """
    image_channels: int
    pose_channels: int
    source_channels: int
    num_upsamples: int
    num_downsamples: int
    pose_map_channels: Optional[int]


def log2_ratio(big: int, small: int) -> Optional[int]:
    """``k`` with ``big == small * 2**k`` (``k >= 0``), else ``None``."""
    if small <= 0 or big % small:
        return None
    ratio = big // small
    k = int(round(math.log2(ratio)))
    return k if 2**k == ratio else None


def default_widths(pose_channels: int, num_upsamples: int, source_channels: int) -> Dict[str, int]:
    """``base_channels`` of the sub-networks when the config leaves them out.

    The branch is sized after the pose network so that it stays a fraction of
    its cost: the image decoder halves ``C_p`` at every ×2 step, down to
    ``C_p / 2**k`` (8…64) at half the output resolution; the discriminator
    starts with as many channels (≥ 16); the appearance encoder at half the
    source's channels (16…64).

    Args:
        pose_channels: ``C_p``.
        num_upsamples: ``k``, the decoder's ×2 steps.
        source_channels: Channels of the appearance source.

    Returns:
        dict: ``encoder``, ``decoder`` and ``discriminator`` base channels.
    """
    decoder = max(8, min(64, pose_channels // 2**num_upsamples))
    return dict(
        encoder=max(16, min(64, source_channels // 2)),
        decoder=decoder,
        discriminator=max(16, decoder))


def first_conv(backbone: nn.Module) -> Tuple[str, nn.Conv2d]:
    """The backbone's first ``Conv2d`` (it tells the number of image channels)."""
    for name, module in backbone.named_modules():
        if isinstance(module, nn.Conv2d):
            return name, module
    raise ValueError(f'{type(backbone).__name__} has no Conv2d; SelfDisHead needs a '
                     f'convolutional backbone to read the number of image channels from')


def resolve_source(estimator: nn.Module, path: str) -> nn.Module:
    """The module of the estimator named by ``appearance_source``, or a clear error."""
    valid = [f'backbone.{n}' for n, _ in estimator.backbone.named_modules()
             if n and n.count('.') < 2]
    if getattr(estimator, 'with_neck', False):
        valid += [f'neck.{n}' for n, _ in estimator.neck.named_modules() if n and n.count('.') < 1]
    root = path.split('.', 1)[0]
    module = None
    if root in ('backbone', 'neck'):
        try:
            module = estimator.get_submodule(path)
        except AttributeError:
            module = None
    if module is None:
        raise ValueError(
            f'selfdis.appearance_source={path!r} names no module of the backbone (or '
            f'neck). Use \'image\' or one of: {", ".join(valid)}')
    return module


def check_preprocessor_channels(estimator: nn.Module, channels: int, in_conv_name: str) -> None:
    """Refuse a data preprocessor that normalises another number of channels."""
    mean = getattr(estimator.data_preprocessor, 'mean', None)
    if not torch.is_tensor(mean):
        return
    data_channels = int(mean.shape[0])
    if data_channels == channels:
        return
    fix = ('set the backbone\'s in_channels=1 (ResNet, HRNet and UNetEncoder '
           'have it) or load the images as 3-channel '
           "(LoadImage color_type='color') with a 3-value mean/std"
           if data_channels == 1 else
           'give the data preprocessor a 1-value mean/std and load the images as '
           "monochrome (LoadImage color_type='grayscale')")
    raise ValueError(
        f'the data preprocessor normalises {data_channels}-channel images (its mean '
        f'has {data_channels} values) but the backbone\'s first convolution '
        f'backbone.{in_conv_name} expects {channels} channels: {fix}')


def check_shapes(input_size: Tuple[int, int], p: Tensor, source: Tensor,
                 appearance_source: str) -> Tuple[int, int]:
    """``(k, j)``: the decoder's ×2 steps to the image and the encoder's ÷2 steps to ``p``."""
    w, h = input_size
    hp, wp = p.shape[-2:]
    k_h, k_w = log2_ratio(h, hp), log2_ratio(w, wp)
    if k_h is None or k_h != k_w:
        sugg = (wp * 2**max(k_w or 0, 1), hp * 2**max(k_w or 0, 1))
        raise ValueError(
            f'the image decoder cannot reach the input size (w={w}, h={h}) from the pose '
            f'feature of size (w={wp}, h={hp}): it up-samples ×2 per block, so the input '
            f'size must be the pose feature size times one power of two. Use an input size '
            f'that the backbone divides exactly, e.g. input_size={sugg} (set the codec\'s '
            f'input_size / selfdis.input_size accordingly)')
    hs, ws = source.shape[-2:]
    j_h, j_w = log2_ratio(hs, hp), log2_ratio(ws, wp)
    if j_h is None or j_h != j_w:
        raise ValueError(
            f'p and a cannot be concatenated: appearance_source='
            f'{appearance_source!r} gives a feature of size (w={ws}, h={hs}) but the '
            f'pose feature p is (w={wp}, h={hp}); the appearance encoder down-samples ×2 '
            f'per block, so the source must be p\'s size times a power of two. Choose an '
            f'earlier module (higher resolution) or \'image\'')
    return k_h, j_h
