"""The base of transforms that combine a sample with a second sample cropped like it."""
import copy
import warnings
from typing import Any, Dict, Optional, Sequence

from mmcv.transforms import BaseTransform, Compose
from mmpose.utils.typing import ConfigType, OptConfigType
from numpy import random

__all__ = ['PairedCropTransform']


class PairedCropTransform(BaseTransform):
    """Combine the current crop with a second sample's crop, with probability ``prob``.

    The base of :class:`MixReconstruct` (a generator renders the current pose
    with the second sample's appearance) and :class:`AmplitudeMix` (the
    second crop's low-frequency Fourier amplitude). It owns what both need:
    drawing the second sample by a policy, from the dataset the sample comes
    from (``results['dataset']``, set by MMPose's COCO-style datasets) or
    from a pool dataset, and cropping it with ``pre_transform`` exactly like
    the current sample (the pipeline up to ``TopdownAffine``).

    (MMPose's ``MixImageTransform`` draws its auxiliary samples uniformly and
    knows nothing of poses; the policies below need the current sample, so
    this base replaces it.)

    Subclasses implement :meth:`transform` and call :meth:`fires` and
    :meth:`second_crop` (or :meth:`second_info`, for a subclass that needs
    the second sample's annotation only: ``CROPS_SECOND = False``, no
    ``pre_transform``).

    Args:
        prob (float): Probability of combining a sample. Defaults to 0.5.
        pre_transform (Sequence[dict]): The pipeline that turns the second
            sample's data info into a crop like the current one (load,
            colour conversion, bbox, ``TopdownAffine``).
        appearance_policy (str): Where second samples come from:
            ``'uniform'`` (any other sample of the dataset), ``'other_pose'``
            (a sample whose ``pose_id`` — or image, when the dataset has no
            pose ids — differs, when there is one) or ``'pool'`` (a random
            sample of ``appearance_pool``). Defaults to ``'other_pose'``, or
            ``'pool'`` when ``appearance_pool`` is given.
        appearance_pool (dict, optional): Config of a dataset of second
            samples, built lazily from ``mmpose.registry.DATASETS`` with an
            empty pipeline. Defaults to ``None``.
        pose_id_key (str): Data-info key of the pose id for
            ``'other_pose'``. Defaults to ``'pose_id'``.
        max_tries (int): Random draws for a sample of another pose before
            falling back to a scan. Defaults to 16.
    """

    POLICIES = ('uniform', 'other_pose', 'pool')
    CROPS_SECOND = True
    """Whether the subclass crops the second sample (then ``pre_transform`` is required)."""

    def __init__(self,
                 prob: float = 0.5,
                 pre_transform: Optional[Sequence[ConfigType]] = None,
                 appearance_policy: Optional[str] = None,
                 appearance_pool: OptConfigType = None,
                 pose_id_key: str = 'pose_id',
                 max_tries: int = 16) -> None:
        name = type(self).__name__
        if isinstance(prob, bool) or not isinstance(prob, (int, float)) or not 0 <= prob <= 1:
            raise ValueError(f'{name}: prob is the share of changed samples and must be a '
                             f'number in [0, 1], got {prob!r}')
        if not pre_transform and self.CROPS_SECOND:
            raise ValueError(
                f'{name}: pre_transform is needed to crop the second sample like the current '
                'one; list the pipeline up to TopdownAffine, e.g. '
                "[dict(type='LoadImage'), dict(type='GetBBoxCenterScale'), "
                "dict(type='TopdownAffine', input_size=(64, 64))]")
        if appearance_policy is None:
            appearance_policy = 'pool' if appearance_pool is not None else 'other_pose'
        if appearance_policy not in self.POLICIES:
            raise ValueError(f'{name}: appearance_policy must be one of {self.POLICIES}, '
                             f'got {appearance_policy!r}')
        if appearance_policy == 'pool' and appearance_pool is None:
            raise ValueError(f"{name}: appearance_policy='pool' needs appearance_pool="
                             "dict(type=<dataset>, ...)")
        self.prob = float(prob)
        self.pre_transform = Compose(copy.deepcopy(list(pre_transform))) \
            if pre_transform else None
        self.appearance_policy = appearance_policy
        self.appearance_pool = copy.deepcopy(appearance_pool)
        self.pose_id_key = pose_id_key
        self.max_tries = int(max_tries)
        self._pool = None

    def __getstate__(self) -> Dict[str, Any]:
        """Everything but the pool (rebuilt lazily after unpickling)."""
        state = self.__dict__.copy()
        state['_pool'] = None
        return state

    def fires(self) -> bool:
        """Draw whether this sample is combined (probability ``prob``)."""
        return self.prob > 0 and random.uniform(0, 1) < self.prob

    def check_source(self, dataset) -> None:
        """Hook: refuse a dataset of second samples that does not fit (default: accept)."""

    # ---------------------------------------------------------------- drawing
    def _get_pool(self):
        if self._pool is None:
            from mmpose.registry import DATASETS
            cfg = copy.deepcopy(self.appearance_pool)
            cfg['pipeline'] = []
            self._pool = DATASETS.build(cfg)
            if len(self._pool) == 0:
                raise ValueError(f'{type(self).__name__}: appearance_pool is empty')
        return self._pool

    def _pose_key(self, info: dict) -> Any:
        if self.pose_id_key in info:
            return ('pose', info[self.pose_id_key])
        return ('img', info.get('img_id', info.get('img_path')))

    def _draw_index(self, dataset, results: dict) -> int:
        n = len(dataset)
        name = type(self).__name__
        if self.appearance_policy == 'pool':
            return random.randint(0, n)
        if n < 2:
            raise ValueError(
                f'{name}: the dataset has one sample, so there is no other appearance to mix '
                'with; use a larger dataset or give appearance_pool=dict(type=..., ...) with '
                'images to take appearances from.')
        own_idx = results.get('sample_idx')
        if self.appearance_policy == 'uniform':
            while True:
                idx = random.randint(0, n)
                if idx != own_idx:
                    return idx
        own = self._pose_key(results)
        for _ in range(self.max_tries):
            idx = random.randint(0, n)
            if idx != own_idx and self._pose_key(dataset.get_data_info(idx)) != own:
                return idx
        start = random.randint(0, n)
        for k in range(n):
            idx = (start + k) % n
            if idx != own_idx and self._pose_key(dataset.get_data_info(idx)) != own:
                return idx
        warnings.warn(f'{name}: every sample has the same pose; combining with a sample of '
                      'the same pose (appearance_policy=\'other_pose\' has nothing to choose)')
        return (own_idx + 1) % n if isinstance(own_idx, int) else random.randint(0, n)

    def second_info(self, results: Dict) -> Dict:
        """The second sample's data info (a copy), drawn by the policy; ``dataset`` set."""
        name = type(self).__name__
        if self.appearance_policy == 'pool':
            source = self._get_pool()
        else:
            source = results.get('dataset')
            if source is None:
                raise ValueError(
                    f'{name}: results["dataset"] is missing, so no second sample can be '
                    'drawn. Use an MMPose COCO-style dataset (they set it in prepare_data), '
                    'or give appearance_pool=dict(type=..., ...).')
            self.check_source(source)
        data = copy.deepcopy(source.get_data_info(self._draw_index(source, results)))
        data['dataset'] = source
        return data

    def second_crop(self, results: Dict) -> Dict:
        """The second sample, drawn by the policy and cropped like ``results``.

        Returns:
            dict: The second sample's results after ``pre_transform`` (``img``,
            ``img_id``, ``img_path``, ``id``, ...), without ``dataset``.
        """
        name = type(self).__name__
        other = self.pre_transform(self.second_info(results))
        if other is None:
            raise ValueError(f'{name}: pre_transform dropped the second sample')
        other.pop('dataset', None)
        if other['img'].shape != results['img'].shape:
            raise ValueError(
                f'{name}: pre_transform gives a {other["img"].shape} crop of the second sample '
                f'for a {results["img"].shape} sample; make it repeat the pipeline up to '
                f'TopdownAffine (same LoadImage/ToMonochrome and input_size).')
        return other

    @staticmethod
    def source_of(other: Dict) -> Dict:
        """The record of a second sample kept in the results (``img_id``, ``img_path``, ``id``)."""
        return dict(img_id=other.get('img_id'), img_path=other.get('img_path'),
                    id=other.get('id'))
