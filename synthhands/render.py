"""Rendering: pose -> geometry buffer -> shaded image.

Rendering is split in two so that the ``K`` appearances of a pose share the
pose-only part, and both parts work on batches (numpy's per-call overhead
dominates at 64x64, so the numbers of many images go through each operation
together):

1. :func:`render_geometries` (pose only) poses the 3D hands, places the
   camera and the crop, and rasterises each hand back to front (painter's
   algorithm with a binary split at the palm plane, which orders everything on
   one side of the palm correctly against everything on the other) into a
   super-sampled *geometry buffer*: surface normal, coverage and part id per
   pixel. Capsules are drawn as three bands (the front, then the two sides)
   whose normals follow the cylinder's cross-section, so shading varies
   across a finger's width. The buffer is box-filtered down to the output size
   (anti-aliasing). A keypoint is visible when the front-most part at its
   pixel is a part that carries it (a depth test by the same order that
   draws the image).
2. :func:`shade_batch` (appearance only) lights the normals per pixel
   (wrapped Lambert, ambient, a light fall-off gradient, Blinn-Phong
   highlight), multiplies by the skin or sleeve albedo and texture,
   composites over a procedural background with a soft cast shadow, then
   applies exposure, gamma, blur and sensor noise.

Every batched operation is elementwise (or per image), so an image is
bit-identical whatever batch it is rendered in: :func:`render` of one pose
reproduces the dataset writer's files exactly. Pixel coordinates put pixel
centres on integers (OpenCV's convention, as MMPose expects).
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from .hand_model import (CAPSULE_IS_ARM, CAPSULE_JOINTS, PALM_JOINTS, WEB_JOINTS, apply3,
                         forward_kinematics, rotation_matrices)
from .poses import stack_poses
from .textures import make_background, make_skin_texture, value_noise, white_noise

__all__ = ['PoseRender', 'render_geometry', 'render_geometries', 'shade', 'shade_batch',
           'render', 'DEFAULT_SUPERSAMPLE']

DEFAULT_SUPERSAMPLE = 2
"""Geometry is rasterised at this multiple of the output size, then box-filtered."""

_SHIFT = 4  # fixed-point bits of cv2 drawing coordinates
_ONE = float(1 << _SHIFT)
_BAND_T = 0.72  # |sin| of the normal's tilt in the side bands of a capsule
_HAND_CENTRE = np.array((0.0, 50.0, 0.0))  # rotation centre of the hand (hand-local, mm)
_ARM_MIN_Z = 0.35  # the forearm is cut where it comes closer than this x the hand's distance

# Part ids in the geometry buffer: 0 background, capsules 1.., palm, web; forearm >= _ARM_ID0.
_ARM_ID0 = 200
_CAPSULE_IDS = np.where(CAPSULE_IS_ARM, _ARM_ID0 + np.arange(len(CAPSULE_JOINTS)),
                        1 + np.arange(len(CAPSULE_JOINTS)))
_PART_IDS = _CAPSULE_IDS.tolist()
_PALM_ID = 100
_WEB_ID = 101
_CARRIES = np.zeros((256, 21), bool)
"""``_CARRIES[part_id, k]``: part ``part_id`` carries keypoint ``k``."""
for _c, _joints in enumerate(CAPSULE_JOINTS):
    _CARRIES[_CAPSULE_IDS[_c], list(_joints)] = True
_CARRIES[_PALM_ID, list(PALM_JOINTS)] = True
_CARRIES[_WEB_ID, list(WEB_JOINTS)] = True


class PoseRender:
    """The pose-only part of a rendering, at one output size.

    Attributes:
        size: Output side in pixels.
        keypoints: ``(21, 2)`` float64 pixel coordinates.
        visibility: ``(21,)`` bool, from the depth order.
        bbox: ``(4,)`` float64 ``[x, y, w, h]`` of the hand (without forearm).
        coverage: ``(S, S)`` float32 fraction of each pixel covered by hand
            or forearm.
        arm: ``(S, S)`` float32 fraction covered by the forearm.
        normals: ``(S, S, 3)`` float32 unit surface normals facing the camera
            (camera coordinates; arbitrary where ``coverage`` is 0).
        arm_axis: ``(4,)`` wrist-side pixel position of the forearm and the
            pixel vector along its visible length, for sleeves.
    """

    __slots__ = ('size', 'keypoints', 'visibility', 'bbox', 'coverage', 'arm', 'normals',
                 'arm_axis', '_derived')

    def __init__(self, size: int, keypoints: np.ndarray, visibility: np.ndarray,
                 bbox: np.ndarray, coverage: np.ndarray, arm: np.ndarray, normals: np.ndarray,
                 arm_axis: np.ndarray) -> None:
        self.size = size
        self.keypoints = keypoints
        self.visibility = visibility
        self.bbox = bbox
        self.coverage = coverage
        self.arm = arm
        self.normals = normals
        self.arm_axis = arm_axis
        self._derived: Dict[str, np.ndarray] = {}

    @property
    def hand_mask(self) -> np.ndarray:
        """``(S, S)`` bool: pixels at least half covered by the hand (palm and fingers)."""
        return (self.coverage - self.arm) >= 0.5

    @property
    def body_mask(self) -> np.ndarray:
        """``(S, S)`` bool: pixels at least half covered by the hand or the forearm."""
        return self.coverage >= 0.5

    # Pose-only fields used by shading, computed once and shared by all appearances.

    def soft_coverage(self) -> np.ndarray:
        """Coverage blurred like a soft shadow (shifted per light direction when shading)."""
        if 'soft_coverage' not in self._derived:
            self._derived['soft_coverage'] = cv2.GaussianBlur(self.coverage, (0, 0),
                                                              2.0 * self.size / 64.0)
        return self._derived['soft_coverage']

    def arm_fraction(self) -> np.ndarray:
        """Share of the covered part of each pixel that is forearm."""
        if 'arm_fraction' not in self._derived:
            cov = self.coverage
            self._derived['arm_fraction'] = np.divide(self.arm, cov, out=np.zeros_like(cov),
                                                      where=cov > 1e-6)
        return self._derived['arm_fraction']

    def arm_position(self) -> np.ndarray:
        """Position of each pixel along the forearm: 0 at the wrist end, 1 at the far end."""
        if 'arm_position' not in self._derived:
            size = self.size
            x0, y0, dx, dy = (float(v) for v in self.arm_axis)
            length2 = dx * dx + dy * dy
            if length2 > 1e-6:
                px = np.arange(size, dtype=np.float32)
                along = ((px[None, :] - np.float32(x0)) * np.float32(dx / length2) +
                         (px[:, None] - np.float32(y0)) * np.float32(dy / length2))
            else:
                along = np.ones((size, size), np.float32)
            self._derived['arm_position'] = along
        return self._derived['arm_position']


def _project(points: np.ndarray) -> np.ndarray:
    return points[..., :2] / points[..., 2:3]


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a[..., 0] * b[..., 0] + a[..., 1] * b[..., 1] + a[..., 2] * b[..., 2]


def _normalise(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.sqrt(_dot(v, v)), 1e-12)[..., None]


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.stack([
        a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1], a[..., 2] * b[..., 0] -
        a[..., 0] * b[..., 2], a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]
    ], -1)


def _encode(normals: np.ndarray) -> np.ndarray:
    """Unit normals -> uint8 codes of their x and y (``n * 127 + 128``)."""
    return np.clip(np.round(normals[..., :2] * 127.0 + 128.0), 1, 255).astype(np.int64)


def _draw_capsules(buf: np.ndarray, indices: List[int], codes: List, widths: List, a_fp: List,
                   b_fp: List, offsets: List) -> None:
    """Draw capsules as three bands: the whole capsule facing front, then its two sides.

    The side bands (a third of the width each) lie inside the capsule's
    outline, caps included, so the silhouette is the full capsule.
    """
    line, lt = cv2.line, cv2.LINE_8
    for c in indices:
        code, width, pid = codes[c], widths[c], _PART_IDS[c]
        (ax, ay), (bx, by), (ox, oy) = a_fp[c], b_fp[c], offsets[c]
        line(buf, (ax, ay), (bx, by), (code[0], code[1], 255, pid), width[0], lt, _SHIFT)
        line(buf, (ax - ox, ay - oy), (bx - ox, by - oy), (code[2], code[3], 255, pid), width[1],
             lt, _SHIFT)
        line(buf, (ax + ox, ay + oy), (bx + ox, by + oy), (code[4], code[5], 255, pid), width[1],
             lt, _SHIFT)


def _decode(buf: np.ndarray, size: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Box-filter a geometry buffer to ``size``: coverage, forearm coverage, unit normals.

    The normal codes are averaged premultiplied by coverage, so dividing by
    the coverage recovers the mean normal of the covered sub-pixels.
    """
    f32 = np.float32
    arm_mask = (buf[..., 3] >= _ARM_ID0).view(np.uint8) * np.uint8(255)
    if buf.shape[0] != size:
        buf = cv2.resize(buf, (size, size), interpolation=cv2.INTER_AREA)
        arm_mask = cv2.resize(arm_mask, (size, size), interpolation=cv2.INTER_AREA)
    small = buf.astype(f32)
    coverage = small[..., 2] * f32(1.0 / 255.0)
    arm = arm_mask.astype(f32)
    arm *= f32(1.0 / 255.0)
    inv = f32(255.0 / 127.0) / np.maximum(small[..., 2], f32(1.0))
    normals = np.empty((size, size, 3), f32)
    nx, ny, nz = normals[..., 0], normals[..., 1], normals[..., 2]
    np.multiply(small[..., 0], inv, out=nx)
    nx -= f32(128.0 / 127.0)
    np.multiply(small[..., 1], inv, out=ny)
    ny -= f32(128.0 / 127.0)
    np.multiply(nx, nx, out=nz)
    nz += ny * ny
    np.subtract(f32(1.0), nz, out=nz)
    np.maximum(nz, f32(0.0), out=nz)
    np.sqrt(nz, out=nz)
    np.negative(nz, out=nz)  # facing the camera
    return coverage, arm, normals


def render_geometries(poses: Sequence[Dict], size: int = 64,
                      supersample: int = DEFAULT_SUPERSAMPLE) -> List[PoseRender]:
    """Render the pose-only part of several poses.

    Args:
        poses: Pose dicts (:func:`.poses.sample_pose`).
        size: Output side in pixels.
        supersample: Rasterisation factor (anti-aliasing).

    Returns:
        list[PoseRender]: One per pose, everything :func:`shade_batch` needs.

    Raises:
        ValueError: ``size`` is below 8 or a pose is invalid.
    """
    if size < 8:
        raise ValueError(f'render size must be at least 8 pixels, got {size}')
    if supersample < 1:
        raise ValueError(f'supersample must be 1 or more, got {supersample}')
    n = len(poses)
    if n == 0:
        return []
    p = stack_poses(poses)
    rot = rotation_matrices(p['rotation'])
    rot[p['left'], :, 0] *= -1.0  # a left hand mirrors the hand-local x axis
    dist = p['distance']
    trans = np.zeros((n, 3))
    trans[:, 2] = dist
    trans -= apply3(rot, np.broadcast_to(_HAND_CENTRE, (n, 1, 3)))[:, 0]
    geom = forward_kinematics(p['angles'], p['wrist'], p['shape']).transformed(rot, trans)
    starts, ends, radii = geom.starts, geom.ends, geom.radii

    # Keep the forearm in front of the camera: cut it where it comes too close.
    z_min = (_ARM_MIN_Z * dist)[:, None]
    az, bz = starts[..., 2], ends[..., 2]
    too_close = CAPSULE_IS_ARM & (bz < z_min)
    keep = ~(too_close & (az <= z_min))
    shorten = too_close & (az > z_min)
    if shorten.any():
        frac = (az - z_min) / np.where(shorten, az - bz, 1.0)
        ends = np.where(shorten[..., None], starts + frac[..., None] * (ends - starts), ends)

    # The palm is a slab; one of its faces sees the camera.
    palm_n = geom.palm_normal
    palm_c = geom.palm.mean(axis=1)
    face_n = np.where((_dot(palm_c, palm_n) > 0)[:, None], -palm_n, palm_n)
    offset = (0.5 * geom.palm_thickness)[:, None, None] * face_n[:, None, :]
    face_pts = geom.palm + offset
    slab = np.concatenate([face_pts, geom.palm - offset], axis=1)
    uv_slab, uv_web = _project(slab), _project(geom.web)

    # Crop: a square around the hand (forearm excluded), margin and jitter from the pose.
    uv_a, uv_b = _project(starts), _project(ends)
    mean_z = 0.5 * (starts[..., 2] + ends[..., 2])
    r_uv = (radii / mean_z)[..., None]
    hand = ~CAPSULE_IS_ARM
    ha, hb, hr = uv_a[:, hand], uv_b[:, hand], r_uv[:, hand]
    extent = np.concatenate([ha - hr, ha + hr, hb - hr, hb + hr, uv_slab, uv_web], axis=1)
    lo, hi = extent.min(axis=1), extent.max(axis=1)
    side = (hi - lo).max(axis=1) * p['margin']
    centre = 0.5 * (lo + hi) + p['jitter'] * 0.5 * np.maximum(side[:, None] - (hi - lo), 0.0)
    origin = centre - 0.5 * side[:, None]
    scale = size / side  # normalised image plane -> output pixels
    ss = int(supersample)
    big = size * ss
    px_scale = scale[:, None, None]
    px_off = (-origin * scale[:, None] - 0.5)[:, None, :]
    ss_scale = (scale * ss)[:, None, None]
    ss_off = (-origin * scale[:, None] * ss - 0.5)[:, None, :]
    keypoints = _project(geom.joints) * px_scale + px_off
    box = np.stack([lo, hi], axis=1) * px_scale + px_off
    bboxes = np.concatenate([box[:, 0], box[:, 1] - box[:, 0]], axis=1)

    # Capsule bands: normals of the front, and of the two sides of the cross-section.
    mids = 0.5 * (starts + ends)
    axis = _normalise(ends - starts)
    view = _normalise(-mids)
    front = view - _dot(view, axis)[..., None] * axis
    front = np.where((_dot(front, front) < 1e-12)[..., None], view, front)
    front = _normalise(front)
    lateral = _normalise(_cross(axis, front))
    a_ss, b_ss = uv_a * ss_scale + ss_off, uv_b * ss_scale + ss_off
    d_ss = b_ss - a_ss
    perp = np.stack([-d_ss[..., 1], d_ss[..., 0]], axis=-1)
    lat2d = lateral[..., :2] - _project(mids) * lateral[..., 2:3]
    perp = np.where(((perp * perp).sum(-1) < 1e-6)[..., None], lat2d, perp)
    perp = perp / np.maximum(np.sqrt((perp * perp).sum(-1)), 1e-12)[..., None]
    lateral = np.where(((perp * lat2d).sum(-1) < 0)[..., None], -lateral, lateral)
    r_ss = radii / mean_z * ss_scale[..., 0]
    cos_t = math.sqrt(1.0 - _BAND_T**2)
    codes = np.concatenate([
        _encode(front),
        _encode(cos_t * front - _BAND_T * lateral),
        _encode(cos_t * front + _BAND_T * lateral)
    ], axis=-1).tolist()
    widths = np.maximum(1, np.round(np.stack([2 * r_ss, 2 * r_ss / 3], -1) - 1)).astype(
        np.int64).tolist()
    a_fp = np.round(a_ss * _ONE).astype(np.int64).tolist()
    b_fp = np.round(b_ss * _ONE).astype(np.int64).tolist()
    offsets = np.round(perp * (r_ss * (2.0 / 3.0) * _ONE)[..., None]).astype(np.int64).tolist()

    # Draw order: binary split at the palm plane, far to near within each side.
    in_front = _dot(mids - palm_c[:, None], face_n[:, None]) > 0
    order = np.argsort(-mids[..., 2], axis=1, kind='stable')
    order_front = np.take_along_axis(in_front, order, axis=1)
    order_keep = np.take_along_axis(keep, order, axis=1)
    web_front = (_dot(geom.web.mean(axis=1) - palm_c, face_n) > 0).tolist()
    view_palm = _normalise(-palm_c)
    rim_n = _normalise(view_palm - _dot(view_palm, palm_n)[:, None] * palm_n)
    polys = np.concatenate([uv_slab, uv_web], axis=1) * ss_scale + ss_off
    polys_fp = np.round(polys * _ONE).astype(np.int32)
    n_out = geom.palm.shape[1]
    rim_codes, face_codes = _encode(rim_n).tolist(), _encode(face_n).tolist()

    visibility = np.empty((n, 21), bool)
    kp_ss = np.clip(np.round(keypoints * ss + (0.5 * ss - 0.5)), 0, big - 1).astype(np.intp)
    joint_index = np.arange(21)
    decoded = []
    for i in range(n):
        # Channels: normal x and y codes, coverage, part id.
        buf = np.zeros((big, big, 4), np.uint8)
        ordered = order[i][order_keep[i]]
        ahead = order_front[i][order_keep[i]]
        capsules = (codes[i], widths[i], a_fp[i], b_fp[i], offsets[i])
        rim_c, face_c = rim_codes[i], face_codes[i]
        web_poly = polys_fp[i, 2 * n_out:]
        _draw_capsules(buf, ordered[~ahead].tolist(), *capsules)
        if not web_front[i]:
            cv2.fillConvexPoly(buf, web_poly, (face_c[0], face_c[1], 255, _WEB_ID), cv2.LINE_8,
                               _SHIFT)
        cv2.fillConvexPoly(buf, cv2.convexHull(polys_fp[i, :2 * n_out]),
                           (rim_c[0], rim_c[1], 255, _PALM_ID), cv2.LINE_8, _SHIFT)
        cv2.fillConvexPoly(buf, cv2.convexHull(polys_fp[i, :n_out]),
                           (face_c[0], face_c[1], 255, _PALM_ID), cv2.LINE_8, _SHIFT)
        if web_front[i]:
            cv2.fillConvexPoly(buf, web_poly, (face_c[0], face_c[1], 255, _WEB_ID), cv2.LINE_8,
                               _SHIFT)
        _draw_capsules(buf, ordered[ahead].tolist(), *capsules)
        ids = buf[..., 3]
        visibility[i] = _CARRIES[ids[kp_ss[i, :, 1], kp_ss[i, :, 0]], joint_index]
        decoded.append(_decode(buf, size))

    arm0, arm1 = np.flatnonzero(CAPSULE_IS_ARM)[[0, -1]]
    start = uv_a[:, arm0] * px_scale[:, 0] + px_off[:, 0]
    stop = np.where(keep[:, arm1, None], uv_b[:, arm1], uv_b[:, arm0])
    stop = stop * px_scale[:, 0] + px_off[:, 0]
    arm_axes = np.concatenate([start, stop - start], axis=1)
    arm_axes[~keep[:, arm0]] = 0.0
    return [
        PoseRender(size, keypoints[i], visibility[i], bboxes[i], *decoded[i], arm_axes[i])
        for i in range(n)
    ]


def render_geometry(pose: Dict, size: int = 64,
                    supersample: int = DEFAULT_SUPERSAMPLE) -> PoseRender:
    """Render the pose-only part of one pose (see :func:`render_geometries`)."""
    return render_geometries([pose], size, supersample)[0]


def _channels(color, rgb: bool):
    """An RGB triple -> a BGR float32 array (``rgb``) or one luma value (a float)."""
    if rgb:
        return np.array(color[::-1], np.float32)
    r, g, b = color
    return 0.299 * r + 0.587 * g + 0.114 * b


def _clip01(img: np.ndarray) -> np.ndarray:
    """Clamp to ``[0, 1]`` in place (two ufunc calls: cheaper than ``np.clip``)."""
    np.maximum(img, np.float32(0.0), out=img)
    return np.minimum(img, np.float32(1.0), out=img)


def _surface(geometry: PoseRender, appearance: Dict, rgb: bool,
             rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """The background (with the hand's soft cast shadow) and the albedo map of one image."""
    size = geometry.size
    light = appearance['lighting']
    skin = appearance['skin']
    sleeve = appearance['sleeve']
    f32 = np.float32

    def per_pixel(field: np.ndarray) -> np.ndarray:
        return field[..., None] if rgb else field

    bg_params = appearance['background']
    gain = float(light['background_gain'])
    colors = [_channels(c, rgb) * gain for c in bg_params['colors']]
    background = make_background(bg_params, rng, size, colors)
    strength = float(light['shadow'])
    if strength > 0:
        ldir = np.asarray(light['direction'], float)
        ldir /= max(math.sqrt(float(ldir @ ldir)), 1e-6)
        shift = -ldir[:2] * (0.12 * size) * (1.0 + ldir[2])
        mat = np.float32([[1, 0, shift[0]], [0, 1, shift[1]]])
        shadow = cv2.warpAffine(geometry.soft_coverage(), mat, (size, size),
                                flags=cv2.INTER_LINEAR)
        shadow *= f32(-strength)
        shadow += f32(1.0)
        background *= per_pixel(shadow)

    texture = make_skin_texture(skin, rng, size)
    if rgb:
        albedo = texture[..., None] * _channels(skin['albedo'], rgb)
    else:
        texture *= f32(_channels(skin['albedo'], rgb))
        albedo = texture
    if sleeve['kind'] != 'none' and float(geometry.arm.max()) > 0.01:
        along = geometry.arm_position()
        cloth = along - f32(sleeve['start'])
        cloth *= f32(8.0)
        np.minimum(np.maximum(cloth, f32(0.0), out=cloth), f32(1.0), out=cloth)
        cloth *= geometry.arm_fraction()
        cloth_tex = value_noise(rng, size, 6.0, 2)
        cloth_tex *= f32(0.08)
        cloth_tex += f32(1.0)
        if float(sleeve['stripes']) > 0:
            cloth_tex *= 1.0 + f32(0.25) * np.sign(
                np.sin(f32(2 * math.pi * float(sleeve['stripes'])) * along))
        cloth_albedo = per_pixel(cloth_tex) * _channels(sleeve['albedo'], rgb)
        albedo += per_pixel(cloth) * (cloth_albedo - albedo)
    return background, albedo


def shade(geometry: PoseRender, appearance: Dict, rgb: bool = False) -> np.ndarray:
    """Light, texture and composite a :class:`PoseRender` with an appearance.

    Args:
        geometry: Output of :func:`render_geometry`.
        appearance: An appearance dict (:func:`.appearance.sample_appearance`).
        rgb: Colour output (BGR channel order, like OpenCV and MMPose's
            ``LoadImage``) instead of monochrome.

    Returns:
        np.ndarray: uint8 image, ``(S, S)`` or ``(S, S, 3)``.
    """
    size = geometry.size
    f32 = np.float32
    rng = np.random.default_rng(int(appearance['seed']))
    light = appearance['lighting']
    cam = appearance['camera']
    img, albedo = _surface(geometry, appearance, rgb, rng)

    def per_pixel(field: np.ndarray) -> np.ndarray:
        return field[..., None] if rgb else field

    # Per-pixel lighting of the normals: wrapped Lambert, fall-off, ambient, Blinn-Phong.
    ldir = np.asarray(light['direction'], float)
    ldir /= max(math.sqrt(float(ldir @ ldir)), 1e-6)
    wrap = float(light['wrap'])
    intensity = float(light['intensity']) / (1.0 + wrap)
    half_vec = ldir + (0.0, 0.0, -1.0)
    half_vec /= max(math.sqrt(float(half_vec @ half_vec)), 1e-6)
    mat = np.zeros((2, 4), f32)
    mat[0, :3] = ldir * intensity
    mat[0, 3] = wrap * intensity
    mat[1, :3] = half_vec
    dots = cv2.transform(geometry.normals, mat)  # (S, S, 2): diffuse term, n.h
    lum = np.maximum(dots[..., 0], f32(0.0))
    grad = light['gradient']
    t = (np.arange(size, dtype=f32) + f32(0.5)) * f32(1.0 / size) - f32(0.5)
    falloff = np.outer(f32(1.0) + f32(grad[1]) * t, f32(1.0) + f32(grad[0]) * t)
    lum *= falloff
    lum += f32(light['ambient'])
    colour = albedo * per_pixel(lum)
    specular = float(light['specular'])
    if specular > 0.005:
        spec = np.maximum(dots[..., 1], f32(0.0))
        spec = cv2.pow(spec, float(light['shininess']))
        spec *= f32(specular)
        colour += per_pixel(spec)
    colour -= img
    colour *= per_pixel(geometry.coverage)
    img += colour

    # Camera: exposure, optics blur, sensor noise (shot noise grows with the signal),
    # gamma, 8-bit quantisation.
    img *= f32(cam['exposure'])
    _clip01(img)
    blur = float(cam['blur']) * size / 64.0
    if blur > 0.25:
        img = cv2.GaussianBlur(img, (0, 0), blur).reshape(img.shape)
    noise = white_noise(rng, img.shape)
    sigma = np.sqrt(img)
    sigma *= f32(cam['shot_noise'])
    sigma += f32(cam['noise'])
    noise *= sigma
    img += noise
    _clip01(img)
    img = cv2.pow(img, 1.0 / float(cam['gamma'])).reshape(img.shape)
    return cv2.convertScaleAbs(img, alpha=255.0)


def shade_batch(geometries: Sequence[PoseRender], appearances: Sequence[Dict],
                rgb: bool = False) -> List[np.ndarray]:
    """:func:`shade` for pairs of geometries and appearances."""
    if len(geometries) != len(appearances):
        raise ValueError(f'shade_batch needs one appearance per geometry, got '
                         f'{len(appearances)} for {len(geometries)}')
    return [shade(g, a, rgb) for g, a in zip(geometries, appearances)]


def render(pose: Dict, appearance: Dict, size: int = 64, rgb: bool = False,
           supersample: Optional[int] = None) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Render one image: ``pose`` (geometry, camera, crop) with ``appearance``.

    The keypoints and visibility depend on the pose only, so
    ``render(pose_of_x, appearance_of_y)`` is the ground-truth image of a
    "pose of x, appearance of y" mix with exactly x's keypoints. With the
    defaults it reproduces the dataset writer's image bytes exactly.

    Args:
        pose: A pose dict (e.g. ``ann['pose']`` of a dataset annotation).
        appearance: An appearance dict (e.g. ``ann['appearance']``).
        size: Output side in pixels.
        rgb: Colour (BGR) output instead of monochrome.
        supersample: Rasterisation factor; defaults to
            :data:`DEFAULT_SUPERSAMPLE`, which the dataset writer uses.

    Returns:
        tuple: ``image`` (uint8, ``(S, S)`` or ``(S, S, 3)``), ``keypoints_xy``
        (``(21, 2)`` float64 pixel coordinates) and ``visibility``
        (``(21,)`` bool).
    """
    geometry = render_geometry(pose, size,
                               DEFAULT_SUPERSAMPLE if supersample is None else supersample)
    return shade(geometry, appearance, rgb), geometry.keypoints, geometry.visibility
