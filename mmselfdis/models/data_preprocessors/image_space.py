"""The one mapping between image space and the model's normalised input space."""
import weakref
from typing import Optional, Sequence

import torch
from torch import Tensor, nn

__all__ = ['ImageSpace']

_CACHE: 'weakref.WeakKeyDictionary[nn.Module, dict]' = weakref.WeakKeyDictionary()


class ImageSpace:
    """Image space (``0..255``, channels as loaded) ↔ model space (what the network sees).

    Model space is what a data preprocessor makes of a loaded image: the
    channels reordered (``bgr_to_rgb``) and normalised with ``mean``/``std``.
    The generator decodes into model space, and the tools, the metric and the
    batch augment read and write images in image space; every conversion
    between the two goes through this class.

    Args:
        mean: Per-channel mean (``None``: no normalisation).
        std: Per-channel standard deviation (with ``mean``).
        bgr_to_rgb: Whether model space has the channels of a 3-channel image
            in reverse order.

    Note:
        - img, x: ``(N, C, H, W)``
    """

    def __init__(self,
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None,
                 bgr_to_rgb: bool = False) -> None:
        if (mean is None) != (std is None):
            raise ValueError('ImageSpace: give both mean and std (those of the data '
                             'preprocessor) or neither')
        self.mean = None if mean is None else torch.as_tensor(mean, dtype=torch.float32)
        self.std = None if std is None else torch.as_tensor(std, dtype=torch.float32)
        if self.std is not None and bool((self.std == 0).any()):
            raise ValueError(f'ImageSpace: std must be non-zero, got {self.std.tolist()}')
        self.bgr_to_rgb = bool(bgr_to_rgb)

    @classmethod
    def of(cls, data_preprocessor: nn.Module, channels: int) -> 'ImageSpace':
        """The mapping that ``data_preprocessor`` applies to ``channels``-channel images.

        Read from the preprocessor's public behaviour, not its attributes:
        three constant probe images (black, white, and one with a different
        value per channel) go through its ``forward``, and mean, std and
        channel order are solved from what comes out. The result is cached
        per preprocessor and channel count.

        Args:
            data_preprocessor: An MMEngine ``ImgDataPreprocessor`` (e.g. MMPose's
                ``PoseDataPreprocessor``).
            channels: Channels of the images.

        Returns:
            ImageSpace: The mapping.
        """
        cached = _CACHE.setdefault(data_preprocessor, {})
        if channels in cached:
            return cached[channels]
        from mmpose.structures import PoseDataSample
        size = 2
        probes = [torch.zeros(channels, size, size), torch.full((channels, size, size), 255.),
                  (torch.arange(channels, dtype=torch.float32) * 50 + 25).view(-1, 1, 1)
                  .expand(channels, size, size).contiguous()]
        with torch.no_grad():
            out = data_preprocessor(dict(inputs=probes,
                                         data_samples=[PoseDataSample() for _ in probes]),
                                    False)['inputs']
        out = out[:, :, 0, 0].double().cpu()
        scale = 255.0 / (out[1] - out[0])  # std per model-space channel
        mean = -out[0] * scale
        source = torch.round(((out[2] * scale + mean) - 25) / 50).long().tolist()
        if source == list(range(channels)):
            swap = False
        elif channels == 3 and source == [2, 1, 0]:
            swap = True
        else:
            raise ValueError(f'ImageSpace: the data preprocessor maps image channels '
                             f'{list(range(channels))} to {source}; only the identity and BGR '
                             f'<-> RGB are supported')
        identity = bool(torch.allclose(mean, torch.zeros_like(mean), atol=1e-4)
                        and torch.allclose(scale, torch.ones_like(scale), atol=1e-5))
        space = cls(None if identity else mean.float().tolist(),
                    None if identity else scale.float().tolist(), swap)
        cached[channels] = space
        return space

    def _stats(self, x: Tensor):
        c = x.shape[1]
        mean = self.mean.to(x.device).view(-1, 1, 1)
        std = self.std.to(x.device).view(-1, 1, 1)
        if mean.shape[0] not in (1, c):
            raise ValueError(f'ImageSpace: mean/std have {mean.shape[0]} values for {c}-channel '
                             f'images; use the mean/std of a {c}-channel preprocessor')
        return mean, std

    def _swap(self, x: Tensor) -> Tensor:
        return x[:, [2, 1, 0]] if self.bgr_to_rgb and x.shape[1] == 3 else x

    def to_model(self, img: Tensor) -> Tensor:
        """Image space → model space (float).

        Args:
            img: Images as the data pipeline produces them.

        Returns:
            The normalised images.
        """
        x = self._swap(img.float())
        if self.mean is not None:
            mean, std = self._stats(x)
            x = (x - mean) / std
        return x

    def to_image(self, x: Tensor) -> Tensor:
        """Model space → image space (float, not clamped); the inverse of :meth:`to_model`.

        Args:
            x: Normalised images.

        Returns:
            Images in image space.
        """
        x = x.float()
        if self.mean is not None:
            mean, std = self._stats(x)
            x = x * std + mean
        return self._swap(x)

    def __repr__(self) -> str:
        mean = None if self.mean is None else self.mean.tolist()
        std = None if self.std is None else self.std.tolist()
        return f'ImageSpace(mean={mean}, std={std}, bgr_to_rgb={self.bgr_to_rgb})'
