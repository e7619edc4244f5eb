"""Hand poses: named grasp/gesture templates, noise and a random camera.

A pose is a json-serialisable dict; it fixes everything geometric about a
sample (articulation, hand side, proportions, global rotation, camera
distance and crop), so every appearance rendered with it has identical
keypoints::

    {'template': 'fist', 'blend': ['relaxed', 0.31],   # or None
     'side': 'right',
     'angles': {'thumb': [cmc_flex, cmc_abd, mcp_flex, ip_flex],
                'index': [mcp_flex, mcp_abd, pip_flex, dip_flex], ...},
     'wrist': {'flex': deg, 'dev': deg},
     'shape': {'finger_length': f, 'palm_width': f, 'thickness': f},
     'rotation': [w, x, y, z],           # unit quaternion, hand -> camera
     'distance': mm,                     # camera to hand centre
     'crop': {'margin': m, 'jitter': [jx, jy]}}
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .hand_model import FINGER_JOINTS, FINGERS, JOINT_LIMITS, SHAPE_LIMITS, WRIST_LIMITS
from .sampling import PARAM_DECIMALS, Draws, quantize

__all__ = ['POSE_TEMPLATES', 'TEMPLATE_WEIGHTS', 'sample_pose', 'clip_angles', 'template_angles',
           'stack_poses', 'PARAM_DECIMALS']

Angles4 = Tuple[float, float, float, float]

# Building blocks (degrees): fingers are (mcp_flex, mcp_abd, pip_flex, dip_flex),
# the thumb is (cmc_flex, cmc_abd, mcp_flex, ip_flex).
_EXT: Angles4 = (0.0, 0.0, 3.0, 2.0)
_BENT: Angles4 = (25.0, 0.0, 30.0, 18.0)
_CURL: Angles4 = (88.0, 0.0, 102.0, 62.0)
_HOOK: Angles4 = (10.0, 0.0, 95.0, 70.0)
_THUMB_OUT: Angles4 = (-10.0, 15.0, 0.0, 5.0)
_THUMB_REST: Angles4 = (8.0, 15.0, 12.0, 12.0)
_THUMB_OVER: Angles4 = (38.0, 12.0, 42.0, 32.0)   # wrapped over the curled fingers
_THUMB_TUCK: Angles4 = (50.0, 5.0, 30.0, 20.0)    # across the palm
_THUMB_OPP: Angles4 = (28.0, 50.0, 18.0, 22.0)    # opposed, towards the index tip


def _spread(value: float, fingers: Dict[str, Angles4]) -> Dict[str, Angles4]:
    """Add abduction ``value`` (degrees) spreading the four fingers apart."""
    factors = {'index': 1.0, 'middle': 0.15, 'ring': -0.8, 'pinky': -1.6}
    return {
        k: (v[0], v[1] + factors[k] * value, v[2], v[3]) if k in factors else v
        for k, v in fingers.items()
    }


def _hand(thumb: Angles4, index: Angles4, middle: Angles4, ring: Angles4, pinky: Angles4,
          spread: float = 0.0) -> Dict[str, Angles4]:
    return _spread(spread, {'thumb': thumb, 'index': index, 'middle': middle, 'ring': ring,
                            'pinky': pinky})


POSE_TEMPLATES: Dict[str, Dict[str, Angles4]] = {
    'open_palm': _hand(_THUMB_OUT, _EXT, _EXT, _EXT, _EXT, spread=4.0),
    'spread': _hand((-15.0, 25.0, 0.0, 0.0), _EXT, _EXT, _EXT, _EXT, spread=13.0),
    'flat': _hand((5.0, -5.0, 5.0, 5.0), _EXT, _EXT, _EXT, _EXT, spread=-2.0),
    'relaxed': _hand(_THUMB_REST, (15.0, 0.0, 22.0, 12.0), (22.0, 0.0, 30.0, 16.0),
                     (28.0, 0.0, 36.0, 20.0), (33.0, 0.0, 40.0, 24.0), spread=3.0),
    'fist': _hand(_THUMB_OVER, _CURL, _CURL, _CURL, _CURL),
    'point': _hand(_THUMB_OVER, _EXT, _CURL, _CURL, _CURL),
    'victory': _hand(_THUMB_OVER, _EXT, _EXT, _CURL, _CURL, spread=12.0),
    'three': _hand(_THUMB_TUCK, _EXT, _EXT, _EXT, _CURL, spread=6.0),
    'four': _hand(_THUMB_TUCK, _EXT, _EXT, _EXT, _EXT, spread=6.0),
    'thumbs_up': _hand((12.0, 5.0, -5.0, -5.0), _CURL, _CURL, _CURL, _CURL),
    'gun': _hand((-5.0, 20.0, 0.0, 0.0), _EXT, _CURL, _CURL, _CURL),
    'call_me': _hand((-15.0, 25.0, 0.0, 0.0), _CURL, _CURL, _CURL, _EXT, spread=8.0),
    'rock': _hand(_THUMB_OVER, _EXT, _CURL, _CURL, _EXT, spread=8.0),
    'pinch': _hand(_THUMB_OPP, (42.0, 0.0, 42.0, 25.0), _BENT, _BENT, _BENT, spread=2.0),
    'ok': _hand(_THUMB_OPP, (45.0, 0.0, 45.0, 28.0), _EXT, (5.0, 0.0, 8.0, 5.0),
                (10.0, 0.0, 12.0, 8.0), spread=8.0),
    'tripod': _hand((30.0, 45.0, 20.0, 25.0), (40.0, 0.0, 40.0, 25.0), (38.0, 0.0, 42.0, 25.0),
                    (60.0, 0.0, 70.0, 40.0), (65.0, 0.0, 75.0, 45.0)),
    'power_grasp': _hand((25.0, 40.0, 25.0, 25.0), (48.0, 0.0, 70.0, 40.0), (52.0, 0.0, 72.0, 42.0),
                         (55.0, 0.0, 72.0, 42.0), (58.0, 0.0, 70.0, 40.0)),
    'sphere_grasp': _hand((15.0, 50.0, 15.0, 15.0), (30.0, 0.0, 40.0, 25.0),
                          (30.0, 0.0, 42.0, 25.0),
                          (32.0, 0.0, 42.0, 25.0), (35.0, 0.0, 40.0, 24.0), spread=10.0),
    'claw': _hand((15.0, 35.0, 25.0, 35.0), _HOOK, _HOOK, _HOOK, _HOOK, spread=8.0),
    'flat_hook': _hand((10.0, 10.0, 10.0, 10.0), (85.0, 0.0, 5.0, 5.0), (85.0, 0.0, 5.0, 5.0),
                       (85.0, 0.0, 5.0, 5.0), (85.0, 0.0, 5.0, 5.0)),
    'key_grip': _hand((5.0, 5.0, 20.0, 30.0), (55.0, 0.0, 75.0, 50.0), _CURL, _CURL, _CURL),
}
"""Named articulations: grasps (power, sphere, tripod, pinch, key) and gestures."""

TEMPLATE_WEIGHTS: Dict[str, float] = {
    'open_palm': 1.5, 'spread': 1.0, 'flat': 0.7, 'relaxed': 1.5, 'fist': 1.3, 'point': 1.2,
    'victory': 1.0, 'three': 0.6, 'four': 0.5, 'thumbs_up': 0.9, 'gun': 0.6, 'call_me': 0.5,
    'rock': 0.5, 'pinch': 1.1, 'ok': 0.9, 'tripod': 0.7, 'power_grasp': 1.1,
    'sphere_grasp': 1.0, 'claw': 0.7, 'flat_hook': 0.5, 'key_grip': 0.5
}
"""Relative frequency of each template."""

ARM_TOWARDS_CAMERA_MAX = 0.6
"""Largest cosine between the forearm and the direction towards the camera."""

_NOISE_STD = {'flex': 9.0, 'abd': 4.0}


def template_angles(name: str) -> Dict[str, List[float]]:
    """Return a copy of the angles of template ``name``.

    Raises:
        KeyError: ``name`` is not a template; the message lists them.
    """
    if name not in POSE_TEMPLATES:
        raise KeyError(f'unknown pose template {name!r}; choose one of {sorted(POSE_TEMPLATES)}')
    return {k: list(v) for k, v in POSE_TEMPLATES[name].items()}


def clip_angles(angles: Dict[str, Sequence[float]]) -> Dict[str, List[float]]:
    """Clamp every angle to its anatomical range (:data:`JOINT_LIMITS`)."""
    out = {}
    for finger in FINGERS:
        limits = JOINT_LIMITS[finger]
        out[finger] = [
            min(max(float(v), limits[j][0]), limits[j][1])
            for v, j in zip(angles[finger], FINGER_JOINTS[finger])
        ]
    return out


def _random_quaternion(draws: Draws) -> List[float]:
    """Uniformly distributed rotation (Shoemake's method), as ``[w, x, y, z]`` with ``w >= 0``."""
    u1, u2, u3 = draws.random(), draws.random(), draws.random()
    a, b = math.sqrt(1.0 - u1), math.sqrt(u1)
    q = [b * math.cos(2 * math.pi * u3), a * math.sin(2 * math.pi * u2),
         a * math.cos(2 * math.pi * u2), b * math.sin(2 * math.pi * u3)]
    return q if q[0] >= 0 else [-v for v in q]


def _view_rotation(draws: Draws) -> List[float]:
    """A uniform rotation, redrawn while the forearm would point at the camera.

    Views straight along the forearm (arm in front of the hand) are rare in
    real hand crops; they are rejected (:data:`ARM_TOWARDS_CAMERA_MAX`).
    """
    for _ in range(50):
        w, x, y, z = _random_quaternion(draws)
        arm_z = -2.0 * (y * z + x * w)  # camera z of the hand's -y (forearm) axis
        if arm_z > -ARM_TOWARDS_CAMERA_MAX:
            break
    return [w, x, y, z]


_round = quantize


_NAMES = sorted(TEMPLATE_WEIGHTS)
_WEIGHTS = [TEMPLATE_WEIGHTS[n] for n in _NAMES]
_NOISE_SCALE = (_NOISE_STD['flex'], _NOISE_STD['abd'], _NOISE_STD['flex'], 0.6 * _NOISE_STD['flex'])


def sample_pose(rng: np.random.Generator, template: Optional[str] = None) -> Dict:
    """Draw a random pose: a template (sometimes blended with a second one) plus noise.

    Args:
        rng: Source of randomness.
        template: Force this template instead of drawing one.

    Returns:
        dict: The json-serialisable pose (see the module docstring).
    """
    draws = Draws(rng, 64)
    name = _NAMES[draws.choice(_WEIGHTS)]
    if template is not None:
        name = template
    angles = template_angles(name)
    blend = None
    if draws.random() < 0.3:
        other = _NAMES[draws.choice(_WEIGHTS)]
        w = draws.uniform(0.15, 0.5)
        other_angles = template_angles(other)
        angles = {k: [(1 - w) * a + w * b for a, b in zip(angles[k], other_angles[k])]
                  for k in angles}
        blend = [other, _round(w)]
    # Independent per-angle noise; the DIP follows the PIP a little (tendon coupling),
    # the thumb's base is looser.
    for finger in FINGERS:
        noise = [draws.normal(0.0, s) for s in _NOISE_SCALE]
        if finger != 'thumb':
            noise[3] += 0.4 * noise[2]
        else:
            noise[1] *= 2.5
        angles[finger] = [a + n for a, n in zip(angles[finger], noise)]
    angles = clip_angles(angles)
    wrist = {
        k: min(max(draws.normal(0.0, 20.0 if k == 'flex' else 8.0), lo), hi)
        for k, (lo, hi) in WRIST_LIMITS.items()
    }
    shape = {k: draws.uniform(lo, hi) for k, (lo, hi) in SHAPE_LIMITS.items()}
    return {
        'template': name,
        'blend': blend,
        'side': 'left' if draws.random() < 0.5 else 'right',
        'angles': {k: [_round(a) for a in v] for k, v in angles.items()},
        'wrist': {k: _round(v) for k, v in wrist.items()},
        'shape': {k: _round(v) for k, v in shape.items()},
        'rotation': [_round(q) for q in _view_rotation(draws)],
        'distance': _round(draws.uniform(280.0, 650.0)),
        'crop': {'margin': _round(draws.uniform(1.12, 1.4)),
                 'jitter': [_round(draws.uniform(-1.0, 1.0)), _round(draws.uniform(-1.0, 1.0))]},
    }


def stack_poses(poses: Sequence[Dict]) -> Dict[str, np.ndarray]:
    """Gather the numbers of a list of pose dicts into arrays (for batched rendering).

    Returns:
        dict: ``angles`` ``(N, 5, 4)``, ``wrist`` ``(N, 2)``, ``shape``
        ``(N, 3)``, ``rotation`` ``(N, 4)``, ``left`` ``(N,)`` bool,
        ``distance`` ``(N,)``, ``margin`` ``(N,)``, ``jitter`` ``(N, 2)``.

    Raises:
        ValueError: A pose has an unknown side or a bad distance or margin.
    """
    for pose in poses:
        if pose['side'] not in ('left', 'right'):
            raise ValueError(f"pose side must be 'left' or 'right', got {pose['side']!r}")
        if not float(pose['distance']) > 150.0:
            raise ValueError(f"pose distance {pose['distance']} mm is too close to the camera: "
                             f'use more than 150 mm')
        if not float(pose['crop']['margin']) >= 1.0:
            raise ValueError(f"pose crop margin {pose['crop']['margin']} would cut the hand: "
                             f'use 1.0 or more')
    return {
        'angles': np.array([[p['angles'][f] for f in FINGERS] for p in poses], float),
        'wrist': np.array([[p['wrist']['flex'], p['wrist']['dev']] for p in poses], float),
        'shape': np.array([[p['shape'][k] for k in SHAPE_LIMITS] for p in poses], float),
        'rotation': np.array([p['rotation'] for p in poses], float),
        'left': np.array([p['side'] == 'left' for p in poses]),
        'distance': np.array([p['distance'] for p in poses], float),
        'margin': np.array([p['crop']['margin'] for p in poses], float),
        'jitter': np.array([p['crop']['jitter'] for p in poses], float),
    }
