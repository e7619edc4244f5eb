"""The articulated hand: skeleton, joint limits and forward kinematics.

Hand-local frame of a *right* hand (millimetres): ``x`` points to the thumb
side (radial), ``y`` from the wrist to the fingers (distal), ``z`` out of the
palm (palmar). A left hand is the mirror image (``x -> -x``).

The 21 keypoints follow the OneHand10K / COCO-WholeBody-hand order: 0 wrist,
then thumb (CMC, MCP, IP, tip), index, middle, ring and pinky (MCP, PIP, DIP,
tip), each from base to tip.

Joint angles are in degrees. Finger flexion bends towards the palm (``+z``),
abduction turns a finger about the palm normal towards the thumb (``+x``).
The thumb has its own base frame (rolled so that its pad faces the fingers):
``cmc_flex`` moves it across the palm (opposition), ``cmc_abd`` lifts it off
the palm plane (palmar abduction).
"""
import math
from typing import Dict, Tuple

import numpy as np

__all__ = [
    'KEYPOINT_NAMES', 'SKELETON', 'FLIP_PAIRS', 'FINGERS', 'FINGER_JOINTS', 'JOINT_LIMITS',
    'WRIST_LIMITS', 'SHAPE_LIMITS', 'CAPSULE_NAMES', 'CAPSULE_JOINTS', 'CAPSULE_IS_ARM',
    'PALM_JOINTS', 'WEB_JOINTS', 'HandGeometry', 'forward_kinematics', 'matmul3', 'apply3',
    'rotation_x', 'rotation_y', 'rotation_z', 'rotation_matrix', 'rotation_matrices'
]

KEYPOINT_NAMES: Tuple[str, ...] = (
    'wrist', 'thumb1', 'thumb2', 'thumb3', 'thumb4', 'forefinger1', 'forefinger2', 'forefinger3',
    'forefinger4', 'middle_finger1', 'middle_finger2', 'middle_finger3', 'middle_finger4',
    'ring_finger1', 'ring_finger2', 'ring_finger3', 'ring_finger4', 'pinky_finger1',
    'pinky_finger2', 'pinky_finger3', 'pinky_finger4')
"""Keypoint names, exactly as in MMPose's OneHand10K metainfo."""

SKELETON: Tuple[Tuple[int, int], ...] = tuple(
    (0 if j == 0 else 1 + 4 * f + j - 1, 1 + 4 * f + j) for f in range(5) for j in range(4))
"""Bones as 0-based keypoint index pairs (wrist to each finger base, then along the finger)."""

FLIP_PAIRS: Tuple[Tuple[int, int], ...] = ()
"""A single hand has no left/right keypoint pairs (flipping changes the hand side only)."""

FINGERS: Tuple[str, ...] = ('thumb', 'index', 'middle', 'ring', 'pinky')

FINGER_JOINTS: Dict[str, Tuple[str, str, str, str]] = {
    'thumb': ('cmc_flex', 'cmc_abd', 'mcp_flex', 'ip_flex'),
    'index': ('mcp_flex', 'mcp_abd', 'pip_flex', 'dip_flex'),
    'middle': ('mcp_flex', 'mcp_abd', 'pip_flex', 'dip_flex'),
    'ring': ('mcp_flex', 'mcp_abd', 'pip_flex', 'dip_flex'),
    'pinky': ('mcp_flex', 'mcp_abd', 'pip_flex', 'dip_flex'),
}
"""Names of the four angles of each finger, in the order they are stored."""

_FINGER_LIMITS = {
    'mcp_flex': (-25.0, 95.0),
    'pip_flex': (-5.0, 115.0),
    'dip_flex': (-10.0, 85.0),
}
JOINT_LIMITS: Dict[str, Dict[str, Tuple[float, float]]] = {
    'thumb': {
        'cmc_flex': (-25.0, 55.0),
        'cmc_abd': (-15.0, 70.0),
        'mcp_flex': (-15.0, 75.0),
        'ip_flex': (-20.0, 90.0)
    },
    'index': dict(_FINGER_LIMITS, mcp_abd=(-15.0, 25.0)),
    'middle': dict(_FINGER_LIMITS, mcp_abd=(-15.0, 15.0)),
    'ring': dict(_FINGER_LIMITS, mcp_abd=(-20.0, 12.0)),
    'pinky': dict(_FINGER_LIMITS, mcp_abd=(-30.0, 12.0)),
}
"""Anatomical range (degrees, inclusive) of every finger angle."""

WRIST_LIMITS: Dict[str, Tuple[float, float]] = {'flex': (-60.0, 60.0), 'dev': (-20.0, 30.0)}
"""Wrist flexion (towards the palm) and radial deviation, degrees: they orient the forearm."""

SHAPE_LIMITS: Dict[str, Tuple[float, float]] = {
    'finger_length': (0.9, 1.1),
    'palm_width': (0.9, 1.12),
    'thickness': (0.85, 1.2),
}
"""Relative hand proportions (part of the pose: they change the silhouette)."""

# Finger bases (MCP joints) on the palm's mid-plane, and the rest direction of
# each finger about the palm normal (degrees towards the thumb).
_MCP = {'index': (22.0, 88.0), 'middle': (3.0, 92.0), 'ring': (-15.0, 86.5),
        'pinky': (-30.0, 75.0)}
_REST_SPLAY = {'index': 4.0, 'middle': 0.0, 'ring': -4.0, 'pinky': -9.0}
_BONES = {  # proximal, middle, distal lengths (mm)
    'thumb': (44.0, 33.0, 27.0),
    'index': (41.0, 25.0, 21.0),
    'middle': (46.0, 29.0, 22.0),
    'ring': (43.0, 28.0, 21.5),
    'pinky': (34.0, 20.0, 19.5),
}
_RADII = {  # capsule radius of each bone (mm): tapering towards the tip
    'thumb': (11.5, 10.0, 8.6),
    'index': (9.4, 8.3, 7.3),
    'middle': (9.7, 8.6, 7.5),
    'ring': (9.1, 8.1, 7.1),
    'pinky': (8.0, 7.1, 6.4),
}
_THUMB_CMC = (16.0, 13.0, 7.0)
_THUMB_SPREAD = 32.0  # rest angle of the thumb away from the fingers in the palm plane
_THUMB_ROLL = -62.0  # roll of the thumb about its own axis (its pad faces the fingers)
_WRIST = (-3.0, 0.0, 0.0)
_PALM_OUTLINE = ((-25.0, -10.0), (-33.0, 24.0), (-35.0, 52.0), (-31.0, 75.0), (-15.5, 87.0),
                 (3.0, 92.5), (22.0, 88.5), (29.0, 62.0), (27.0, 30.0), (19.0, -10.0))
_PALM_THICKNESS = 24.0
_FOREARM = ((60.0, 24.0), (250.0, 26.0))  # (end distance from the wrist, radius) per part


def rotation_x(deg: float) -> np.ndarray:
    """Rotation about ``x`` by ``deg`` degrees (``+y`` turns towards ``+z``)."""
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def rotation_y(deg: float) -> np.ndarray:
    """Rotation about ``y`` by ``deg`` degrees (``+z`` turns towards ``+x``)."""
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def rotation_z(deg: float) -> np.ndarray:
    """Rotation about ``z`` by ``deg`` degrees (``+x`` turns towards ``+y``)."""
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rotation_matrices(quaternions: np.ndarray) -> np.ndarray:
    """``(N, 3, 3)`` rotations of ``(N, 4)`` quaternions ``[w, x, y, z]`` (normalised here).

    Raises:
        ValueError: A quaternion has (almost) zero norm.
    """
    q = np.asarray(quaternions, float)
    norm = np.sqrt((q * q).sum(-1))
    if np.any(norm < 1e-9):
        bad = q[int(np.argmin(norm))].tolist()
        raise ValueError(f'pose rotation {bad} is not a valid quaternion (zero norm)')
    w, x, y, z = (q / norm[:, None]).T
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
        np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
        np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1)
    ], axis=1)


def rotation_matrix(quaternion) -> np.ndarray:
    """3x3 rotation of a (not necessarily normalised) quaternion ``[w, x, y, z]``."""
    w, x, y, z = (float(v) for v in quaternion)
    n = math.sqrt(w * w + x * x + y * y + z * z)
    if n < 1e-9:
        raise ValueError(f'pose rotation {list(quaternion)} is not a valid quaternion')
    w, x, y, z = w / n, x / n, y / n, z / n
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


CAPSULE_NAMES: Tuple[str, ...] = tuple(f'{f}{b}' for f in FINGERS
                                       for b in range(3)) + ('forearm0', 'forearm1')
"""The capsules of :class:`HandGeometry`, in order: three bones per finger, then the forearm."""

CAPSULE_JOINTS: Tuple[Tuple[int, ...], ...] = tuple(
    (1 + 4 * f + b, 2 + 4 * f + b) for f in range(5) for b in range(3)) + ((0, ), ())
"""Keypoints each capsule carries (a keypoint is visible when a part carrying it is)."""

CAPSULE_IS_ARM = np.array([name.startswith('forearm') for name in CAPSULE_NAMES])
"""Which capsules belong to the forearm rather than the hand."""

PALM_JOINTS: Tuple[int, ...] = (0, 1, 5, 9, 13, 17)
"""Keypoints carried by the palm."""

WEB_JOINTS: Tuple[int, ...] = (1, 2, 5)
"""Keypoints carried by the thumb-index web."""


def matmul3(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Stacked 3x3 (or 3xN) matrix products with a fixed summation order.

    Elementwise products summed in index order, so every result is
    bit-identical whatever the batch it is computed in (BLAS kernels may
    differ with the batch size).
    """
    return (a[..., :, 0, None] * b[..., None, 0, :] + a[..., :, 1, None] * b[..., None, 1, :] +
            a[..., :, 2, None] * b[..., None, 2, :])


def apply3(m: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``m @ p`` for every point of ``points`` (``(..., K, 3)``) with ``m`` ``(..., 3, 3)``."""
    m = m[..., None, :, :]
    return (m[..., 0] * points[..., 0, None] + m[..., 1] * points[..., 1, None] +
            m[..., 2] * points[..., 2, None])


class HandGeometry:
    """A batch of posed hands: keypoints and parts, all in one frame (millimetres).

    Attributes:
        joints: Keypoints, shape ``(N, 21, 3)``.
        starts: Start point of each capsule (:data:`CAPSULE_NAMES`), ``(N, P, 3)``.
        ends: End point of each capsule, ``(N, P, 3)``.
        radii: Radius of each capsule, ``(N, P)``.
        palm: Palm outline on the mid-plane, ``(N, Q, 3)``.
        palm_normal: Unit palmar normal of the palm, ``(N, 3)``.
        palm_thickness: Thickness of the palm slab, ``(N,)``.
        web: The thumb-index web, a triangle, ``(N, 3, 3)``.
    """

    __slots__ = ('joints', 'starts', 'ends', 'radii', 'palm', 'palm_normal', 'palm_thickness',
                 'web')

    def __init__(self, joints: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                 radii: np.ndarray, palm: np.ndarray, palm_normal: np.ndarray,
                 palm_thickness: np.ndarray, web: np.ndarray) -> None:
        self.joints = joints
        self.starts = starts
        self.ends = ends
        self.radii = radii
        self.palm = palm
        self.palm_normal = palm_normal
        self.palm_thickness = palm_thickness
        self.web = web

    def transformed(self, rot: np.ndarray, trans: np.ndarray) -> 'HandGeometry':
        """Return the geometry under ``p -> rot @ p + trans``.

        Args:
            rot: ``(N, 3, 3)`` linear maps (may mirror).
            trans: ``(N, 3)`` translations.
        """
        t = trans[:, None, :]
        return HandGeometry(
            apply3(rot, self.joints) + t, apply3(rot, self.starts) + t,
            apply3(rot, self.ends) + t, self.radii, apply3(rot, self.palm) + t,
            apply3(rot, self.palm_normal[:, None, :])[:, 0], self.palm_thickness,
            apply3(rot, self.web) + t)


_PALM = np.array([(x, y, 0.0) for x, y in _PALM_OUTLINE])
_PALM_DISTAL = _PALM[:, 1] > 60.0  # outline points that move with the finger bases
# Per-finger constants stacked in FINGERS order for the vectorised kinematics.
_BASE_FRAMES = np.stack([rotation_z(-_THUMB_SPREAD) @ rotation_y(_THUMB_ROLL)] +
                        [np.eye(3)] * 4)
_SPLAY = np.array([0.0] + [_REST_SPLAY[f] for f in FINGERS[1:]])
_BASES = np.array([_THUMB_CMC] + [(*_MCP[f], 0.0) for f in FINGERS[1:]])
_BONE_LENGTHS = np.array([_BONES[f] for f in FINGERS])
_BONE_RADII = np.array([_RADII[f] for f in FINGERS])
_TIP_INSET = 0.6  # the fingertip keypoint sits this many radii inside the distal capsule's end
_AXES = ((1, 2), (2, 0), (0, 1))


def _rotations(axis: int, degrees: np.ndarray) -> np.ndarray:
    """Rotations about coordinate ``axis`` (right-handed), shape ``degrees.shape + (3, 3)``."""
    rad = np.radians(degrees)
    c, s = np.cos(rad), np.sin(rad)
    out = np.zeros(rad.shape + (3, 3))
    i, j = _AXES[axis]
    out[..., axis, axis] = 1.0
    out[..., i, i] = c
    out[..., j, j] = c
    out[..., i, j] = -s
    out[..., j, i] = s
    return out


def forward_kinematics(angles: np.ndarray, wrist: np.ndarray, shape: np.ndarray) -> HandGeometry:
    """Pose a batch of right hands.

    Args:
        angles: ``(N, 5, 4)`` degrees: for each finger of :data:`FINGERS`
            its angles in the order of :data:`FINGER_JOINTS`.
        wrist: ``(N, 2)`` wrist flexion and radial deviation (degrees),
            which orient the forearm.
        shape: ``(N, 3)`` proportions in the order of :data:`SHAPE_LIMITS`.

    Returns:
        HandGeometry: Keypoints and parts in the hand-local frame.
    """
    angles = np.asarray(angles, float)
    n = len(angles)
    length, width, thick = (np.asarray(shape, float)[:, i] for i in range(3))
    # Base frame, then the first joint's two rotations (abduction about the
    # palm normal, flexion), then the two distal flexions, all about local axes.
    frames1 = matmul3(matmul3(np.broadcast_to(_BASE_FRAMES, (n, 5, 3, 3)),
                              _rotations(2, -(_SPLAY + angles[..., 1]))),
                      _rotations(0, angles[..., 0]))
    frames2 = matmul3(frames1, _rotations(0, angles[..., 2]))
    frames3 = matmul3(frames2, _rotations(0, angles[..., 3]))
    dirs = np.stack([frames1[..., 1], frames2[..., 1], frames3[..., 1]], axis=2)  # (N, 5, 3, 3)
    bases = np.broadcast_to(_BASES, (n, 5, 3)).copy()
    bases[..., 0] *= width[:, None]
    bases[:, 1:, 1] *= length[:, None]  # finger bases move with finger length, the thumb's not
    steps = dirs * (_BONE_LENGTHS * length[:, None, None])[..., None]
    chain = bases[:, :, None, :] + np.cumsum(steps, axis=2)  # (N, 5, 3, 3) joint ends
    joints = np.empty((n, 21, 3))
    joints[:, 0] = np.stack([_WRIST[0] * width, np.full(n, _WRIST[1]), np.full(n, _WRIST[2])], -1)
    finger_joints = joints[:, 1:].reshape(n, 5, 4, 3)
    finger_joints[:, :, 0] = bases
    finger_joints[:, :, 1:] = chain
    n_caps = len(CAPSULE_NAMES)
    radii = np.empty((n, n_caps))
    radii[:, :15] = (_BONE_RADII * thick[:, None, None]).reshape(n, 15)
    starts = np.empty((n, n_caps, 3))
    ends = np.empty((n, n_caps, 3))
    starts[:, :15] = finger_joints[:, :, :3].reshape(n, 15, 3)
    cap_ends = chain.copy()
    inset = _TIP_INSET * _BONE_RADII[:, 2] * thick[:, None]  # (N, 5)
    cap_ends[:, :, 2] -= dirs[:, :, 2] * inset[..., None]
    ends[:, :15] = cap_ends.reshape(n, 15, 3)

    palm = np.broadcast_to(_PALM, (n, ) + _PALM.shape).copy()
    palm[..., 0] *= width[:, None]
    palm[:, _PALM_DISTAL, 1] *= length[:, None]
    # Palmar flexion of the hand puts the forearm on the palm side of the hand frame.
    wrist = np.asarray(wrist, float)
    arm_rot = matmul3(_rotations(0, -wrist[:, 0]), _rotations(2, wrist[:, 1]))
    arm_dir = -arm_rot[..., 1]  # the rotated (0, -1, 0)
    previous = 0.0
    for i, (stop, radius) in enumerate(_FOREARM):
        starts[:, 15 + i] = joints[:, 0] + arm_dir * previous
        ends[:, 15 + i] = joints[:, 0] + arm_dir * stop
        radii[:, 15 + i] = radius * width
        previous = stop
    web = np.stack([joints[:, 1] + (0.0, 4.0, 0.0), joints[:, 2],
                    0.55 * joints[:, 2] + 0.45 * joints[:, 5]], axis=1)
    palm_normal = np.zeros((n, 3))
    palm_normal[:, 2] = 1.0
    return HandGeometry(joints, starts, ends, radii, palm, palm_normal, _PALM_THICKNESS * thick,
                        web)
