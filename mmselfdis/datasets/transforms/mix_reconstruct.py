"""Mixed training images from a frozen generator (paper §4.5), as a pipeline transform."""
import copy
import os
import os.path as osp
import warnings
from typing import Any, Dict, Optional, Sequence, Union

from mmpose.datasets.transforms.mix_img_transforms import MixImageTransform
from mmpose.registry import TRANSFORMS
from mmpose.utils.typing import ConfigType, OptConfigType
from numpy import random

__all__ = ['MixReconstruct', 'MIX_META_KEYS']

MIX_META_KEYS = ('mixed', 'mix_source')
"""Keys to add to ``PackPoseInputs(meta_keys=...)`` to carry the mix mark."""


@TRANSFORMS.register_module()
class MixReconstruct(MixImageTransform):
    """Replace the image by a new pose–appearance combination (paper §4.5).

    With probability ``prob`` (the augmentation ratio) the current sample is
    the *pose source*: another sample (the *appearance source*) is drawn,
    ``pre_transform`` crops it exactly like the current one, and a frozen
    generator (a trained :class:`~mmselfdis.models.SelfDisPoseEstimator`)
    renders the current pose with the other sample's appearance
    (:func:`mmselfdis.apis.mix_images`). Keypoints and every other label
    stay those of the pose source.

    Place it after ``TopdownAffine`` and before ``GenerateTarget``; its
    ``pre_transform`` repeats the pipeline up to ``TopdownAffine``. The
    generator is loaded lazily (``weights_only=True``) the first time the
    transform fires in each process (data-loader worker) and is never
    pickled, so the transform can be sent to workers.

    To keep the mark in the packed data sample, add :data:`MIX_META_KEYS`
    to ``PackPoseInputs``::

        dict(type='PackPoseInputs',
             meta_keys=('id', 'img_id', 'img_path', 'category_id', 'crowd_index',
                        'ori_shape', 'img_shape', 'input_size', 'input_center',
                        'input_scale', 'flip', 'flip_direction', 'flip_indices',
                        'raw_ann_info', 'dataset_name', 'mixed', 'mix_source'))

    Required Keys:

    - img
    - input_size (set by ``TopdownAffine``)
    - dataset (set by MMPose's COCO-style datasets; not needed with
      ``appearance_pool``)

    Modified Keys:

    - img (only when the transform fires)

    Added Keys:

    - mixed (bool): whether the image was replaced
    - mix_source (dict | None): ``img_id``, ``img_path`` and ``id`` of the
      appearance source, ``None`` when not mixed

    Args:
        checkpoint (str): The generator's checkpoint (``tools/train.py`` on a
            self-disentanglement config).
        config (str | dict, optional): The generator's config; ``None`` reads
            it from the checkpoint's ``meta['cfg']``. Defaults to ``None``.
        prob (float): Probability of mixing a sample, the augmentation ratio
            ``r`` in ``[0, 1]``. Defaults to 0.5.
        pre_transform (Sequence[dict]): The pipeline that turns an
            appearance source's data info into a crop like the current one
            (load, colour conversion, bbox, ``TopdownAffine``).
        device (str): Device of the generator. Defaults to ``'cpu'``.
        appearance_policy (str): Where appearance sources come from:
            ``'uniform'`` (any other sample of the dataset), ``'other_pose'``
            (a sample whose ``pose_id`` — or image, when the dataset has no
            pose ids — differs, when there is one) or ``'pool'`` (a random
            sample of ``appearance_pool``) or ``'self'`` (the sample itself: the
            generator's reconstruction ``D_I([p(x), a(x)])``, a control that
            changes the image distribution but not the appearance). Defaults to
            ``'other_pose'``, or ``'pool'`` when ``appearance_pool`` is given.
        appearance_pool (dict, optional): Config of a dataset of appearance
            sources (e.g. unlabeled images with boxes), built lazily from
            ``mmpose.registry.DATASETS`` with an empty pipeline. Defaults to
            ``None``.
        pose_id_key (str): Data-info key of the pose id for
            ``'other_pose'``. Defaults to ``'pose_id'``.
        max_tries (int): Random draws for a source of another pose before
            falling back to a scan. Defaults to 16.
    """

    num_aux_image = 1
    POLICIES = ('uniform', 'other_pose', 'pool', 'self')

    def __init__(self,
                 checkpoint: str,
                 config: Optional[Union[str, ConfigType]] = None,
                 prob: float = 0.5,
                 pre_transform: Optional[Sequence[ConfigType]] = None,
                 device: str = 'cpu',
                 appearance_policy: Optional[str] = None,
                 appearance_pool: OptConfigType = None,
                 pose_id_key: str = 'pose_id',
                 max_tries: int = 16) -> None:
        if isinstance(prob, bool) or not isinstance(prob, (int, float)) or not 0 <= prob <= 1:
            raise ValueError(f'MixReconstruct: prob is the share of mixed samples and must be a '
                             f'number in [0, 1], got {prob!r}')
        if not pre_transform:
            raise ValueError(
                'MixReconstruct: pre_transform is needed to crop the appearance source like the '
                'current sample; list the pipeline up to TopdownAffine, e.g. '
                "[dict(type='LoadImage'), dict(type='GetBBoxCenterScale'), "
                "dict(type='TopdownAffine', input_size=(64, 64))]")
        if not isinstance(checkpoint, (str, os.PathLike)) or not osp.isfile(checkpoint):
            raise FileNotFoundError(
                2, 'MixReconstruct: generator checkpoint not found (train one with '
                'tools/train.py on a configs/selfdis config and pass its epoch_*.pth)',
                os.fspath(checkpoint) if isinstance(checkpoint, (str, os.PathLike))
                else repr(checkpoint))
        if appearance_policy is None:
            appearance_policy = 'pool' if appearance_pool is not None else 'other_pose'
        if appearance_policy not in self.POLICIES:
            raise ValueError(f'MixReconstruct: appearance_policy must be one of {self.POLICIES}, '
                             f'got {appearance_policy!r}')
        if appearance_policy == 'pool' and appearance_pool is None:
            raise ValueError("MixReconstruct: appearance_policy='pool' needs appearance_pool="
                             "dict(type=<dataset>, ...)")
        super().__init__(pre_transform=pre_transform, prob=float(prob))
        self.checkpoint = os.fspath(checkpoint)
        self.config = copy.deepcopy(config)
        self.device = device
        self.appearance_policy = appearance_policy
        self.appearance_pool = copy.deepcopy(appearance_pool)
        self.pose_id_key = pose_id_key
        self.max_tries = int(max_tries)
        self._generator = None
        self._info = None
        self._pool = None
        self._checked: Dict[int, bool] = {}
        self._check_checkpoint()

    def _check_checkpoint(self) -> None:
        """Fail at build time (not in a worker) on an unreadable checkpoint or no config."""
        from mmselfdis.utils import CheckpointLoadError, safe_load_checkpoint
        ckpt = safe_load_checkpoint(self.checkpoint)
        if 'state_dict' not in ckpt and not any(hasattr(v, 'shape') for v in ckpt.values()):
            raise CheckpointLoadError(
                f'MixReconstruct: {self.checkpoint!r} holds no weights (no "state_dict"); pass '
                f'a checkpoint written by tools/train.py')
        if self.config is None and not isinstance((ckpt.get('meta') or {}).get('cfg'), str):
            raise CheckpointLoadError(
                f'MixReconstruct: {self.checkpoint!r} carries no config in meta["cfg"]; pass '
                f'the generator\'s training config as config=...')

    # ---------------------------------------------------------------- pickling
    def __getstate__(self) -> Dict[str, Any]:
        """Everything but the generator and the pool (rebuilt lazily after unpickling)."""
        state = self.__dict__.copy()
        state['_generator'] = None
        state['_info'] = None
        state['_pool'] = None
        state['_checked'] = {}
        return state

    # ---------------------------------------------------------------- helpers
    @property
    def generator(self):
        """The frozen generator, loaded on first use in this process."""
        if self._generator is None:
            from mmselfdis.apis import generator_info, load_generator, set_worker_threads
            set_worker_threads()
            self._generator = load_generator(self.checkpoint, self.config, self.device)
            self._info = generator_info(self._generator)
        return self._generator

    def _get_pool(self):
        if self._pool is None:
            from mmpose.registry import DATASETS
            cfg = copy.deepcopy(self.appearance_pool)
            cfg['pipeline'] = []
            self._pool = DATASETS.build(cfg)
            if len(self._pool) == 0:
                raise ValueError('MixReconstruct: appearance_pool is empty')
        return self._pool

    def _check_dataset(self, dataset) -> None:
        if id(dataset) in self._checked:
            return
        info = self._info
        n_kpts = (getattr(dataset, 'metainfo', None) or {}).get('num_keypoints')
        if info.num_keypoints is not None and n_kpts is not None \
                and int(n_kpts) != info.num_keypoints:
            raise ValueError(
                f'MixReconstruct: the generator was trained with {info.num_keypoints} keypoints '
                f'but the dataset {type(dataset).__name__} has {n_kpts}: mixing keeps the pose '
                f'of the pose source, which the generator can only encode for the keypoint '
                f'layout it learnt. Train a generator on this dataset (configs/selfdis/...).')
        self._checked[id(dataset)] = True

    def _pose_key(self, info: dict) -> Any:
        if self.pose_id_key in info:
            return ('pose', info[self.pose_id_key])
        return ('img', info.get('img_id', info.get('img_path')))

    def _draw_index(self, dataset, results: dict) -> int:
        n = len(dataset)
        if self.appearance_policy == 'pool':
            return random.randint(0, n)
        if n < 2:
            raise ValueError(
                'MixReconstruct: the dataset has one sample, so there is no other appearance '
                'to mix with; use a larger dataset or give appearance_pool=dict(type=..., ...) '
                'with images to take appearances from.')
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
        warnings.warn('MixReconstruct: every sample has the same pose; mixing with a sample of '
                      'the same pose (appearance_policy=\'other_pose\' has nothing to choose)')
        return (own_idx + 1) % n if isinstance(own_idx, int) else random.randint(0, n)

    # ---------------------------------------------------------------- transform
    def transform(self, results: Dict) -> Dict:
        """Mix with probability ``prob``; always add ``mixed`` and ``mix_source``.

        Args:
            results (dict): The result dict, after ``TopdownAffine``.

        Returns:
            dict: The result dict.
        """
        results['mixed'] = False
        results['mix_source'] = None
        if self.prob <= 0 or random.uniform(0, 1) >= self.prob:
            return results
        if 'input_size' not in results:
            raise ValueError('MixReconstruct must come after TopdownAffine in the pipeline (the '
                             'sample has no input_size key, so it is not a crop yet)')
        self.generator  # noqa: B018  (loads the generator and self._info)
        w, h = self._info.input_size
        if tuple(results['input_size']) != (w, h):
            raise ValueError(
                f'MixReconstruct: TopdownAffine crops {tuple(results["input_size"])} but the '
                f'generator mixes {(w, h)} crops: set TopdownAffine(input_size=({w}, {h})) or use '
                f'a generator trained at this size.')
        from mmselfdis.apis import mix_images
        app = self._appearance_source(results)
        results['img'] = mix_images(self._generator, results['img'], app['img'])
        results['mixed'] = True
        results['mix_source'] = dict(img_id=app.get('img_id'), img_path=app.get('img_path'),
                                     id=app.get('id'))
        return results

    def _appearance_source(self, results: Dict) -> Dict:
        """The appearance source's crop (``img``, ``img_id``, ``img_path``, ``id``).

        ``'self'``: the sample itself. Otherwise a sample drawn by the policy
        and cropped by ``pre_transform`` like the current one.
        """
        if self.appearance_policy == 'self':
            if results.get('dataset') is not None:
                self._check_dataset(results['dataset'])  # the keypoint layout
            return results
        if self.appearance_policy == 'pool':
            source = self._get_pool()
        else:
            source = results.get('dataset')
            if source is None:
                raise ValueError(
                    'MixReconstruct: results["dataset"] is missing, so no appearance source can '
                    'be drawn. Use an MMPose COCO-style dataset (they set it in prepare_data), '
                    'or give appearance_pool=dict(type=..., ...).')
            self._check_dataset(source)

        data = copy.deepcopy(source.get_data_info(self._draw_index(source, results)))
        data['dataset'] = source
        app = self.pre_transform(data)
        if app is None:
            raise ValueError('MixReconstruct: pre_transform dropped the appearance source')
        app.pop('dataset', None)
        if app['img'].shape != results['img'].shape:
            raise ValueError(
                f'MixReconstruct: pre_transform gives a {app["img"].shape} appearance crop for a '
                f'{results["img"].shape} sample; make it repeat the pipeline up to TopdownAffine '
                f'(same LoadImage/ToMonochrome and input_size).')
        return app

    def __repr__(self) -> str:
        """print the basic information of the transform.

        Returns:
            str: Formatted string.
        """
        repr_str = self.__class__.__name__
        repr_str += f'(checkpoint={self.checkpoint!r}, '
        repr_str += f'config={self.config!r}, '
        repr_str += f'prob={self.prob}, '
        repr_str += f'pre_transform={self.pre_transform}, '
        repr_str += f'device={self.device!r}, '
        repr_str += f'appearance_policy={self.appearance_policy!r}, '
        repr_str += f'appearance_pool={self.appearance_pool!r})'
        return repr_str
