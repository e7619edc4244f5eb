"""Loss weights: validation of a term's weight, and the per-pixel weighted mean."""
import math
from numbers import Real

from torch import Tensor

__all__ = ['check_loss_weight', 'weighted_mean']


def check_loss_weight(value: float, name: str) -> float:
    """Return ``value`` as a float if it is a finite number >= 0, else raise.

    Args:
        value: The weight.
        name: What to call it in the error message (the config key).

    Returns:
        float: The weight.
    """
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value) \
            or value < 0:
        raise ValueError(
            f'{name} must be a finite number >= 0, got {value!r}; set it to a non-negative '
            f'weight such as 1.0 (0 switches the term off without changing the graph)')
    return float(value)


def weighted_mean(values: Tensor, weight: Tensor) -> Tensor:
    """``Σ w·v / Σ w`` with ``weight`` broadcast to ``values`` (float32).

    Args:
        values: Per-element loss values, e.g. ``(N, C, H, W)``.
        weight: Weights broadcastable to ``values``, e.g. ``(N, 1, H, W)``.

    Returns:
        The scalar weighted mean (0 where every weight is 0).
    """
    w = weight.float().expand_as(values)
    return (w * values.float()).sum() / w.sum().clamp_min(1e-12)
