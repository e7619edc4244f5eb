"""Mixed training images from a frozen generator (paper §4.5), as a pipeline transform."""
import copy
import os
import os.path as osp
from typing import Any, Dict, Optional, Sequence, Union

import numpy as np
import torch
from mmpose.registry import TRANSFORMS
from mmpose.utils.typing import ConfigType, OptConfigType

from .paired_crop import PairedCropTransform

__all__ = ['MixReconstruct', 'MIX_META_KEYS', 'mark_unmixed', 'load_judge', 'judge_pck',
           'judge_found']

MIX_META_KEYS = ('mixed', 'mix_source', 'mix_dropped', 'mix_judge_pck', 'mix_pose_image')
"""Keys to add to ``PackPoseInputs(meta_keys=...)`` to carry the mix mark (and the judge's
verdict, which ``MixRatioHook`` counts)."""


def mark_unmixed(results: Dict) -> Dict:
    """Set every key of :data:`MIX_META_KEYS` to its "not mixed" value (in place)."""
    results.update(mixed=False, mix_source=None, mix_dropped=False, mix_judge_pck=None,
                   mix_pose_image=None)
    return results


def load_judge(config: str, checkpoint: str, device: str = 'cpu'):
    """The judge of mixes, frozen: :func:`mmselfdis.evaluation.judge.load_judge`
    (a plain pose estimator trained on real images; a generator is refused)."""
    from mmselfdis.evaluation.judge import load_judge as _load_judge
    return _load_judge(config, checkpoint, device)


def _crop_keypoints(model, img: np.ndarray, flip_indices: Optional[list] = None) -> np.ndarray:
    """``(K, 2)`` keypoints that ``model`` predicts on one crop, in crop pixels
    (:func:`mmselfdis.evaluation.judge.predict_crop_keypoints`; its flip test,
    when its config has one, needs the dataset's ``flip_indices``)."""
    from mmselfdis.evaluation.judge import predict_crop_keypoints
    chw = img[None] if img.ndim == 2 else img.transpose(2, 0, 1)
    with torch.no_grad():
        return predict_crop_keypoints(model, torch.from_numpy(np.ascontiguousarray(chw))[None],
                                      [flip_indices])[0]


def judge_found(pred: np.ndarray, results: Dict, thr: float) -> np.ndarray:
    """``(K,)`` bool: labelled keypoints that ``pred`` (crop pixels) finds.

    A keypoint is found when the prediction lies within ``thr`` times the
    larger side of the sample's bounding box (in crop pixels, like MMPose's
    ``PCKAccuracy(norm_item='bbox')``) of its label. Unlabelled keypoints are
    never found.
    """
    target = np.asarray(results['transformed_keypoints'], np.float64)[0, :, :2]
    visible = np.asarray(results['keypoints_visible'], np.float64)[0]
    if visible.ndim > 1:
        visible = visible[..., 0]
    bbox = np.asarray(results['bbox'], np.float64).reshape(-1, 4)[0]
    crop_per_px = float(results['input_size'][0]) / float(
        np.asarray(results['bbox_scale'], np.float64).reshape(-1, 2)[0, 0])
    norm = max(bbox[2] - bbox[0], bbox[3] - bbox[1]) * crop_per_px
    return (visible > 0) & (np.linalg.norm(pred - target, axis=-1) <= thr * norm)


def judge_pck(pred: np.ndarray, results: Dict, thr: float) -> float:
    """PCK of ``pred`` (crop pixels) against the sample's keypoints, normalised by its box.

    The share of labelled keypoints that :func:`judge_found` finds; ``nan``
    when none is labelled.
    """
    visible = np.asarray(results['keypoints_visible'], np.float64)[0]
    if visible.ndim > 1:
        visible = visible[..., 0]
    labelled = visible > 0
    if not labelled.any():
        return float('nan')
    return float(judge_found(pred, results, thr)[labelled].mean())


@TRANSFORMS.register_module()
class MixReconstruct(PairedCropTransform):
    """Replace the image by a new pose–appearance combination (paper §4.5).

    With probability ``prob`` (the augmentation ratio) the current sample is
    the *pose source*: another sample (the *appearance source*) is drawn,
    ``pre_transform`` crops it exactly like the current one
    (:class:`PairedCropTransform`), and a frozen generator (a trained
    :class:`~mmselfdis.models.SelfDisPoseEstimator`) renders the current pose
    with the other sample's appearance (:func:`mmselfdis.apis.mix_images`).
    Keypoints and every other label stay those of the pose source.

    **Label-safe mixing** (``judge``): a mix keeps x's labels, so it is a
    useful training image only if it shows x's pose. An independent judge (a
    plain pose model trained on real images, e.g. by ``tools/train_judge.py``)
    looks at every mix; when its PCK against x's keypoints is below
    ``judge_min_pck`` the mix is dropped and the real sample kept
    (``mix_dropped=True``; ``MixRatioHook`` counts and logs the drops). With
    ``judge_mode='mask'`` a kept mix is also weighted per keypoint: the
    keypoints the judge does not find on it lose their labels
    (``keypoints_visible`` 0, so ``GenerateTarget`` gives them weight 0).

    Place it after ``TopdownAffine`` and before ``GenerateTarget``; its
    ``pre_transform`` repeats the pipeline up to ``TopdownAffine``. The
    generator (and the judge) are loaded lazily (``weights_only=True``) the
    first time the transform fires in each process (data-loader worker) and
    are never pickled, so the transform can be sent to workers.

    To keep the mark in the packed data sample, add :data:`MIX_META_KEYS`
    to ``PackPoseInputs``::

        dict(type='PackPoseInputs',
             meta_keys=('id', 'img_id', 'img_path', 'category_id', 'crowd_index',
                        'ori_shape', 'img_shape', 'input_size', 'input_center',
                        'input_scale', 'flip', 'flip_direction', 'flip_indices',
                        'raw_ann_info', 'dataset_name') + MIX_META_KEYS)

    Required Keys:

    - img
    - input_size (set by ``TopdownAffine``)
    - dataset (set by MMPose's COCO-style datasets; not needed with
      ``appearance_pool``)
    - transformed_keypoints, keypoints_visible, bbox, bbox_scale (only with
      ``judge``)

    Modified Keys:

    - img (only when the transform fires and the mix is kept)
    - keypoints_visible (only with ``judge_mode='mask'``, on a kept mix)

    Added Keys:

    - mixed (bool): whether the image was replaced
    - mix_source (dict | None): ``img_id``, ``img_path`` and ``id`` of the
      appearance source, ``None`` when not mixed
    - mix_dropped (bool): a mix was made and the judge rejected it
    - mix_judge_pck (float | None): the judge's PCK on the mix (``None``
      without a judge or when not mixed)
    - mix_pose_image (np.ndarray | None): the crop before mixing (the pose
      source ``x``; :class:`~mmselfdis.models.MixConsistencyEstimator`'s
      teacher reads it), ``None`` when not mixed

    Args:
        checkpoint (str): The generator's checkpoint (``tools/train.py`` on a
            self-disentanglement config).
        config (str | dict, optional): The generator's config; ``None`` reads
            it from the checkpoint's ``meta['cfg']``. Defaults to ``None``.
        prob (float): Probability of mixing a sample, the augmentation ratio
            ``r`` in ``[0, 1]``. Defaults to 0.5.
        pre_transform (Sequence[dict]): See :class:`PairedCropTransform`.
        device (str): Device of the generator and the judge. Defaults to
            ``'cpu'``.
        appearance_policy (str): ``'uniform'``, ``'other_pose'``, ``'pool'``
            (see :class:`PairedCropTransform`) or ``'self'`` (the sample
            itself: the generator's reconstruction ``D_I([p(x), a(x)])``, a
            control that changes the image distribution but not the
            appearance). Defaults to ``'other_pose'``, or ``'pool'`` when
            ``appearance_pool`` is given.
        appearance_pool (dict, optional): See :class:`PairedCropTransform`.
        pose_id_key (str): See :class:`PairedCropTransform`.
        max_tries (int): See :class:`PairedCropTransform`.
        judge (dict, optional): ``dict(config=..., checkpoint=...)`` of the
            judge, a plain pose estimator for the same keypoints and crops.
            Defaults to ``None`` (every mix is kept).
        judge_min_pck (float): Keep a mix only when the judge's PCK on it is
            at least this. Defaults to 0.5.
        judge_thr (float): PCK distance threshold, a fraction of the box's
            larger side. Defaults to 0.2 (the study's PCK@0.2).
        judge_mode (str): ``'drop'`` (a mix below ``judge_min_pck`` is
            dropped) or ``'mask'`` (besides, the keypoints the judge misses
            on a kept mix are unlabelled). Defaults to ``'drop'``.
    """

    POLICIES = PairedCropTransform.POLICIES + ('self', )

    def __init__(self,
                 checkpoint: str,
                 config: Optional[Union[str, ConfigType]] = None,
                 prob: float = 0.5,
                 pre_transform: Optional[Sequence[ConfigType]] = None,
                 device: str = 'cpu',
                 appearance_policy: Optional[str] = None,
                 appearance_pool: OptConfigType = None,
                 pose_id_key: str = 'pose_id',
                 max_tries: int = 16,
                 judge: OptConfigType = None,
                 judge_min_pck: float = 0.5,
                 judge_thr: float = 0.2,
                 judge_mode: str = 'drop') -> None:
        super().__init__(prob=prob, pre_transform=pre_transform,
                         appearance_policy=appearance_policy, appearance_pool=appearance_pool,
                         pose_id_key=pose_id_key, max_tries=max_tries)
        if not isinstance(checkpoint, (str, os.PathLike)) or not osp.isfile(checkpoint):
            raise FileNotFoundError(
                2, 'MixReconstruct: generator checkpoint not found (train one with '
                'tools/train.py on a configs/selfdis config and pass its epoch_*.pth)',
                os.fspath(checkpoint) if isinstance(checkpoint, (str, os.PathLike))
                else repr(checkpoint))
        if judge is not None:
            if not isinstance(judge, dict) or not judge.get('config') or \
                    not judge.get('checkpoint'):
                raise ValueError('MixReconstruct: judge must be dict(config=..., checkpoint=...) '
                                 f'of a plain pose estimator (tools/train_judge.py), got {judge!r}')
            if not osp.isfile(judge['checkpoint']):
                raise FileNotFoundError(2, 'MixReconstruct: judge checkpoint not found (train '
                                        'one on real images, e.g. tools/train_judge.py)',
                                        os.fspath(judge['checkpoint']))
        for key, value in (('judge_min_pck', judge_min_pck), ('judge_thr', judge_thr)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                    not 0 <= value <= 1:
                raise ValueError(f'MixReconstruct: {key} must be a number in [0, 1], '
                                 f'got {value!r}')
        if judge_mode not in ('drop', 'mask'):
            raise ValueError(f"MixReconstruct: judge_mode must be 'drop' or 'mask', got "
                             f'{judge_mode!r}')
        self.judge_mode = judge_mode
        self.checkpoint = os.fspath(checkpoint)
        self.config = copy.deepcopy(config)
        self.device = device
        self.judge = copy.deepcopy(judge)
        self.judge_min_pck = float(judge_min_pck)
        self.judge_thr = float(judge_thr)
        self._generator = None
        self._info = None
        self._judge = None
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
        """Everything but the generator, the judge and the pool (rebuilt lazily)."""
        state = super().__getstate__()
        state['_generator'] = None
        state['_info'] = None
        state['_judge'] = None
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

    @property
    def judge_model(self):
        """The frozen judge, loaded on first use in this process (``None`` without one)."""
        if self._judge is None and self.judge is not None:
            self._judge = load_judge(self.judge['config'], self.judge['checkpoint'],
                                     self.device)
        return self._judge

    def check_source(self, dataset) -> None:
        """Refuse a dataset whose keypoint layout the generator did not learn."""
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

    # ---------------------------------------------------------------- transform
    def transform(self, results: Dict) -> Dict:
        """Mix with probability ``prob``; always add the keys of :data:`MIX_META_KEYS`.

        Args:
            results (dict): The result dict, after ``TopdownAffine``.

        Returns:
            dict: The result dict.
        """
        mark_unmixed(results)
        if not self.fires():
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
        if self.appearance_policy == 'self':
            if results.get('dataset') is not None:
                self.check_source(results['dataset'])  # the keypoint layout
            app = results
        else:
            app = self.second_crop(results)
        # the crop's keypoints (TopdownAffine's); 'keypoints' are in the source image's pixels
        # (a generator that paints over the appearance crop cuts its labelled hand out)
        mixed = mix_images(self._generator, results['img'], app['img'],
                           keypoints=results.get('transformed_keypoints'),
                           keypoints_visible=results.get('keypoints_visible'),
                           app_keypoints=app.get('transformed_keypoints'),
                           app_keypoints_visible=app.get('keypoints_visible'))
        if self.judge is not None:
            pred = _crop_keypoints(self.judge_model, mixed, results.get('flip_indices'))
            pck = judge_pck(pred, results, self.judge_thr)
            results['mix_judge_pck'] = pck
            if pck < self.judge_min_pck:  # (nan: no labelled keypoint, nothing to judge: kept)
                results['mix_dropped'] = True
                return results
            if self.judge_mode == 'mask':
                missed = ~judge_found(pred, results, self.judge_thr)
                visible = np.array(results['keypoints_visible'], copy=True)
                visible[0, missed] = 0
                results['keypoints_visible'] = visible
        results['mix_pose_image'] = results['img']  # x before mixing (MixConsistencyEstimator)
        results['img'] = mixed
        results['mixed'] = True
        results['mix_source'] = self.source_of(app)
        return results

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
        repr_str += f'appearance_pool={self.appearance_pool!r}, '
        repr_str += (f'judge={self.judge!r}, judge_min_pck={self.judge_min_pck}, '
                     f'judge_mode={self.judge_mode!r})')
        return repr_str
