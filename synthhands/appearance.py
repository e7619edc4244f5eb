"""Appearance: everything about an image that is not the pose.

An appearance is a json-serialisable dict, independent of the pose, so any
appearance can be rendered with any pose::

    {'seed': int,                                  # texture/background/noise randomness
     'lighting': {'family', 'direction' [x, y, z], 'intensity', 'ambient', 'wrap',
                  'specular', 'shininess', 'gradient', 'shadow', 'background_gain'},
     'skin': {'family', 'albedo' [r, g, b], 'strength', 'scale', ...},
     'sleeve': {'kind': 'none' | 'cuff' | 'long', 'start', 'albedo' [r, g, b], 'stripes'},
     'background': {'family', 'colors' [[r, g, b] x 3], 'scale', 'angle', 'count', 'blur'},
     'camera': {'exposure', 'gamma', 'blur', 'noise', 'shot_noise'}}

Directions are in camera coordinates (``x`` right, ``y`` down, ``z`` away
from the camera) and point from the hand towards the light.

Three factors come in named *families*. Some families are **held out**
(:data:`HELD_OUT_FAMILIES`): the ``train``, ``val`` and ``test`` splits never
use them and the ``test_shift`` split uses nothing else, which makes
``test_shift`` an appearance-shift benchmark.
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .sampling import Draws, quantize

__all__ = ['FAMILIES', 'HELD_OUT_FAMILIES', 'SLEEVE_KINDS', 'families_for', 'families_of',
           'sample_appearance']

FAMILIES: Dict[str, Tuple[str, ...]] = {
    'background': ('flat', 'gradient', 'noise', 'clutter', 'indoor', 'checker', 'stripes',
                   'bokeh'),
    'lighting': ('frontal', 'side', 'top', 'backlit', 'low_key'),
    'texture': ('smooth', 'blotchy', 'freckled', 'knit_glove', 'tattoo'),
}
"""Every family of each appearance factor."""

HELD_OUT_FAMILIES: Dict[str, Tuple[str, ...]] = {
    'background': ('checker', 'stripes', 'bokeh'),
    'lighting': ('backlit', 'low_key'),
    'texture': ('knit_glove', 'tattoo'),
}
"""Families used only by the ``test_shift`` split (and by nothing else)."""

SLEEVE_KINDS: Tuple[str, ...] = ('none', 'cuff', 'long')


def families_for(held_out: bool) -> Dict[str, Tuple[str, ...]]:
    """The families one split may draw from.

    Args:
        held_out: True for ``test_shift`` (held-out families only), False
            for ``train``/``val``/``test`` (all others).
    """
    return {
        factor: tuple(f for f in names if (f in HELD_OUT_FAMILIES[factor]) == held_out)
        for factor, names in FAMILIES.items()
    }


def families_of(appearance: Dict) -> Dict[str, str]:
    """The family of each factor of ``appearance``, keyed like :data:`FAMILIES`."""
    return {
        'background': appearance['background']['family'],
        'lighting': appearance['lighting']['family'],
        'texture': appearance['skin']['family'],
    }


_r = quantize


def _rv(values: Sequence[float]) -> List[float]:
    return [_r(v) for v in values]


def _direction(polar_deg: float, azimuth_deg: float) -> List[float]:
    """Unit vector at ``polar_deg`` from the direction towards the camera (``-z``)."""
    p, a = math.radians(polar_deg), math.radians(azimuth_deg)
    return [math.sin(p) * math.cos(a), math.sin(p) * math.sin(a), -math.cos(p)]


_LIGHTING = {
    # family: polar angle from the camera direction (deg), intensity, ambient, background gain
    'frontal': ((0.0, 40.0), (0.55, 0.95), (0.15, 0.4), (0.75, 1.15)),
    'side': ((45.0, 85.0), (0.7, 1.15), (0.08, 0.3), (0.75, 1.15)),
    'top': ((30.0, 75.0), (0.65, 1.1), (0.1, 0.3), (0.75, 1.15)),
    'backlit': ((105.0, 160.0), (0.8, 1.3), (0.08, 0.25), (1.2, 1.6)),
    'low_key': ((50.0, 90.0), (0.25, 0.45), (0.01, 0.06), (0.25, 0.5)),
}


def _lighting(family: str, draws: Draws) -> Dict:
    if family not in _LIGHTING:
        raise ValueError(f'unknown lighting family {family!r}; choose one of {sorted(_LIGHTING)}')
    polar, intensity, ambient, gain = (draws.uniform(*r) for r in _LIGHTING[family])
    # 'top' light comes from the top of the image (-y), the others from anywhere around.
    azimuth = draws.uniform(240.0, 300.0) if family == 'top' else draws.uniform(0.0, 360.0)
    return {
        'family': family,
        'direction': _rv(_direction(polar, azimuth)),
        'intensity': _r(intensity),
        'ambient': _r(ambient),
        'wrap': _r(draws.uniform(0.0, 0.45)),
        'specular': _r(draws.uniform(0.0, 0.25)),
        'shininess': _r(draws.uniform(4.0, 24.0)),
        'gradient': [_r(draws.uniform(-0.35, 0.35)), _r(draws.uniform(-0.35, 0.35))],
        'shadow': _r(draws.uniform(0.0, 0.55) if draws.random() < 0.6 else 0.0),
        'background_gain': _r(gain),
    }


_SKIN_LIGHT = np.array([0.88, 0.70, 0.60])
_SKIN_DARK = np.array([0.30, 0.19, 0.13])


def _skin(family: str, draws: Draws) -> Dict:
    tone = draws.uniform(0.0, 1.0)
    albedo = _SKIN_LIGHT + tone * (_SKIN_DARK - _SKIN_LIGHT)
    albedo = np.clip(albedo * [draws.uniform(0.9, 1.1) for _ in range(3)], 0.05, 1.0)
    params = {'family': family, 'albedo': _rv(albedo), 'scale': _r(draws.uniform(0.5, 1.5))}
    if family == 'smooth':
        params['strength'] = _r(draws.uniform(0.01, 0.05))
    elif family == 'blotchy':
        params['strength'] = _r(draws.uniform(0.06, 0.16))
    elif family == 'freckled':
        params.update(strength=_r(draws.uniform(0.15, 0.35)), count=draws.integer(8, 30))
    elif family == 'knit_glove':
        params.update(albedo=[_r(draws.uniform(0.05, 0.95)) for _ in range(3)],
                      strength=_r(draws.uniform(0.1, 0.3)),
                      scale=_r(draws.uniform(0.04, 0.09)), angle=_r(draws.uniform(0.0, 180.0)))
    elif family == 'tattoo':
        params.update(strength=_r(draws.uniform(0.35, 0.7)), count=draws.integer(2, 6))
    else:
        raise ValueError(f'unknown skin texture family {family!r}')
    return params


def _background(family: str, draws: Draws) -> Dict:
    colors = np.array([[draws.random() for _ in range(3)] for _ in range(3)])
    colors = colors**draws.uniform(0.6, 1.6)
    if family == 'bokeh':  # bright lights over a dark scene
        colors[0] *= 0.35
        colors[2] = 0.6 + 0.4 * colors[2]
    params = {
        'family': family,
        'colors': [_rv(c) for c in colors],
        'scale': _r(draws.uniform(0.15, 0.6)),
        'angle': _r(draws.uniform(0.0, 360.0)),
        'count': draws.integer(3, 10),
        'blur': _r(draws.uniform(0.0, 1.5)),
    }
    if family in ('checker', 'stripes'):
        params['scale'] = _r(draws.uniform(0.08, 0.3))
    return params


def sample_appearance(rng: np.random.Generator, held_out: bool = False,
                      families: Optional[Dict[str, Sequence[str]]] = None) -> Dict:
    """Draw a random appearance.

    Args:
        rng: Source of randomness.
        held_out: Draw from the held-out families only (``test_shift``);
            otherwise never from them.
        families: Draw each factor's family from these only (an appearance
            group, :mod:`.correlation`) instead of from ``held_out``'s; the
            same random numbers are used either way.

    Returns:
        dict: The json-serialisable appearance (see the module docstring).

    Raises:
        ValueError: ``families`` lacks a factor or names an unknown family.
    """
    draws = Draws(rng, 96)
    allowed = families_for(held_out)
    if families is not None:
        for factor in allowed:
            names = tuple(families.get(factor, ()))
            unknown = [n for n in names if n not in FAMILIES[factor]]
            if not names or unknown:
                raise ValueError(f'appearance families for {factor!r} must be a non-empty subset '
                                 f'of {FAMILIES[factor]}, got {names}')
            allowed[factor] = names
    pick = {k: v[draws.integer(0, len(v))] for k, v in allowed.items()}
    kind = SLEEVE_KINDS[draws.integer(0, len(SLEEVE_KINDS))]
    sleeve = {
        'kind': kind,
        'start': _r(draws.uniform(0.05, 0.45) if kind == 'cuff' else 0.0),
        'albedo': [_r(draws.uniform(0.03, 0.95)) for _ in range(3)],
        'stripes': _r(draws.uniform(3.0, 9.0) if draws.random() < 0.3 else 0.0),
    }
    return {
        'seed': draws.integer(0, 2**31 - 1),
        'lighting': _lighting(pick['lighting'], draws),
        'skin': _skin(pick['texture'], draws),
        'sleeve': sleeve,
        'background': _background(pick['background'], draws),
        'camera': {
            'exposure': _r(draws.uniform(0.75, 1.35)),
            'gamma': _r(draws.uniform(0.75, 1.3)),
            'blur': _r(draws.uniform(0.0, 0.9) if draws.random() < 0.6 else 0.0),
            'noise': _r(draws.uniform(0.0, 0.035)),
            'shot_noise': _r(draws.uniform(0.0, 0.03)),
        },
    }
