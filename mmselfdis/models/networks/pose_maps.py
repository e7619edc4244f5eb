"""Heatmaps ↔ keypoints → limb, keypoint and hand-region maps at any size (differentiable)."""
from typing import Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ['HAND21_LIMBS', 'LimbMaps', 'gaussian', 'hand_region', 'keypoint_heatmaps',
           'soft_argmax']

HAND21_LIMBS: Tuple[Tuple[int, int], ...] = tuple(
    (0 if j == 0 else 1 + 4 * f + j - 1, 1 + 4 * f + j) for f in range(5)
    for j in range(4)) + ((5, 9), (9, 13), (13, 17))
"""The 21-keypoint hand (OneHand10K, FreiHAND, SynthHands order): the 20 bones from
the wrist along each finger, then the knuckle line from the index to the little
finger, which closes the palm."""


def soft_argmax(heatmaps: Tensor, beta: float) -> Tuple[Tensor, Tensor]:
    """Differentiable keypoint positions and confidences of heatmaps.

    The position is the expectation of the pixel centres under
    ``softmax(beta * heatmap)``, as a fraction of the map's size (``0`` the
    left/top edge, ``1`` the right/bottom edge); the confidence is the
    heatmap's maximum clamped to ``[0, 1]`` (MSRA targets peak at 1; a
    keypoint outside the crop has none).

    Args:
        heatmaps: ``(N, K, H, W)``.
        beta: Inverse temperature of the softmax.

    Returns:
        ``(N, K, 2)`` positions ``(x, y)`` and ``(N, K)`` confidences.
    """
    n, k, h, w = heatmaps.shape
    flat = heatmaps.float().flatten(2)
    prob = torch.softmax(beta * flat, dim=-1).view(n, k, h, w)
    xs = (torch.arange(w, device=heatmaps.device, dtype=prob.dtype) + 0.5) / w
    ys = (torch.arange(h, device=heatmaps.device, dtype=prob.dtype) + 0.5) / h
    x = (prob.sum(2) * xs).sum(-1)
    y = (prob.sum(3) * ys).sum(-1)
    conf = flat.amax(-1).clamp(0, 1)
    return torch.stack([x, y], -1), conf


GAUSSIAN_CUT = 30.0
"""Where :func:`gaussian` stops: ``exp(-30) ≈ 9e-14`` of the peak."""


def gaussian(e: Tensor) -> Tensor:
    """``exp(-e)`` for ``e >= 0``, exactly 0 where ``e >= GAUSSIAN_CUT``.

    A plain ``exp(-e)`` of a map's far pixels gives subnormal floats
    (below 1.2e-38), and Intel CPUs compute on those tens of times slower:
    on one such machine the demo's training step took 1.9-2.0 times as long,
    most of it in the convolutions that read the maps. Cutting the tail at
    ``exp(-30)`` changes no value by more than 1e-13 and leaves none subnormal.
    """
    return torch.exp(-e.clamp(max=GAUSSIAN_CUT)).masked_fill(e >= GAUSSIAN_CUT, 0.0)


def _segment_distance2(a: Tensor, b: Tensor, gx: Tensor, gy: Tensor) -> Tensor:
    """Squared distance of the grid points ``(gx, gy)`` to the segments ``a → b``.

    Note:
        - a, b: ``(N, L, 2)``; gx: ``(1, 1, 1, W)``; gy: ``(1, 1, H, 1)``
        - return: ``(N, L, H, W)``
    """
    ab = b - a
    len2 = (ab * ab).sum(-1).clamp_min(1e-8)
    ax, ay = a[..., 0, None, None], a[..., 1, None, None]
    abx, aby = ab[..., 0, None, None], ab[..., 1, None, None]
    t = (((gx - ax) * abx + (gy - ay) * aby) / len2[..., None, None]).clamp(0, 1)
    return (gx - ax - t * abx)**2 + (gy - ay - t * aby)**2


class LimbMaps(nn.Module):
    """Pose maps drawn from heatmaps: one channel per limb, one per keypoint.

    The keypoints are read from the heatmaps by :func:`soft_argmax`, then drawn
    at the requested resolution: each limb ``(i, j)`` as
    ``exp(-d² / 2σ²) · min(c_i, c_j)`` with ``d`` the distance of the pixel
    centre to the segment between the two keypoints, and each keypoint as a
    Gaussian of the same width times its confidence (both through :func:`gaussian`,
    exactly 0 beyond ``exp(-30)``). Unlike heatmaps resized to
    a decoder's scale, the maps are as sharp at 64×64 as at 8×8 (no grid of the
    heatmap's pixels), and the limbs say where the fingers and the palm are
    between the joints (Jakab et al. 2018 draw keypoints so; pose-guided person
    generators draw limbs).

    Args:
        num_keypoints: ``K``, the heatmaps' channels.
        limbs: Keypoint index pairs to draw as segments (default: the
            21-keypoint hand, :data:`HAND21_LIMBS`).
        sigma: Width of the lines and dots as a fraction of the image side;
            at a coarse scale it is at least ``min_sigma_px`` pixels.
        beta: Inverse temperature of the soft-argmax.
        min_sigma_px: Smallest width in pixels of the drawn scale.
        with_keypoints: Also draw one dot map per keypoint (else the limbs
            only: fewer channels, less work).
        max_size: Draw at most this many pixels per side and resize larger
            maps bilinearly (the lines are Gaussians a few pixels wide, so
            half the resolution loses little; ``None``: always draw).

    Note:
        - heatmaps: ``(N, K, H_hm, W_hm)``
        - output of :meth:`draw`: ``(N, len(limbs) [+ K], h, w)``
    """

    def __init__(self, num_keypoints: int, limbs: Optional[Sequence[Sequence[int]]] = None,
                 sigma: float = 0.03, beta: float = 20.0, min_sigma_px: float = 0.6,
                 with_keypoints: bool = True, max_size: Optional[int] = None) -> None:
        super().__init__()
        limbs = HAND21_LIMBS if limbs is None else tuple(tuple(int(v) for v in limb)
                                                         for limb in limbs)
        for limb in limbs:
            if len(limb) != 2 or not all(0 <= v < num_keypoints for v in limb):
                raise ValueError(f'each limb must be a pair of keypoint indices in '
                                 f'[0, {num_keypoints}), got {limb!r} (limbs={limbs!r}); set '
                                 f'limbs to the skeleton of your keypoints')
        if sigma <= 0 or beta <= 0:
            raise ValueError(f'sigma and beta must be > 0, got sigma={sigma}, beta={beta}')
        self.num_keypoints = num_keypoints
        self.limbs = limbs
        self.sigma = float(sigma)
        self.beta = float(beta)
        self.min_sigma_px = float(min_sigma_px)
        self.with_keypoints = bool(with_keypoints)
        if max_size is not None and int(max_size) < 1:
            raise ValueError(f'max_size must be >= 1 or None, got {max_size!r}')
        self.max_size = None if max_size is None else int(max_size)
        self.register_buffer('_ends', torch.tensor(limbs, dtype=torch.long).view(-1, 2),
                             persistent=False)

    @property
    def out_channels(self) -> int:
        return len(self.limbs) + (self.num_keypoints if self.with_keypoints else 0)

    def keypoints(self, heatmaps: Tensor) -> Tuple[Tensor, Tensor]:
        """:func:`soft_argmax` with this module's ``beta``."""
        if heatmaps.shape[1] != self.num_keypoints:
            raise ValueError(f'LimbMaps was built for {self.num_keypoints} keypoints, got '
                             f'heatmaps of {heatmaps.shape[1]} channels')
        return soft_argmax(heatmaps, self.beta)

    def draw(self, points: Tensor, conf: Tensor, size: Sequence[int],
             memory_format: torch.memory_format = torch.contiguous_format) -> Tensor:
        """Limb and keypoint maps of ``(points, conf)`` at ``size = (h, w)``, in
        ``memory_format`` (``torch.channels_last`` for a channels-last network: the
        maps are then not converted by each convolution that reads them)."""
        h, w = int(size[0]), int(size[1])
        if self.max_size is not None and max(h, w) > self.max_size:
            f = self.max_size / max(h, w)
            small = self.draw(points, conf, (max(1, round(h * f)), max(1, round(w * f))),
                              torch.channels_last)
            # bilinear resizing of a channels-last map gives the same values several
            # times faster on CPUs (docs/results.md, "Iterations per second")
            big = F.interpolate(small, size=(h, w), mode='bilinear', align_corners=False)
            return big.contiguous(memory_format=memory_format)
        dtype, device = points.dtype, points.device
        gx = ((torch.arange(w, device=device, dtype=dtype) + 0.5) / w).view(1, 1, 1, w)
        gy = ((torch.arange(h, device=device, dtype=dtype) + 0.5) / h).view(1, 1, h, 1)
        sigma = max(self.sigma, self.min_sigma_px / min(h, w))
        d2 = _segment_distance2(points[:, self._ends[:, 0]], points[:, self._ends[:, 1]], gx, gy)
        limb_conf = torch.minimum(conf[:, self._ends[:, 0]], conf[:, self._ends[:, 1]])
        limbs = gaussian(d2 / (2 * sigma**2)) * limb_conf[..., None, None]
        if not self.with_keypoints:
            return limbs.contiguous(memory_format=memory_format)
        px, py = points[..., 0, None, None], points[..., 1, None, None]
        dots = gaussian(((gx - px)**2 + (gy - py)**2) / (2 * sigma**2)) * conf[..., None, None]
        return torch.cat([limbs, dots], 1).contiguous(memory_format=memory_format)

    def forward(self, heatmaps: Tensor, size: Sequence[int]) -> Tensor:
        """Limb and keypoint maps of ``heatmaps`` at ``size = (h, w)``."""
        return self.draw(*self.keypoints(heatmaps), size)

    def extra_repr(self) -> str:
        return (f'num_keypoints={self.num_keypoints}, limbs={len(self.limbs)}, '
                f'sigma={self.sigma}, beta={self.beta}, with_keypoints={self.with_keypoints}, '
                f'max_size={self.max_size}')


def hand_region(points: Tensor, conf: Tensor, size: Sequence[int], radius: float = 0.07,
                arm_radius: float = 0.1, arm_length: float = 2.5,
                limbs: Optional[Sequence[Sequence[int]]] = None, edge_px: float = 1.0) -> Tensor:
    """Where a hand (and its forearm) covers the image: thick bones of the 21-keypoint hand.

    Each bone is a capsule of ``radius`` (a fraction of the image side) around
    the segment between its keypoints; the forearm is a capsule of
    ``arm_radius`` from the wrist away from the middle finger's knuckle, over
    ``arm_length`` times the wrist-to-knuckle distance (the renderer's sleeves
    and real arms leave the crop that way). Edges are soft over ``edge_px``
    pixels; a bone counts by its keypoints' smaller confidence.

    Args:
        points: ``(N, K, 2)`` keypoints ``(x, y)`` as fractions of the side
            (:func:`soft_argmax`).
        conf: ``(N, K)`` confidences in ``[0, 1]``.
        size: ``(h, w)`` of the mask.
        radius: Bone radius, fraction of the side.
        arm_radius: Forearm radius, fraction of the side.
        arm_length: Forearm length in wrist-to-knuckle lengths (0: none).
        limbs: Bones (default :data:`HAND21_LIMBS`; the forearm needs the
            wrist (0) and the middle finger's knuckle (9)).
        edge_px: Width of the soft edge in pixels.

    Returns:
        ``(N, 1, h, w)`` in ``[0, 1]``.
    """
    limbs = HAND21_LIMBS if limbs is None else limbs
    h, w = int(size[0]), int(size[1])
    dtype, device = points.dtype, points.device
    ends = torch.tensor(limbs, dtype=torch.long, device=device).view(-1, 2)
    a, b = points[:, ends[:, 0]], points[:, ends[:, 1]]
    c = torch.minimum(conf[:, ends[:, 0]], conf[:, ends[:, 1]])
    r = torch.full_like(c, float(radius))
    if arm_length > 0 and points.shape[1] > 9:
        wrist, knuckle = points[:, 0], points[:, 9]
        a = torch.cat([a, wrist[:, None]], 1)
        b = torch.cat([b, (wrist + arm_length * (wrist - knuckle))[:, None]], 1)
        c = torch.cat([c, torch.minimum(conf[:, 0], conf[:, 9])[:, None]], 1)
        r = torch.cat([r, torch.full_like(c[:, :1], float(arm_radius))], 1)
    scale = torch.tensor([w, h], dtype=dtype, device=device)
    a, b = a * scale, b * scale  # pixels
    gx = (torch.arange(w, device=device, dtype=dtype) + 0.5).view(1, 1, 1, w)
    gy = (torch.arange(h, device=device, dtype=dtype) + 0.5).view(1, 1, h, 1)
    dist = _segment_distance2(a, b, gx, gy).sqrt()
    inside = ((r[..., None, None] * min(h, w) - dist) / max(edge_px, 1e-3) + 0.5).clamp(0, 1)
    return (inside * c[..., None, None]).amax(1, keepdim=True)


def keypoint_heatmaps(codec, keypoints, keypoints_visible=None) -> Tensor:
    """Keypoints in crop pixels → the heatmaps ``codec`` encodes them to.

    Args:
        codec: A heatmap codec (``MSRAHeatmap``, ...): what the pose head was
            trained to output.
        keypoints: ``(N, K, 2)`` keypoints in the crop's pixels (array or
            tensor).
        keypoints_visible: ``(N, K)`` visibility (or ``(N, K, D)``, as MMPose
            may store it: the first value counts; default: all visible);
            keypoints with none are not drawn.

    Returns:
        ``(N, K, h, w)`` heatmaps (CPU, float).
    """
    kpts = np.asarray(keypoints.detach().cpu() if torch.is_tensor(keypoints) else keypoints,
                      dtype=np.float32)
    if kpts.ndim != 3 or kpts.shape[-1] != 2:
        raise ValueError(f'keypoints must be (N, K, 2) crop pixels, got {kpts.shape}')
    if keypoints_visible is None:
        vis = np.ones(kpts.shape[:2], np.float32)
    else:
        vis = np.asarray(keypoints_visible.detach().cpu() if torch.is_tensor(keypoints_visible)
                         else keypoints_visible,
                         dtype=np.float32).reshape(*kpts.shape[:2], -1)[..., 0]
    maps = [codec.encode(k[None], v[None])['heatmaps'] for k, v in zip(kpts, vis)]
    return torch.from_numpy(np.stack(maps)).float()
