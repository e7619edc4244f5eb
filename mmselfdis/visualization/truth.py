"""The true picture of a mix on SynthHands: x's pose rendered in y's appearance, cropped like x."""
import cv2
import numpy as np
import torch
from torch import Tensor

from mmpose.structures.bbox import get_warp_matrix

__all__ = ['render_truth', 'render_truth_masks']


def _render_size_and_crop(sample_x: dict, h: int, w: int) -> tuple:
    """The side at which x's image was rendered, and the affine matrix of the
    ``(h, w)`` crop that ``TopdownAffine`` cut from it."""
    ori = sample_x['ori_shape'] or (h, w)
    warp = get_warp_matrix(sample_x['center'], sample_x['scale'], 0.0, output_size=(w, h))
    return int(max(ori[:2])), warp


def render_truth(sample_x: dict, sample_y: dict, like: Tensor) -> Tensor:
    """The true "pose of x, appearance of y" crop of a SynthHands pair.

    Renders x's pose parameters with y's appearance parameters
    (:func:`mmselfdis.datasets.synthhands.render`) at x's original image size
    and crops it exactly as ``TopdownAffine`` cropped ``x``.

    Args:
        sample_x: x's render parameters and crop geometry: ``pose``,
            ``center``, ``scale`` and ``ori_shape`` (as
            :meth:`~mmselfdis.evaluation.DisentanglementMetric.process`
            collects them).
        sample_y: The appearance source's (only ``appearance`` is read).
        like: ``x``'s crop, to match channels (monochrome images stay
            monochrome in 3-channel pipelines).

    Returns:
        The ``uint8`` crop.

    Note:
        - like, return: ``(C, H, W)``
    """
    from mmselfdis.datasets.synthhands import render

    channels, h, w = like.shape
    size, warp = _render_size_and_crop(sample_x, h, w)
    mono = channels == 1 or bool((like[0] == like[1]).all() and (like[1] == like[2]).all())
    img, _, _ = render(sample_x['pose'], sample_y['appearance'], size=size, rgb=not mono)
    crop = cv2.warpAffine(img, warp, (int(w), int(h)), flags=cv2.INTER_LINEAR)
    if crop.ndim == 2:
        crop = np.repeat(crop[None], channels, 0)
    else:
        crop = crop.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(crop))


def render_truth_masks(sample_x: dict, size: tuple) -> tuple:
    """Where x's hand and its forearm lie in x's crop, as the renderer draws them.

    Args:
        sample_x: x's render parameters and crop geometry (as :func:`render_truth`).
        size: ``(h, w)`` of the crop.

    Returns:
        ``(hand, forearm)``: boolean ``(h, w)`` arrays, the pixels at least half
        covered by the hand (palm and fingers) and by the forearm.
    """
    from mmselfdis.datasets.synthhands import render_geometry

    h, w = int(size[0]), int(size[1])
    side, warp = _render_size_and_crop(sample_x, h, w)
    geometry = render_geometry(sample_x['pose'], size=side)

    def crop(mask: np.ndarray) -> np.ndarray:
        return cv2.warpAffine(mask.astype(np.float32), warp, (w, h),
                              flags=cv2.INTER_LINEAR) >= 0.5

    return crop(geometry.hand_mask), crop(geometry.body_mask & ~geometry.hand_mask)
