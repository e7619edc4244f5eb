"""Validation of loss weights."""
import math
from numbers import Real

__all__ = ['check_loss_weight']


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
