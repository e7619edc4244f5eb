"""A Gaussian low-pass for image batches (differentiable)."""
import torch
from torch import Tensor

__all__ = ['gaussian_blur']


def gaussian_blur(img: Tensor, sigma: float) -> Tensor:
    """A separable Gaussian of standard deviation ``sigma`` pixels (kernel radius
    ``round(3 sigma)``, borders reflected, as OpenCV's ``GaussianBlur``).

    Note:
        - img: ``(N, C, H, W)``; return: the same shape
    """
    r = min(max(int(round(3 * sigma)), 1), img.shape[-1] - 1, img.shape[-2] - 1)
    x = torch.arange(-r, r + 1, device=img.device, dtype=img.dtype)
    k = torch.exp(-x**2 / (2 * sigma**2))
    k = k / k.sum()
    c = img.shape[1]
    out = torch.nn.functional.pad(img, (r, r, r, r), mode='reflect')
    out = torch.nn.functional.conv2d(out, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return torch.nn.functional.conv2d(out, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
