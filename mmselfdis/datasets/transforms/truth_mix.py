"""The oracle of mixing on SynthHands: the renderer draws x's pose in y's appearance."""
from typing import Dict, Optional, Sequence

import numpy as np
from mmpose.registry import TRANSFORMS

from .mix_reconstruct import mark_unmixed
from .paired_crop import PairedCropTransform

__all__ = ['TruthMix', 'APPEARANCE_FACTORS']

APPEARANCE_FACTORS = ('lighting', 'skin', 'sleeve', 'background', 'camera', 'seed')
"""The parts of a SynthHands appearance (``synthhands.appearance``); ``seed`` draws the
random layout of the texture, background and noise fields."""


@TRANSFORMS.register_module()
class TruthMix(PairedCropTransform):
    """Replace the image by the *true* picture of its pose in another sample's appearance.

    The reference for what a generator's mixes are worth as training data: on
    SynthHands (``tools/make_synthhands.py``) every annotation keeps the
    renderer's ``pose`` and ``appearance`` parameters, so "the hand of x as
    it looks under the lighting, background and skin of y" needs no
    generator: with probability ``prob`` the sample (the pose source ``x``)
    is re-rendered with the appearance of a second sample ``y`` drawn by
    ``appearance_policy`` (see :class:`PairedCropTransform`). The keypoints
    are x's and exact (the render of a pose does not depend on its
    appearance). ``tools/ratio_study.py --truth-ratios`` trains such arms
    beside the generator's, on the same data, seeds and budget, so that a
    mixing arm's gain can be read against the gain perfect mixes give (a
    generator's mixes can do better as training data for other reasons - e.g.
    a drawing of the labelled hand that is easier to learn from - which is
    what the comparison tells apart).

    Place it right after ``LoadImage`` (it redraws the whole image file, so
    every later step - colour conversion, box, crop, flips - applies to the
    rendered image as it would to the file). Rendering x's pose in x's own
    appearance gives the file back pixel for pixel.

    Required Keys:

    - img (the loaded image file: ``(S, S)`` or ``(S, S, C)`` uint8)
    - raw_ann_info (with ``pose`` and ``appearance``; also for the second
      sample)
    - dataset (set by MMPose's COCO-style datasets; not needed with
      ``appearance_pool``)

    Modified Keys:

    - img (only when the transform fires)

    Added Keys:

    - mixed, mix_source, mix_dropped, mix_judge_pck, mix_pose_image (as
      :class:`MixReconstruct`; never dropped, no judge, no pose image)

    Args:
        prob (float): Probability of re-rendering a sample, the augmentation
            ratio ``r`` in ``[0, 1]``. Defaults to 0.5.
        appearance_policy (str): ``'uniform'``, ``'other_pose'`` or
            ``'pool'``. Defaults to ``'other_pose'``, or ``'pool'`` when
            ``appearance_pool`` is given.
        appearance_pool (dict, optional): A SynthHands dataset config whose
            appearances are used. Defaults to ``None``.
        factors (Sequence[str], optional): The parts of the appearance taken
            from ``y`` (:data:`APPEARANCE_FACTORS`); the others stay ``x``'s.
            ``None`` (default): all of them, the true mix. A subset asks
            which factor a mix must carry, e.g. every factor but ``'skin'``
            (x's skin texture under y's light, in y's scene) tells what a
            generator that cannot move texture loses.
        pose_id_key (str): See :class:`PairedCropTransform`.
        max_tries (int): See :class:`PairedCropTransform`.
    """

    CROPS_SECOND = False

    def __init__(self, prob: float = 0.5, appearance_policy=None, appearance_pool=None,
                 factors: Optional[Sequence[str]] = None, pose_id_key: str = 'pose_id',
                 max_tries: int = 16) -> None:
        super().__init__(prob=prob, pre_transform=None, appearance_policy=appearance_policy,
                         appearance_pool=appearance_pool, pose_id_key=pose_id_key,
                         max_tries=max_tries)
        if factors is not None:
            if isinstance(factors, str) or not factors or \
                    any(f not in APPEARANCE_FACTORS for f in factors):
                raise ValueError(f'TruthMix: factors must be a non-empty list of '
                                 f'{APPEARANCE_FACTORS}, got {factors!r}')
            factors = tuple(dict.fromkeys(factors))
        self.factors = factors

    @staticmethod
    def _params(info: Dict, key: str, which: str) -> dict:
        ann = info.get('raw_ann_info') or {}
        if key not in ann:
            raise ValueError(
                f'TruthMix: the {which} sample ({info.get("img_path")}) has no {key!r} in its '
                f'annotation: TruthMix re-renders SynthHands samples and needs the renderer\'s '
                f'parameters (annotations written by tools/make_synthhands.py, loaded by '
                f'SynthHandDataset). For other data mix with a generator (MixReconstruct).')
        return ann[key]

    def transform(self, results: Dict) -> Dict:
        """Re-render with probability ``prob``; always add the mix keys.

        Args:
            results (dict): The result dict, right after ``LoadImage``.

        Returns:
            dict: The result dict.
        """
        mark_unmixed(results)
        if not self.fires():
            return results
        if 'input_size' in results:
            raise ValueError('TruthMix must come right after LoadImage (it redraws the image '
                             'file); this sample is already a crop (it has input_size)')
        img = results['img']
        if img.ndim not in (2, 3) or img.shape[0] != img.shape[1]:
            raise ValueError(f'TruthMix: expected a square SynthHands image file, got shape '
                             f'{img.shape} ({results.get("img_path")})')
        pose = self._params(results, 'pose', 'current')
        other = self.second_info(results)
        appearance = self._params(other, 'appearance', 'appearance-source')
        if self.factors is not None:
            own = self._params(results, 'appearance', 'current')
            appearance = {k: (appearance if k in self.factors else own)[k] for k in own}
        from mmselfdis.datasets.synthhands import render
        rgb = img.ndim == 3 and img.shape[2] >= 3 and not (
            (img[..., 0] == img[..., 1]).all() and (img[..., 1] == img[..., 2]).all())
        new, _, _ = render(pose, appearance, size=int(img.shape[0]), rgb=rgb)
        if new.ndim == 2 and img.ndim == 3:  # a monochrome file loaded with 3 channels
            new = np.repeat(new[..., None], img.shape[2], axis=2)
        results['img'] = np.ascontiguousarray(new.astype(img.dtype, copy=False))
        results['mixed'] = True
        results['mix_source'] = self.source_of(other)
        return results
