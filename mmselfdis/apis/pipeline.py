"""Pipeline surgery shared by the augmentation tools: crop prefix and insertion point."""
import copy
from typing import List, Sequence

__all__ = ['RANDOM_TRANSFORMS', 'crop_pipeline', 'insert_after_affine', 'insert_after_load',
           'transform_names']

RANDOM_TRANSFORMS = ('RandomFlip', 'RandomBBoxTransform', 'RandomHalfBody', 'MixReconstruct',
                     'AppearanceJitter', 'PhotometricDistortion', 'Albumentation',
                     'YOLOXHSVRandomAug', 'TruthMix')
"""Steps left out of a deterministic crop pipeline."""


def transform_names(pipeline: Sequence[dict]) -> List[str]:
    """The ``type`` of every step (scope prefixes dropped)."""
    return [str(t.get('type', '')).split('.')[-1] for t in pipeline]


def _last_affine(pipeline: Sequence[dict]) -> int:
    names = transform_names(pipeline)
    if 'TopdownAffine' not in names:
        from mmselfdis.utils import ConfigError
        raise ConfigError('the training pipeline has no TopdownAffine, so there is no crop: the '
                          'mixing works on top-down configs (GetBBoxCenterScale, then '
                          'TopdownAffine(input_size=...))')
    return len(names) - 1 - names[::-1].index('TopdownAffine')


def crop_pipeline(pipeline: Sequence[dict], keep_random: bool = False) -> List[dict]:
    """The steps of ``pipeline`` up to and including its last ``TopdownAffine``.

    Args:
        pipeline: A training pipeline (list of transform configs).
        keep_random: Keep random steps (:data:`RANDOM_TRANSFORMS`); by
            default they are dropped, so every crop is deterministic.

    Returns:
        list: Deep copies of the kept steps.

    Raises:
        ConfigError: The pipeline has no ``TopdownAffine``.
    """
    last = _last_affine(pipeline)
    names = transform_names(pipeline)
    return [copy.deepcopy(dict(t)) for t, name in zip(pipeline[:last + 1], names[:last + 1])
            if keep_random or name not in RANDOM_TRANSFORMS]


def _insert_after(pipeline: Sequence[dict], index: int, steps: Sequence[dict]) -> List[dict]:
    """Deep copies of ``pipeline`` with deep copies of ``steps`` after step ``index``."""
    out = [copy.deepcopy(dict(t)) for t in pipeline]
    return out[:index + 1] + [copy.deepcopy(dict(s)) for s in steps] + out[index + 1:]


def insert_after_affine(pipeline: Sequence[dict], steps: Sequence[dict]) -> List[dict]:
    """``pipeline`` with ``steps`` right after its last ``TopdownAffine``.

    Raises:
        ConfigError: The pipeline has no ``TopdownAffine``.
    """
    return _insert_after(pipeline, _last_affine(pipeline), steps)


def insert_after_load(pipeline: Sequence[dict], steps: Sequence[dict]) -> List[dict]:
    """``pipeline`` with ``steps`` right after its first ``LoadImage`` (steps that redraw the
    image file, e.g. ``TruthMix``).

    Raises:
        ConfigError: The pipeline has no ``LoadImage``.
    """
    names = transform_names(pipeline)
    if 'LoadImage' not in names:
        from mmselfdis.utils import ConfigError
        raise ConfigError('the training pipeline has no LoadImage step to put the image-file '
                          'transform after')
    return _insert_after(pipeline, names.index('LoadImage'), steps)
