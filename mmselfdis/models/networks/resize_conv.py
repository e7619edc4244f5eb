"""Nearest-neighbour ×2 up-sampling + 3×3 convolution, computed at the low resolution."""
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ['ResizeConv2d']

# For output row 2i + a, the 3 taps of the kernel fall on low-resolution rows
# i - 1, i, i + 1 as: a = 0 -> (k0, k1 + k2, 0); a = 1 -> (0, k0 + k1, k2).
_PHASES = torch.tensor([[[1., 0., 0.], [0., 1., 1.], [0., 0., 0.]],
                        [[0., 0., 0.], [1., 1., 0.], [0., 0., 1.]]])


class ResizeConv2d(nn.Module):
    """``conv3x3(upsample_nearest(x, 2))`` without materialising the up-sampled input.

    Every output pixel of a 3×3 convolution on a nearest-neighbour ×2
    up-sampled map sees a 2×2 neighbourhood of the low-resolution map, with
    taps that depend only on the pixel's phase ``(row % 2, col % 2)``. The four
    phase kernels are folded from the one 3×3 kernel at every call, applied at
    the low resolution as ``4 * out_channels`` outputs and interleaved with
    :func:`torch.nn.functional.pixel_shuffle`. The function is exactly the
    up-sample + convolution of the paper's image decoder (§4.2, no
    checkerboard artefacts), with the same parameters, but it never writes the
    4× larger up-sampled input and runs wide convolutions instead of narrow
    full-resolution ones.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        bias: Learn an additive bias.

    Note:
        - input: ``(N, in_channels, h, w)``
        - output: ``(N, out_channels, 2h, 2w)``
    """

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, 3, 3))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.register_buffer('phases', _PHASES.clone(), persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The initialisation of ``nn.Conv2d`` with the same shapes."""
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_channels * 9)
            nn.init.uniform_(self.bias, -bound, bound)

    def folded_weight(self) -> Tensor:
        """The four phase kernels, ordered for ``pixel_shuffle``.

        Returns:
            Weight of shape ``(out_channels * 4, in_channels, 3, 3)``.
        """
        m = self.phases.to(self.weight.dtype)
        w = torch.einsum('auy,oiyx,bvx->oabiuv', m, self.weight, m)
        return w.reshape(self.out_channels * 4, self.in_channels, 3, 3)

    def forward(self, x: Tensor) -> Tensor:
        """Up-sample ×2 (nearest) and convolve (3×3, zero padding 1).

        Args:
            x: Low-resolution input.

        Returns:
            The output at twice the resolution.

        Note:
            - x: ``(N, C_in, h, w)``
            - return: ``(N, C_out, 2h, 2w)``
        """
        bias = None if self.bias is None else self.bias.repeat_interleave(4)
        weight = self.folded_weight()
        if weight.dtype != x.dtype and not torch.is_autocast_enabled():
            weight = weight.to(x.dtype)
        return F.pixel_shuffle(F.conv2d(x, weight, bias, padding=1), 2)

    def extra_repr(self) -> str:
        return (f'{self.in_channels}, {self.out_channels}, nearest x2 + 3x3 conv, '
                f'bias={self.bias is not None}')
