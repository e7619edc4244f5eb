"""The image-similarity functions against their textbook definitions."""
import math

import torch
import torch.nn.functional as F

from mmselfdis.evaluation.functional import ssim, ssim_map


def _ssim_map_2d(a, b, data_range=255.0, window=11, sigma=1.5):
    """SSIM (Wang et al. 2004) with the 2-D Gaussian window written out tap by tap."""
    size = min(window, a.shape[-2], a.shape[-1])
    r = (size - 1) / 2
    kernel = torch.tensor([[math.exp(-((i - r)**2 + (j - r)**2) / (2 * sigma**2))
                            for j in range(size)] for i in range(size)], dtype=torch.float64)
    kernel = (kernel / kernel.sum()).expand(a.shape[1], 1, size, size)

    def blur(t):
        return F.conv2d(t, kernel, groups=a.shape[1])

    x, y = a.double(), b.double()
    mu_x, mu_y = blur(x), blur(y)
    var_x, var_y = blur(x * x) - mu_x**2, blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = (0.01 * data_range)**2, (0.03 * data_range)**2
    return ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / \
        ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))


def test_ssim_map_equals_the_2d_gaussian_window_definition():
    """The separable window computes the same local means as the 2-D window: equal in
    float64, close in float32, with gradients, for several channels and a window larger than
    the image (clipped to the image's size)."""
    g = torch.Generator().manual_seed(0)
    a = torch.rand(3, 2, 20, 24, generator=g) * 255
    b = (a + torch.randn(3, 2, 20, 24, generator=g) * 30).clamp(0, 255)
    want = _ssim_map_2d(a, b)
    got = ssim_map(a, b)
    assert got.shape == want.shape == (3, 2, 10, 14) and got.dtype == torch.float64
    torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
    torch.testing.assert_close(ssim(a, b), want.flatten(1).mean(1), rtol=0, atol=1e-12)
    torch.testing.assert_close(ssim_map(a, b, double=False), want.float(), rtol=0, atol=1e-4)
    small_a, small_b = a[..., :7, :9], b[..., :7, :9]   # 7 < 11: a 7 x 7 window
    torch.testing.assert_close(ssim_map(small_a, small_b), _ssim_map_2d(small_a, small_b),
                               rtol=0, atol=1e-12)
    torch.testing.assert_close(ssim(a, a), torch.ones(3, dtype=torch.float64))

    pa = a.clone().requires_grad_()
    ssim_map(pa, b, double=False).mean().backward()
    pb = a.double().clone().requires_grad_()
    _ssim_map_2d(pb, b).mean().backward()
    torch.testing.assert_close(pa.grad.double(), pb.grad, rtol=1e-3, atol=1e-7)
