"""The symmetries of the square on feature maps: an appearance code read without the layout."""
from typing import Optional, Tuple

import torch
from torch import Tensor

__all__ = ['turn', 'random_turns']


def turn(x: Tensor, k: int) -> Tensor:
    """``x`` turned by the ``k``-th symmetry of the square (``0 <= k < 8``).

    ``k % 4`` quarter turns (counter-clockwise), then a left-right flip when
    ``k >= 4``; ``k = 0`` is the identity. Odd ``k % 4`` swap height and
    width.

    Note:
        - x: ``(N, C, H, W)``
    """
    if not 0 <= int(k) < 8:
        raise ValueError(f'turn: k must be in 0..7 (the 8 symmetries of the square), got {k}')
    out = torch.rot90(x, int(k) % 4, dims=(2, 3)) if k % 4 else x
    return out.flip(3) if k >= 4 else out


def random_turns(x: Tensor, generator: Optional[torch.Generator] = None) -> Tuple[Tensor, Tensor]:
    """Each map of ``x`` turned by a random symmetry other than the identity.

    On square maps one of the 7 others (quarter turns, half turn, the four
    flips); on other maps one of the 3 that keep the shape (half turn and the
    two flips). No map keeps its layout.

    Returns:
        ``(turned, ks)``: the turned maps and each one's ``k`` of :func:`turn`.
    """
    square = x.shape[-1] == x.shape[-2]
    choices = torch.tensor([1, 2, 3, 4, 5, 6, 7] if square else [2, 4, 6])
    ks = choices[torch.randint(len(choices), (x.shape[0], ), generator=generator)]
    out = torch.empty_like(x)
    for k in ks.unique().tolist():
        idx = (ks == k).nonzero().flatten().to(x.device)
        out.index_copy_(0, idx, turn(x.index_select(0, idx), k))
    return out, ks
