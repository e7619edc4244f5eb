"""Conventional appearance augmentation for 1- and 3-channel crops (the comparison arm)."""
from typing import Dict, Optional, Sequence, Tuple

import cv2
import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmpose.registry import TRANSFORMS
from numpy import random

__all__ = ['AppearanceJitter']


def _range(value: Sequence[float], name: str) -> Tuple[float, float]:
    lo, hi = (float(v) for v in value)
    if lo > hi:
        raise ValueError(f'AppearanceJitter: {name} must be (low, high) with low <= high, got '
                         f'{tuple(value)}')
    return lo, hi


def _prob(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f'AppearanceJitter: {name} must be a probability in [0, 1], got '
                         f'{value!r}')
    return float(value)


@TRANSFORMS.register_module()
class AppearanceJitter(BaseTransform):
    """Photometric and cut-paste augmentation that works on monochrome crops.

    The strongest appearance augmentation MMPose users have, made to work on
    one grey channel (MMPose's ``PhotometricDistortion`` needs three, and
    ``Albumentation`` an extra package). Each step fires with its own
    probability, in this order:

    1. **background** — the region outside the hand (the convex hull of the
       visible keypoints, dilated by ``hand_margin``) is replaced by a random
       region of another sample's image;
    2. **patches** — 1..``max_patches`` rectangles cut from another sample's
       image are pasted outside that hand region (occluders at its border);
    3. **brightness** (additive), **contrast** (around the mean), **gamma**;
    4. **blur** (Gaussian) and **noise** (Gaussian sensor noise).

    Other samples come from ``results['dataset']`` (MMPose's COCO-style
    datasets set it); without it the cut-paste steps are skipped. Place it
    after ``TopdownAffine`` and before ``GenerateTarget``; labels are never
    changed. Defaults follow ``PhotometricDistortion`` (brightness ±32,
    contrast 0.5–1.5) so the arm is as strong as what MMPose offers.

    Required Keys:

    - img
    - transformed_keypoints (optional, for the hand region)
    - keypoints_visible (optional)
    - dataset (optional, for cut-paste)

    Modified Keys:

    - img

    Args:
        brightness_prob (float): Defaults to 0.5.
        brightness_delta (float): Largest added grey-level offset. Defaults to 32.
        contrast_prob (float): Defaults to 0.5.
        contrast_range (Sequence[float]): Contrast factor range. Defaults to (0.5, 1.5).
        gamma_prob (float): Defaults to 0.5.
        gamma_range (Sequence[float]): Gamma range. Defaults to (0.7, 1.5).
        blur_prob (float): Defaults to 0.3.
        blur_sigma (Sequence[float]): Gaussian sigma range in pixels. Defaults to (0.3, 1.5).
        noise_prob (float): Defaults to 0.3.
        noise_std (Sequence[float]): Noise standard deviation range in grey levels.
            Defaults to (2, 10).
        patch_prob (float): Probability of pasting patches. Defaults to 0.5.
        max_patches (int): Most patches pasted at once. Defaults to 3.
        patch_size (Sequence[float]): Patch side as a fraction of the crop side.
            Defaults to (0.15, 0.4).
        background_prob (float): Probability of replacing the background.
            Defaults to 0.3.
        hand_margin (float): Dilation of the hand region, fraction of the crop
            side. Defaults to 0.1.
    """

    def __init__(self,
                 brightness_prob: float = 0.5,
                 brightness_delta: float = 32.,
                 contrast_prob: float = 0.5,
                 contrast_range: Sequence[float] = (0.5, 1.5),
                 gamma_prob: float = 0.5,
                 gamma_range: Sequence[float] = (0.7, 1.5),
                 blur_prob: float = 0.3,
                 blur_sigma: Sequence[float] = (0.3, 1.5),
                 noise_prob: float = 0.3,
                 noise_std: Sequence[float] = (2., 10.),
                 patch_prob: float = 0.5,
                 max_patches: int = 3,
                 patch_size: Sequence[float] = (0.15, 0.4),
                 background_prob: float = 0.3,
                 hand_margin: float = 0.1) -> None:
        super().__init__()
        self.brightness_prob = _prob(brightness_prob, 'brightness_prob')
        self.brightness_delta = float(brightness_delta)
        self.contrast_prob = _prob(contrast_prob, 'contrast_prob')
        self.contrast_range = _range(contrast_range, 'contrast_range')
        self.gamma_prob = _prob(gamma_prob, 'gamma_prob')
        self.gamma_range = _range(gamma_range, 'gamma_range')
        if self.gamma_range[0] <= 0:
            raise ValueError('AppearanceJitter: gamma_range must be positive')
        self.blur_prob = _prob(blur_prob, 'blur_prob')
        self.blur_sigma = _range(blur_sigma, 'blur_sigma')
        self.noise_prob = _prob(noise_prob, 'noise_prob')
        self.noise_std = _range(noise_std, 'noise_std')
        self.patch_prob = _prob(patch_prob, 'patch_prob')
        if int(max_patches) < 1:
            raise ValueError(f'AppearanceJitter: max_patches must be >= 1, got {max_patches}')
        self.max_patches = int(max_patches)
        self.patch_size = _range(patch_size, 'patch_size')
        self.background_prob = _prob(background_prob, 'background_prob')
        self.hand_margin = float(hand_margin)

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _hand_points(results: Dict) -> Optional[np.ndarray]:
        kpts = results.get('transformed_keypoints', results.get('keypoints'))
        if kpts is None:
            return None
        kpts = np.asarray(kpts, dtype=np.float32).reshape(-1, np.shape(kpts)[-2], 2)[0]
        vis = results.get('keypoints_visible')
        if vis is not None:
            vis = np.asarray(vis).reshape(-1, kpts.shape[0])[0] > 0
            kpts = kpts[vis]
        return kpts if len(kpts) else None

    def _donor(self, results: Dict, shape: Tuple[int, ...]) -> Optional[np.ndarray]:
        """A random region of another sample's image, resized to ``shape``'s (h, w)."""
        dataset = results.get('dataset')
        if dataset is None or len(dataset) < 2:
            return None
        own = results.get('sample_idx')
        idx = random.randint(0, len(dataset))
        if idx == own:
            idx = (idx + 1) % len(dataset)
        info = dataset.get_data_info(idx)
        img = info.get('img')
        if img is None:
            path = info.get('img_path')
            if path is None:
                return None
            img = mmcv.imread(path, flag='color')
            if img is None:
                return None
        if len(shape) == 2 and img.ndim == 3:
            img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        elif len(shape) == 3 and img.ndim == 2:
            img = np.repeat(img[..., None], shape[2], axis=2)
        h, w = img.shape[:2]
        frac = random.uniform(0.3, 1.0)
        ch, cw = max(2, int(h * frac)), max(2, int(w * frac))
        y0, x0 = random.randint(0, h - ch + 1), random.randint(0, w - cw + 1)
        region = img[y0:y0 + ch, x0:x0 + cw]
        out = cv2.resize(region, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
        return out.reshape(shape)

    def _hand_mask(self, pts: np.ndarray, h: int, w: int) -> np.ndarray:
        mask = np.zeros((h, w), np.uint8)
        hull = cv2.convexHull(np.round(pts).astype(np.int32).reshape(-1, 1, 2))
        cv2.fillConvexPoly(mask, hull, 1)
        r = max(1, int(round(self.hand_margin * max(h, w))))
        mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1,) * 2))
        return mask.astype(bool)

    def _paste_patches(self, img: np.ndarray, donor: np.ndarray,
                       keep: Optional[np.ndarray]) -> np.ndarray:
        """Paste rectangles of ``donor``; pixels where ``keep`` is set are left alone."""
        h, w = img.shape[:2]
        for _ in range(random.randint(1, self.max_patches + 1)):
            ph = max(2, int(random.uniform(*self.patch_size) * h))
            pw = max(2, int(random.uniform(*self.patch_size) * w))
            y0, x0 = random.randint(0, h - ph + 1), random.randint(0, w - pw + 1)
            sy, sx = random.randint(0, h - ph + 1), random.randint(0, w - pw + 1)
            patch = donor[sy:sy + ph, sx:sx + pw]
            if keep is None:
                img[y0:y0 + ph, x0:x0 + pw] = patch
            else:
                free = ~keep[y0:y0 + ph, x0:x0 + pw]
                img[y0:y0 + ph, x0:x0 + pw][free] = patch[free]
        return img

    # ---------------------------------------------------------------- transform
    def transform(self, results: Dict) -> Dict:
        """Apply the augmentation to ``results['img']``.

        Args:
            results (dict): The result dict.

        Returns:
            dict: The result dict with the augmented image.
        """
        img = results['img']
        dtype_in = img.dtype
        img = img.copy()
        h, w = img.shape[:2]
        pts = self._hand_points(results)
        keep = self._hand_mask(pts, h, w) if pts is not None else None

        if keep is not None and random.uniform() < self.background_prob:
            donor = self._donor(results, img.shape)
            if donor is not None:
                img = np.where(keep.reshape(keep.shape + (1, ) * (img.ndim - 2)), img, donor)
        if random.uniform() < self.patch_prob:
            donor = self._donor(results, img.shape)
            if donor is not None:
                img = self._paste_patches(img, donor, keep)

        x = img.astype(np.float32)
        if random.uniform() < self.brightness_prob:
            x += random.uniform(-self.brightness_delta, self.brightness_delta)
        if random.uniform() < self.contrast_prob:
            mean = x.mean()
            x = (x - mean) * random.uniform(*self.contrast_range) + mean
        if random.uniform() < self.gamma_prob:
            x = 255.0 * (np.clip(x, 0, 255) / 255.0)**random.uniform(*self.gamma_range)
        if random.uniform() < self.blur_prob:
            x = cv2.GaussianBlur(x, (0, 0), random.uniform(*self.blur_sigma)).reshape(x.shape)
        if random.uniform() < self.noise_prob:
            x += random.normal(0.0, random.uniform(*self.noise_std), size=x.shape)
        x = np.clip(np.round(x), 0, 255)
        results['img'] = x.astype(np.uint8) if dtype_in == np.uint8 else x.astype(dtype_in)
        return results

    def __repr__(self) -> str:
        """print the basic information of the transform.

        Returns:
            str: Formatted string.
        """
        keys = ('brightness_prob', 'brightness_delta', 'contrast_prob', 'contrast_range',
                'gamma_prob', 'gamma_range', 'blur_prob', 'blur_sigma', 'noise_prob',
                'noise_std', 'patch_prob', 'max_patches', 'patch_size', 'background_prob',
                'hand_margin')
        return (f'{self.__class__.__name__}(' +
                ', '.join(f'{k}={getattr(self, k)!r}' for k in keys) + ')')
