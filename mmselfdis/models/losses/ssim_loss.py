"""Structural dissimilarity of a decoded image and its target (``1 - SSIM``)."""
from typing import Optional

from torch import Tensor, nn

from mmpose.registry import MODELS
from mmselfdis.evaluation.functional import ssim_map
from ._weights import check_loss_weight, weighted_mean

__all__ = ['ImageSSIMLoss']


@MODELS.register_module()
class ImageSSIMLoss(nn.Module):
    """``loss_weight * (1 - SSIM)`` between a decoded image and its target.

    SSIM (Wang et al. 2004) with a Gaussian window, the figure the
    disentanglement metric reports for a mix against its true render
    (:func:`~mmselfdis.evaluation.functional.ssim`), here in float32 and
    differentiable. An L1 loss is satisfied on average by detail that is
    unrelated to the target's (a texture of the right strength in the wrong
    place costs about what a flat fill costs); SSIM's structure term counts
    the local correlation with the target, so such detail costs more than
    none. Used beside ``L_I`` as in "Loss Functions for Image Restoration
    with Neural Networks" (Zhao et al. 2017).

    Both images are in **image space** (``0..data_range``): SSIM's
    constants depend on the range and its luminance term on the mean, so
    model-space (normalised) images must be mapped back first
    (:class:`~mmselfdis.models.data_preprocessors.ImageSpace`).

    Args:
        loss_weight: Weight of the loss.
        data_range: The images' value range (255 for 8-bit images).
        window: Side of the Gaussian window (images smaller than it use their size).
        sigma: Standard deviation of the window.

    Note:
        - pred, target: ``(N, C, H, W)`` in image space
        - weight: per-pixel weights broadcastable to ``(N, 1, H, W)``; the map
          of window positions is weighted by the weight at each window's centre
        - return: scalar
    """

    def __init__(self, loss_weight: float = 1.0, data_range: float = 255.0, window: int = 11,
                 sigma: float = 1.5) -> None:
        super().__init__()
        self.loss_weight = check_loss_weight(loss_weight, f'{type(self).__name__}.loss_weight')
        if data_range <= 0 or window < 1 or sigma <= 0:
            raise ValueError(f'{type(self).__name__}: data_range and sigma must be > 0 and '
                             f'window >= 1, got {data_range}, {sigma}, {window}')
        self.data_range, self.window, self.sigma = float(data_range), int(window), float(sigma)

    def forward(self, pred: Tensor, target: Tensor, weight: Optional[Tensor] = None) -> Tensor:
        """``loss_weight`` times the (weighted) mean of ``1 - SSIM`` over window positions."""
        if pred.shape != target.shape:
            raise ValueError(f'{type(self).__name__}: prediction {tuple(pred.shape)} and '
                             f'target {tuple(target.shape)} differ in shape')
        dissim = 1 - ssim_map(pred, target, self.data_range, self.window, self.sigma,
                              double=False)
        if weight is None:
            return self.loss_weight * dissim.mean()
        h, w = dissim.shape[-2:]
        top, left = (pred.shape[-2] - h) // 2, (pred.shape[-1] - w) // 2
        w_map = weight.expand(pred.shape[0], 1, *pred.shape[-2:])[..., top:top + h, left:left + w]
        return self.loss_weight * weighted_mean(dissim, w_map)

    def extra_repr(self) -> str:
        return (f'loss_weight={self.loss_weight}, data_range={self.data_range}, '
                f'window={self.window}, sigma={self.sigma}')
