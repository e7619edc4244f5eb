"""Amplitude-spectrum mix (FACT, Xu et al. CVPR 2021): another crop's style, this crop's phase."""
from typing import Dict, Optional, Sequence

import numpy as np
from mmpose.registry import TRANSFORMS
from mmpose.utils.typing import ConfigType, OptConfigType
from numpy import random

from .paired_crop import PairedCropTransform

__all__ = ['AmplitudeMix', 'amplitude_mix']


def amplitude_mix(img: np.ndarray, other: np.ndarray, lam: float, ratio: float = 1.0
                  ) -> np.ndarray:
    """Interpolate the Fourier amplitude of ``img`` towards ``other``'s; keep ``img``'s phase.

    The amplitude spectrum carries mostly low-level statistics (contrast,
    colour, texture), the phase the structure: the result keeps ``img``'s
    geometry (and so its keypoints) with some of ``other``'s appearance.

    Args:
        img: ``(H, W)`` or ``(H, W, C)`` uint8 image whose phase is kept.
        other: Image of the same shape whose amplitude is mixed in.
        lam: Mixing weight of ``other``'s amplitude, in ``[0, 1]``.
        ratio: Share of the spectrum's area that is mixed, a centred
            (lowest-frequency) square-ish window; 1 mixes all of it (FACT),
            a small ratio only the lowest frequencies (FDA).

    Returns:
        np.ndarray: uint8 image of ``img``'s shape.
    """
    f_img = np.fft.fft2(img.astype(np.float64), axes=(0, 1))
    f_other = np.fft.fft2(other.astype(np.float64), axes=(0, 1))
    amp, pha = np.abs(f_img), np.angle(f_img)
    amp = np.fft.fftshift(amp, axes=(0, 1))
    amp_other = np.fft.fftshift(np.abs(f_other), axes=(0, 1))
    h, w = img.shape[:2]
    hc, wc = max(1, int(h * np.sqrt(ratio))), max(1, int(w * np.sqrt(ratio)))
    h0, w0 = h // 2 - hc // 2, w // 2 - wc // 2
    win = (slice(h0, h0 + hc), slice(w0, w0 + wc))
    amp[win] = lam * amp_other[win] + (1.0 - lam) * amp[win]
    amp = np.fft.ifftshift(amp, axes=(0, 1))
    out = np.real(np.fft.ifft2(amp * np.exp(1j * pha), axes=(0, 1)))
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


@TRANSFORMS.register_module()
class AmplitudeMix(PairedCropTransform):
    """FACT's amplitude-spectrum mix as a label-exact appearance augmentation.

    With probability ``prob`` a second sample is drawn and cropped like the
    current one (:class:`PairedCropTransform`); the current crop's Fourier
    amplitude is interpolated towards the second crop's with a weight
    ``lam ~ U(0, alpha)`` inside the central ``ratio`` of the spectrum, and
    the current phase is kept (Xu et al., "A Fourier-based Framework for
    Domain Generalization", CVPR 2021; ``ratio < 1`` restricts it to the
    low frequencies like Yang & Soatto's FDA, CVPR 2020). No generator is
    involved and the geometry stays, so the labels are exact. A conventional
    arm of ``tools/ratio_study.py``.

    Place it after ``TopdownAffine`` and before ``GenerateTarget``.

    Required Keys:

    - img
    - dataset (set by MMPose's COCO-style datasets; not needed with
      ``appearance_pool``)

    Modified Keys:

    - img (only when the transform fires)

    Added Keys:

    - amplitude_mixed (bool): whether the image was changed

    Args:
        prob (float): Probability of mixing a sample. Defaults to 0.5.
        pre_transform (Sequence[dict]): The pipeline up to ``TopdownAffine``
            (see :class:`PairedCropTransform`).
        alpha (float): Upper bound of the mixing weight, in ``(0, 1]``.
            Defaults to 1.0 (FACT).
        ratio (float): Share of the spectrum that is mixed, in ``(0, 1]``.
            Defaults to 1.0 (FACT).
        appearance_policy (str): See :class:`PairedCropTransform`. Defaults
            to ``'uniform'`` (any other sample, as in FACT).
        appearance_pool (dict, optional): See :class:`PairedCropTransform`.
    """

    def __init__(self,
                 prob: float = 0.5,
                 pre_transform: Optional[Sequence[ConfigType]] = None,
                 alpha: float = 1.0,
                 ratio: float = 1.0,
                 appearance_policy: Optional[str] = 'uniform',
                 appearance_pool: OptConfigType = None) -> None:
        if appearance_pool is not None and appearance_policy == 'uniform':
            appearance_policy = 'pool'
        super().__init__(prob=prob, pre_transform=pre_transform,
                         appearance_policy=appearance_policy, appearance_pool=appearance_pool)
        for key, value in (('alpha', alpha), ('ratio', ratio)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                    not 0 < value <= 1:
                raise ValueError(f'AmplitudeMix: {key} must be a number in (0, 1], got {value!r}')
        self.alpha = float(alpha)
        self.ratio = float(ratio)

    def transform(self, results: Dict) -> Dict:
        """Mix the amplitude with probability ``prob``; add ``amplitude_mixed``.

        Args:
            results (dict): The result dict, after ``TopdownAffine``.

        Returns:
            dict: The result dict.
        """
        results['amplitude_mixed'] = False
        if not self.fires():
            return results
        if 'input_size' not in results:
            raise ValueError('AmplitudeMix must come after TopdownAffine in the pipeline (the '
                             'sample has no input_size key, so it is not a crop yet)')
        other = self.second_crop(results)
        lam = random.uniform(0, self.alpha)
        results['img'] = amplitude_mix(results['img'], other['img'], lam, self.ratio)
        results['amplitude_mixed'] = True
        return results

    def __repr__(self) -> str:
        """print the basic information of the transform.

        Returns:
            str: Formatted string.
        """
        return (f'{self.__class__.__name__}(prob={self.prob}, alpha={self.alpha}, '
                f'ratio={self.ratio}, appearance_policy={self.appearance_policy!r}, '
                f'pre_transform={self.pre_transform})')
