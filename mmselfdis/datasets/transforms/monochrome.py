"""Monochrome conversion for any MMPose pipeline (the paper's 1-channel setting)."""
from typing import Dict

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmpose.registry import TRANSFORMS

__all__ = ['ToMonochrome']


@TRANSFORMS.register_module()
class ToMonochrome(BaseTransform):
    """Convert the image to monochrome (grey levels).

    Place it right after ``LoadImage`` so every later transform sees one
    channel. Images that are already single-channel pass through unchanged
    (a trailing channel axis of size 1 is dropped).

    Required Keys:

        - img

    Modified Keys:

        - img

    Args:
        num_channels (int): 1 gives an ``(H, W)`` grey image (the model's
            data preprocessor then needs one mean/std value and a backbone
            with ``in_channels=1``); 3 repeats the grey level in three
            channels, for 3-channel backbones. Defaults to 1.
    """

    def __init__(self, num_channels: int = 1) -> None:
        super().__init__()
        if num_channels not in (1, 3):
            raise ValueError(f'ToMonochrome: num_channels must be 1 or 3, got {num_channels!r}')
        self.num_channels = num_channels

    def transform(self, results: Dict) -> Dict:
        img = results['img']
        if img.ndim == 3 and img.shape[2] == 3:
            grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        elif img.ndim == 3 and img.shape[2] == 4:
            grey = cv2.cvtColor(img, cv2.COLOR_BGRA2GRAY)
        elif img.ndim == 3 and img.shape[2] == 1:
            grey = img[..., 0]
        elif img.ndim == 2:
            grey = img
        else:
            raise ValueError(f'ToMonochrome: cannot convert an image of shape {img.shape}; '
                             f'expected (H, W), (H, W, 1), (H, W, 3) or (H, W, 4).')
        if self.num_channels == 3:
            grey = np.repeat(grey[..., None], 3, axis=2)
        results['img'] = np.ascontiguousarray(grey)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(num_channels={self.num_channels})'
