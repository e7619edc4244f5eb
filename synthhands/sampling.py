"""A cheap stream of random numbers for parameter sampling.

Each call of a :class:`numpy.random.Generator` method costs microseconds,
which dominates when a sample needs dozens of scalars. :class:`Draws` takes
blocks of uniforms (and of normals) from the generator and hands them out
one by one.
"""
import math
from typing import List, Sequence

import numpy as np

__all__ = ['Draws', 'quantize', 'PARAM_DECIMALS']

PARAM_DECIMALS = 5
"""Every float parameter is rounded to this many decimals (short json; a pose or
appearance read back from json is exactly the one that was rendered)."""
_SCALE = 10.0**PARAM_DECIMALS


def quantize(value: float) -> float:
    """Round ``value`` to :data:`PARAM_DECIMALS` decimals (half up; cheaper than ``round``)."""
    return math.floor(value * _SCALE + 0.5) / _SCALE


class Draws:
    """Scalars drawn from one block of uniforms of ``rng`` (refilled when used up).

    Args:
        rng: The generator (its state advances by whole blocks).
        block: Number of uniforms drawn at a time.
    """

    def __init__(self, rng: np.random.Generator, block: int = 64) -> None:
        self.rng = rng
        self.block = block
        self._values = rng.random(block).tolist()
        self._next = 0
        self._normals: List[float] = []

    def random(self) -> float:
        """A uniform in ``[0, 1)``."""
        if self._next == len(self._values):
            self._values = self.rng.random(self.block).tolist()
            self._next = 0
        value = self._values[self._next]
        self._next += 1
        return value

    def uniform(self, low: float, high: float) -> float:
        """A uniform in ``[low, high)``."""
        return low + (high - low) * self.random()

    def integer(self, low: int, high: int) -> int:
        """An integer in ``[low, high)``."""
        return min(low + int((high - low) * self.random()), high - 1)

    def normal(self, mean: float = 0.0, std: float = 1.0) -> float:
        """A Gaussian (drawn in blocks of 32 standard normals)."""
        if not self._normals:
            self._normals = self.rng.standard_normal(32).tolist()
        return mean + std * self._normals.pop()

    def choice(self, weights: Sequence[float]) -> int:
        """An index drawn with probability proportional to ``weights``."""
        target = self.random() * sum(weights)
        acc = 0.0
        for i, w in enumerate(weights):
            acc += w
            if target < acc:
                return i
        return len(weights) - 1
