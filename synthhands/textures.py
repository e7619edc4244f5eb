"""Procedural image fields: noise, backgrounds and skin textures.

Every function is a pure function of its parameters, a
:class:`numpy.random.Generator` and the output size, and returns float32
arrays in linear intensity (about ``[0, 1]``). Lengths in the parameters are
fractions of the image side, so a family looks the same at every resolution.

Noise comes from *banks*: fixed fields, four output sides across, generated
once per process from a fixed seed (so every process has identical banks);
an image takes randomly placed, flipped and transposed windows of them. This
is much cheaper than generating fresh noise per image.
"""
import functools
import math
from typing import Dict, Sequence, Tuple

import cv2
import numpy as np

__all__ = ['value_noise', 'white_noise', 'linear_ramp', 'make_background', 'make_skin_texture']

_SHIFT = 4  # fixed-point bits for sub-pixel cv2 drawing
_ONE = 1 << _SHIFT
_BANK_FACTOR = 4  # a noise bank is this many output sides across
_MAX_LEVEL = 7  # smooth bank ``l`` has 2**l noise cells across one output side


@functools.lru_cache(maxsize=64)
def _bank(size: int, level: int) -> np.ndarray:
    """A fixed noise field (zero mean, unit std) with ``2**level`` cells per ``size``.

    ``level`` -1 is white Gaussian noise.
    """
    rng = np.random.default_rng(0x5EED + 1000 * (level + 1) + size)
    side = size * _BANK_FACTOR
    if level < 0:
        field = rng.standard_normal((side, side), dtype=np.float32)
    else:
        cells = min(2**level, size) * _BANK_FACTOR
        grid = rng.standard_normal((cells + 1, cells + 1)).astype(np.float32)
        field = cv2.resize(grid, (side, side), interpolation=cv2.INTER_CUBIC)
        field -= field.mean()
        field /= max(float(field.std()), 1e-6)
    field.flags.writeable = False
    return field


def _window(bank: np.ndarray, size: int, u: Sequence[float]) -> np.ndarray:
    """The ``size x size`` window of ``bank`` chosen by three uniforms ``u`` (a view).

    The window is flipped in one of four ways (no transposition: row-major
    views keep the arithmetic on them fast).
    """
    span = bank.shape[0] - size + 1
    x, y = int(u[0] * span), int(u[1] * span)
    flips = int(u[2] * 4)
    win = bank[y:y + size, x:x + size]
    if flips & 1:
        win = win[::-1]
    if flips & 2:
        win = win[:, ::-1]
    return win


def value_noise(rng: np.random.Generator, size: int, cells: float, octaves: int = 3,
                persistence: float = 0.5) -> np.ndarray:
    """Smooth fractal noise, zero mean, about unit standard deviation.

    Args:
        rng: Source of randomness.
        size: Output side in pixels.
        cells: Number of noise cells across the image at the first octave
            (rounded to a power of two).
        octaves: Number of octaves, each with twice the frequency.
        persistence: Amplitude ratio between successive octaves.

    Returns:
        np.ndarray: ``(size, size)`` float32 (a new array).
    """
    level = int(round(math.log2(max(2.0, cells))))
    u = rng.random(3 * octaves).tolist()
    amps = [persistence**o for o in range(octaves)]
    norm = 1.0 / math.sqrt(sum(a * a for a in amps))
    out = _window(_bank(size, min(level, _MAX_LEVEL)), size, u[0:3]) * np.float32(amps[0] * norm)
    for o in range(1, octaves):
        win = _window(_bank(size, min(level + o, _MAX_LEVEL)), size, u[3 * o:3 * o + 3])
        out += win * np.float32(amps[o] * norm)
    return out


def white_noise(rng: np.random.Generator, shape: Tuple[int, ...]) -> np.ndarray:
    """Gaussian white noise (unit std) of ``shape`` ``(S, S)`` or ``(S, S, C)``."""
    size = shape[0]
    channels = 1 if len(shape) == 2 else shape[2]
    bank = _bank(size, -1)
    u = rng.random(6 * channels).tolist()
    half = np.float32(math.sqrt(0.5))
    planes = [(_window(bank, size, u[6 * c:6 * c + 3]) +
               _window(bank, size, u[6 * c + 3:6 * c + 6])) * half for c in range(channels)]
    return planes[0] if len(shape) == 2 else np.stack(planes, axis=-1)


def linear_ramp(size: int, angle_deg: float) -> np.ndarray:
    """A ramp from 0 to 1 across the image along direction ``angle_deg``."""
    t = (np.arange(size, dtype=np.float32) + 0.5) / size - 0.5
    c, s = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
    k = 1.0 / (abs(c) + abs(s))
    return (np.float32(c * k) * t[None, :] + np.float32(0.5)) + np.float32(s * k) * t[:, None]


def _pt(x: float, y: float, size: int) -> Tuple[int, int]:
    """Relative coordinates -> fixed-point pixel coordinates for cv2."""
    return (int((x * size - 0.5) * _ONE), int((y * size - 0.5) * _ONE))


def _mix(field: np.ndarray, c0, c1) -> np.ndarray:
    """Blend two colours (floats, or channel arrays) with a ``[0, 1]`` field."""
    f = np.maximum(field, np.float32(0.0))
    np.minimum(f, np.float32(1.0), out=f)
    if np.ndim(c0) == 0:
        return np.float32(c0) + f * np.float32(c1 - c0)
    return c0 + f[..., None] * (c1 - c0)


def _blur(img: np.ndarray, sigma: float) -> np.ndarray:
    if sigma <= 0.3:
        return img
    return cv2.GaussianBlur(img, (0, 0), sigma).reshape(img.shape)


def _colour(color, channels: int) -> tuple:
    """A colour (float or channel array) as the 4-tuple cv2 drawing expects."""
    values = [float(color)] if channels == 1 else [float(v) for v in color]
    return tuple(values) + (0.0, ) * (4 - len(values))


def _box(cx: float, cy: float, w: float, h: float, angle_deg: float) -> np.ndarray:
    """Fixed-point corners of a rotated rectangle (pixels)."""
    a = math.radians(angle_deg)
    ux, uy = 0.5 * w * math.cos(a), 0.5 * w * math.sin(a)
    vx, vy = -0.5 * h * math.sin(a), 0.5 * h * math.cos(a)
    corners = [(cx - ux - vx, cy - uy - vy), (cx + ux - vx, cy + uy - vy),
               (cx + ux + vx, cy + uy + vy), (cx - ux + vx, cy - uy + vy)]
    return np.array([(int(x * _ONE), int(y * _ONE)) for x, y in corners], np.int32)


def make_background(params: Dict, rng: np.random.Generator, size: int,
                    colors: Sequence) -> np.ndarray:
    """Render a background.

    Args:
        params: The appearance's ``background`` dict (``family`` and its
            parameters, see :mod:`.appearance`).
        rng: Source of randomness (seeded by the appearance).
        size: Output side.
        colors: The family's three colours, already in the output's channels:
            floats for monochrome, arrays of length ``C`` for colour.

    Returns:
        np.ndarray: ``(size, size)`` (monochrome) or ``(size, size, C)``
        float32, a new array.

    Raises:
        ValueError: Unknown family.
    """
    family = params['family']
    scale = float(params['scale'])
    angle = float(params['angle'])
    channels = 1 if np.ndim(colors[0]) == 0 else len(colors[0])
    c0, c1, c2 = colors[0], colors[1], colors[2]

    def grain(amount: float, cells: float) -> np.ndarray:
        field = value_noise(rng, size, cells, 2)
        field *= np.float32(amount)
        return field if channels == 1 else field[..., None]

    if family == 'flat':
        img = _mix(np.zeros((size, size), np.float32), c0, c1)
        img += grain(0.03, 4.0)
    elif family == 'gradient':
        img = _mix(linear_ramp(size, angle) * np.float32(1.2) - np.float32(0.1), c0, c1)
    elif family == 'noise':
        field = value_noise(rng, size, 2.0 / scale, 4, 0.6)
        field *= np.float32(0.28)
        field += np.float32(0.5)
        img = _mix(field, c0, c1)
    elif family in ('clutter', 'indoor'):
        img = _mix(linear_ramp(size, angle), c0, c1)
        palette = (c0, c1, c2)
        count = int(params['count'])
        if family == 'indoor':  # a few large, nearly axis-aligned panels and edges
            count = 2 + count // 3
        for u in rng.random((count, 8)).tolist():
            color = _colour(palette[int(u[0] * 3)] * (0.6 + 0.7 * u[1]), channels)
            x, y = -0.1 + 1.2 * u[2], -0.1 + 1.2 * u[3]
            if family == 'indoor':
                box = _box(x * size, y * size, (0.2 + 0.7 * u[4]) * size,
                           (0.2 + 0.7 * u[5]) * size, 16.0 * (u[6] - 0.5))
                cv2.fillConvexPoly(img, box, color, cv2.LINE_AA, _SHIFT)
                continue
            kind = int(u[4] * 3)
            s = scale * (0.3 + 0.7 * u[5])
            if kind == 0:
                box = _box(x * size, y * size, s * size, s * (0.3 + 0.7 * u[6]) * size,
                           180.0 * u[7])
                cv2.fillConvexPoly(img, box, color, cv2.LINE_AA, _SHIFT)
            elif kind == 1:
                cv2.circle(img, _pt(x, y, size), int(s * size * 0.5 * _ONE), color, -1,
                           cv2.LINE_AA, _SHIFT)
            else:
                cv2.line(img, _pt(x, y, size), _pt(-0.1 + 1.2 * u[6], -0.1 + 1.2 * u[7], size),
                         color, max(1, int(s * size * 0.15)), cv2.LINE_AA, _SHIFT)
        # OpenCV anti-aliases only 8-bit drawing: a little optical blur softens the edges.
        img = _blur(img, max(0.5, float(params['blur'])) * size / 64.0)
        img += grain(0.04, 4.0)
    elif family == 'checker':
        t = (np.arange(size, dtype=np.float32) + 0.5) / size - 0.5
        c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
        k = np.float32(math.pi / scale)
        u = np.sin((np.float32(c) * t[None, :] + np.float32(s) * t[:, None]) * k)
        v = np.sin((np.float32(-s) * t[None, :] + np.float32(c) * t[:, None]) * k)
        field = np.float32(0.5) + np.float32(0.5) * np.sign(u * v)
        img = _mix(_blur(field, 0.4 * size / 64.0 + 0.01), c0, c1)
    elif family == 'stripes':
        phase = linear_ramp(size, angle) * np.float32(2 * math.pi / scale)
        phase += np.float32(0.7) * value_noise(rng, size, 2.0, 1)
        field = np.sin(phase) * np.float32(2.5)
        np.minimum(np.maximum(field, np.float32(-1.0), out=field), np.float32(1.0), out=field)
        img = _mix(field * np.float32(0.5) + np.float32(0.5), c0, c1)
    elif family == 'bokeh':
        img = _mix(linear_ramp(size, angle) * np.float32(0.4), c0, c1)
        layer = np.zeros_like(img)
        for u in rng.random((int(params['count']), 4)).tolist():
            radius = scale * (0.3 + 0.7 * u[3]) * size * 0.5
            cv2.circle(layer, _pt(u[0], u[1], size), int(radius * _ONE),
                       _colour(c2 * (0.3 + 0.7 * u[2]), channels), -1, cv2.LINE_AA, _SHIFT)
        img += _blur(layer, 1.2 * size / 64.0)
    else:
        raise ValueError(f'unknown background family {family!r}')
    return img.astype(np.float32, copy=False)


def make_skin_texture(params: Dict, rng: np.random.Generator, size: int) -> np.ndarray:
    """Multiplicative albedo variation of the hand's surface.

    Args:
        params: The appearance's ``skin`` dict (``family`` and parameters).
        rng: Source of randomness.
        size: Output side.

    Returns:
        np.ndarray: ``(size, size)`` float32 factor around 1.

    Raises:
        ValueError: Unknown family.
    """
    family = params['family']
    strength = np.float32(params['strength'])
    scale = float(params['scale'])
    one = np.float32(1.0)
    if family == 'smooth':
        return one + strength * value_noise(rng, size, 1.5 / scale, 2)
    if family == 'blotchy':
        return one + strength * value_noise(rng, size, 3.0 / scale, 3, 0.7)
    if family == 'freckled':
        spots = np.zeros((size, size), np.uint8)
        for u in rng.random((int(params['count']), 3)).tolist():
            r = max(1, int(scale * size * 0.04 * (0.5 + 0.5 * u[2]) * _ONE))
            cv2.circle(spots, _pt(u[0], u[1], size), r, 255, -1, cv2.LINE_AA, _SHIFT)
        field = spots.astype(np.float32)
        field *= -strength / np.float32(255.0)
        field += one
        field += np.float32(0.03) * value_noise(rng, size, 3.0, 2)
        return field
    if family == 'knit_glove':
        t = (np.arange(size, dtype=np.float32) + 0.5) / size
        a = math.radians(float(params['angle']))
        k = np.float32(2 * math.pi / scale)
        c, s = np.float32(math.cos(a)), np.float32(math.sin(a))
        u = np.sin((c * t[None, :] + s * t[:, None]) * k)
        v = np.abs(np.sin((c * t[:, None] - s * t[None, :]) * k))
        return one + strength * (u * v) + np.float32(0.05) * value_noise(rng, size, 4.0, 2)
    if family == 'tattoo':
        field = np.zeros((size, size), np.float32)
        width = max(1, int(scale * size * 0.04))
        for _ in range(int(params['count'])):
            pts = 0.15 + 0.7 * rng.random((3 + int(3 * rng.random()), 2))
            poly = np.round((pts * size - 0.5) * _ONE).astype(np.int32)
            cv2.polylines(field, [poly], False, 1.0, width, cv2.LINE_AA, _SHIFT)
        return one - strength * np.minimum(field, one)
    raise ValueError(f'unknown skin texture family {family!r}')
