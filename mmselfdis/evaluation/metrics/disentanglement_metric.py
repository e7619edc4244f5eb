"""How well a self-disentanglement model separates pose from appearance.

Design: a metric sees only ``data_batch`` and ``data_samples``, but these
figures need the model itself (it has to mix). The estimator's ``predict``
stays untouched; instead :class:`DisentanglementMetricHook` (a small
registered hook) hands the runner's model to every
:class:`DisentanglementMetric` of the val/test evaluators in
``before_val``/``before_test``. :meth:`DisentanglementMetric.process` only
collects the packed input crops and their labels;
:meth:`DisentanglementMetric.compute_metrics` mixes, encodes and predicts on
the main process once all samples are in.

Config (``tools/test.py CONFIG CKPT`` then prints the numbers)::

    test_evaluator = [dict(type='EPE'), dict(type='PCKAccuracy', thr=0.2),
                      dict(type='AUC'), dict(type='DisentanglementMetric')]
    custom_hooks = [dict(type='DisentanglementMetricHook')]
"""
import copy
from typing import Any, Dict, List, Optional, Sequence

import cv2
import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.structures import InstanceData
from torch import Tensor, nn

from mmpose.evaluation.functional import keypoint_epe, keypoint_pck_accuracy
from mmpose.registry import HOOKS, METRICS
from mmpose.structures import PoseDataSample
from mmpose.structures.bbox import get_warp_matrix
from ..functional import mean_abs_error, psnr, retrieval_recall, ridge_probe, ssim

__all__ = ['DisentanglementMetric', 'DisentanglementMetricHook', 'check_mixing_model',
           'load_pose_estimator', 'render_truth']

_HOOK_HINT = ("add custom_hooks = [dict(type='DisentanglementMetricHook')] to the config (it "
              "hands the runner's model to the metric), or call metric.bind_model(model)")


def check_mixing_model(model: nn.Module, who: str = 'DisentanglementMetric') -> nn.Module:
    """Unwrap ``model`` (DDP) and check that it can encode, decode and mix.

    Raises:
        ValueError: The model is not a self-disentanglement model.
    """
    if is_model_wrapper(model):
        model = model.module
    missing = [m for m in ('encode', 'decode', 'mix') if not callable(getattr(model, m, None))]
    if missing or getattr(model, 'selfdis', None) is None:
        raise ValueError(
            f'{who} needs a SelfDisPoseEstimator (a model with encode/decode/mix and a '
            f'selfdis branch), got {type(model).__name__}. Evaluate a self-disentanglement '
            f'config and checkpoint (e.g. configs/eval/t4-3_selfdis_unet_synthhands-mono-64x64'
            f'_disent.py); a plain pose estimator cannot mix images.')
    return model


def load_pose_estimator(config: str, checkpoint: str) -> nn.Module:
    """Build a frozen pose estimator from a config file and a checkpoint.

    The checkpoint is read with :func:`mmselfdis.utils.safe_load_checkpoint`;
    weights of a self-disentanglement branch (``selfdis.*``) are ignored when
    the config is a plain pose estimator.

    Args:
        config: Path of the pose estimator's config.
        checkpoint: Path of its checkpoint.

    Returns:
        nn.Module: The estimator in ``eval()`` mode, without gradients.
    """
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmpose.registry import MODELS
    from mmselfdis.utils import safe_load_checkpoint

    ckpt = safe_load_checkpoint(checkpoint)
    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    model = MODELS.build(copy.deepcopy(cfg.model))
    state = ckpt.get('state_dict', ckpt)
    state = {k[7:] if k.startswith('module.') else k: v for k, v in state.items()}
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    if missing:
        raise ValueError(f'the checkpoint {checkpoint!r} does not fit the pose estimator config '
                         f'{config!r} (missing {missing[:3]}); pass the config it was trained '
                         f'with')
    model.load_state_dict({k: v for k, v in state.items() if k in own}, strict=True)
    model.eval().requires_grad_(False)
    return model


def _to_crop(kpts: np.ndarray, center: np.ndarray, scale: np.ndarray,
             size: np.ndarray) -> np.ndarray:
    """Original image coordinates → crop coordinates (``TopdownAffine`` without rotation)."""
    return (kpts - center + 0.5 * scale) / scale * size


def _from_crop(kpts: np.ndarray, center: np.ndarray, scale: np.ndarray,
               size: np.ndarray) -> np.ndarray:
    """Crop coordinates → original image coordinates (as ``add_pred_to_datasample``)."""
    return kpts / size * scale + center - 0.5 * scale


@METRICS.register_module()
class DisentanglementMetric(BaseMetric):
    """Disentanglement of pose and appearance, measured with the model's own mixes.

    For every evaluated crop ``x`` the partner ``y`` is ``x`` rolled by
    ``pair_shift`` over the evaluated samples (``y_i = x_{i - shift}``) and
    the mix is ``mix(x, y) = D_I([p(x), a(y)])`` (clamped, rounded to
    ``uint8`` as :func:`mmselfdis.apis.mix_images` does). Reported keys
    (with the prefix ``disent/``):

    - ``PCK_x``, ``EPE_x``: the pose estimator on ``x`` (equal to the
      config's ``PCK``/``EPE`` when it is the model itself);
      ``PCK_mix``, ``EPE_mix``: the same estimator on ``mix(x, y)`` against
      ``x``'s keypoints (pose consistency: close to ``*_x`` is good);
      ``PCK_mix_y``: ... against ``y``'s keypoints (high = the mix copied
      the appearance image's pose); ``PCK_copy_app``, ``EPE_copy_app``: the
      estimator on ``y`` itself against ``x``'s keypoints (the floor: what a
      "mix" that copies the appearance image scores). PCK at ``thr`` of the
      bbox size, EPE in original image pixels, as MMPose's
      ``PCKAccuracy``/``EPE``.
    - ``app_recall@k``: share of mixes whose appearance code ``â`` has
      ``a(y)`` among its ``k`` nearest appearance codes of all evaluated
      samples (cosine similarity of codes centred on their mean; chance
      ``k / N``); ``pose_recall@1``: the same for the mix's pose code and
      ``p(x)``.
    - ``leak_app_ratio``: a ridge regression from the appearance code ``a``
      to the crop keypoints, trained on a random ``1 - probe_held_out`` of
      the samples, its keypoint error on the rest divided by that of the
      mean training pose (about 1 = no pose in ``a``, the goal; near 0 =
      ``a`` carries the pose). ``leak_pose_ratio``: the same probe on ``p``
      (a reference: low for a working pose code).
    - With SynthHands data (``pose``/``appearance`` render parameters in
      ``raw_ann_info``): ``paired_L1`` (grey levels), ``paired_PSNR`` (dB),
      ``paired_SSIM`` of the mix against the true render of x's pose in y's
      appearance, cropped like ``x``; ``paired_L1_copy_pose`` and
      ``paired_L1_copy_app``: the same L1 for the trivial "mixes" ``x`` and
      ``y`` (a useful mix beats both).

    The model comes from :class:`DisentanglementMetricHook` (or
    :meth:`bind_model`); it must be a
    :class:`~mmselfdis.models.SelfDisPoseEstimator`. Everything is computed
    on the main process in :meth:`compute_metrics`; the crops are kept in
    memory until then (``max_samples`` bounds that).

    Args:
        thr: PCK threshold (share of the bbox size).
        recall_ks: The ``k`` of ``app_recall@k``.
        probe_held_out: Share of samples held out by the leakage probe.
        probe_seed: Seed of the probe's split.
        pair_shift: Roll between ``x`` and ``y``; ``None`` picks the smallest
            shift for which no pair shares a ``pose_id`` (SynthHands puts the
            appearances of a pose next to each other), else 1.
        paired: Compute the ``paired_*`` keys: ``None`` = when the samples
            carry render parameters; ``True`` = required.
        pose_estimator: ``dict(config=..., checkpoint=...)`` of a frozen pose
            estimator used for ``PCK_*``/``EPE_*`` instead of the model.
        batch_size: Images per model call in :meth:`compute_metrics`.
        max_samples: Evaluate only the first ``max_samples`` samples.
        collect_device: Passed to :class:`BaseMetric`.
        prefix: Key prefix (default ``'disent'``).
    """

    default_prefix: Optional[str] = 'disent'

    def __init__(self,
                 thr: float = 0.2,
                 recall_ks: Sequence[int] = (1, 5),
                 probe_held_out: float = 0.3,
                 probe_seed: int = 0,
                 pair_shift: Optional[int] = None,
                 paired: Optional[bool] = None,
                 pose_estimator: Optional[Dict[str, str]] = None,
                 batch_size: int = 32,
                 max_samples: Optional[int] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if not 0 < thr:
            raise ValueError(f'DisentanglementMetric.thr must be > 0, got {thr}')
        if not recall_ks or any(int(k) < 1 for k in recall_ks):
            raise ValueError(f'DisentanglementMetric.recall_ks must be positive ints, got '
                             f'{recall_ks!r}')
        if not 0 < probe_held_out < 1:
            raise ValueError(f'DisentanglementMetric.probe_held_out must be in (0, 1), got '
                             f'{probe_held_out}')
        if pair_shift is not None and int(pair_shift) < 1:
            raise ValueError(f'DisentanglementMetric.pair_shift must be >= 1, got {pair_shift}')
        if pose_estimator is not None and not {'config', 'checkpoint'} <= set(pose_estimator):
            raise ValueError("DisentanglementMetric.pose_estimator must be "
                             "dict(config='...py', checkpoint='...pth')")
        self.thr = float(thr)
        self.recall_ks = tuple(int(k) for k in recall_ks)
        self.probe_held_out = float(probe_held_out)
        self.probe_seed = int(probe_seed)
        self.pair_shift = None if pair_shift is None else int(pair_shift)
        self.paired = paired
        self.pose_estimator_cfg = dict(pose_estimator) if pose_estimator else None
        self.batch_size = max(1, int(batch_size))
        self.max_samples = max_samples
        self.model: Optional[nn.Module] = None
        self._pose_estimator: Optional[nn.Module] = None

    # ----------------------------------------------------------------- binding
    def bind_model(self, model: nn.Module) -> None:
        """Use ``model`` (a :class:`SelfDisPoseEstimator`, wrapped or not) to mix.

        Raises:
            ValueError: ``model`` cannot mix.
        """
        self.model = check_mixing_model(model)

    # ----------------------------------------------------------------- collect
    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Keep each packed input crop with its labels and crop geometry.

        Args:
            data_batch: The data loader's batch (``inputs``: the crops as
                loaded, ``uint8`` ``(C, H, W)`` each).
            data_samples: The batch's outputs as dicts (``gt_instances`` and
                metainfo).
        """
        if not isinstance(data_batch, dict) or 'inputs' not in data_batch:
            raise ValueError('DisentanglementMetric needs the data loader batch with its '
                             '"inputs" (the packed crops) in process()')
        inputs = data_batch['inputs']
        if len(inputs) != len(data_samples):
            raise ValueError(f'{len(inputs)} inputs for {len(data_samples)} data samples')
        for img, ds in zip(inputs, data_samples):
            gt = ds['gt_instances']
            kpts = np.asarray(gt['keypoints'], np.float64).reshape(-1, 2)
            vis = np.asarray(gt['keypoints_visible']).reshape(len(kpts), -1)[:, 0] > 0
            bbox = np.asarray(gt['bboxes'], np.float64).reshape(-1)[:4]
            raw = ds.get('raw_ann_info') or {}
            self.results.append(dict(
                img=torch.as_tensor(img).detach().cpu().to(torch.uint8).numpy(),
                keypoints=kpts,
                visible=vis,
                bbox_size=float(np.max(bbox[2:] - bbox[:2])),
                center=np.asarray(ds['input_center'], np.float64).reshape(2),
                scale=np.asarray(ds['input_scale'], np.float64).reshape(2),
                input_size=np.asarray(ds['input_size'], np.float64).reshape(2),
                ori_shape=tuple(ds.get('ori_shape') or ()),
                flip_indices=ds.get('flip_indices'),
                pose_id=raw.get('pose_id', ds.get('pose_id')),
                pose=raw.get('pose'),
                appearance=raw.get('appearance')))

    # ----------------------------------------------------------------- compute
    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Mix every ``x`` with its partner ``y`` and measure (see the class docstring).

        Raises:
            RuntimeError: No model was bound.
            ValueError: Fewer than two samples, or ``paired=True`` without
                render parameters.
        """
        if self.model is None:
            raise RuntimeError(f'DisentanglementMetric has no model to mix with: {_HOOK_HINT}')
        model = check_mixing_model(self.model)
        if self.max_samples is not None:
            results = results[:int(self.max_samples)]
        n = len(results)
        if n < 2:
            raise ValueError(f'DisentanglementMetric needs at least 2 samples to mix, got {n}')
        has_render = all(r['pose'] is not None and r['appearance'] is not None for r in results)
        if self.paired and not has_render:
            raise ValueError('DisentanglementMetric(paired=True) needs SynthHands data: the '
                             'annotations must carry "pose"/"appearance" render parameters '
                             '(tools/make_synthhands.py) and PackPoseInputs must keep '
                             '"raw_ann_info" in its meta_keys')
        do_paired = has_render and self.paired is not False

        shift = self._pair_shift(results)
        partner = (np.arange(n) - shift) % n
        estimator = self._get_pose_estimator() or model
        device = next(model.parameters()).device
        imgs = torch.from_numpy(np.stack([r['img'] for r in results]))
        states = {m: m.training for m in {model, estimator}}
        for m in states:
            m.eval()
        try:
            with torch.no_grad():
                out = self._run(model, estimator, imgs, partner, results, device)
        finally:
            for m, was_training in states.items():
                m.train(was_training)

        metrics: Dict[str, float] = {}
        metrics.update(self._pose_consistency(results, partner, out['kp_x'], out['kp_mix']))
        recall = retrieval_recall(out['a_hat'], out['a'], torch.from_numpy(partner),
                                  self.recall_ks)
        for k, v in recall.items():
            metrics[f'app_recall@{k}'] = v
        metrics['pose_recall@1'] = retrieval_recall(out['p_hat'], out['p'],
                                                    torch.arange(n), (1, ))[1]
        crop_kpts = np.stack([
            _to_crop(r['keypoints'], r['center'], r['scale'], r['input_size']) for r in results
        ])
        visible = np.stack([r['visible'] for r in results])
        for name, codes in (('app', out['a']), ('pose', out['p'])):
            probe = ridge_probe(codes, crop_kpts, visible, held_out=self.probe_held_out,
                                seed=self.probe_seed)
            metrics[f'leak_{name}_ratio'] = probe['ratio']
        if do_paired:
            metrics.update(self._paired(results, partner, imgs, out['mix']))
        return metrics

    def _run(self, model: nn.Module, estimator: nn.Module, imgs: Tensor, partner: np.ndarray,
             results: List[dict], device: torch.device) -> Dict[str, Any]:
        """Mixes, codes and crop-space keypoint predictions of all samples, in chunks."""
        keys = ('p', 'a', 'p_hat', 'a_hat', 'mix', 'kp_x', 'kp_mix')
        acc: Dict[str, list] = {k: [] for k in keys}
        n = imgs.shape[0]
        for start in range(0, n, self.batch_size):
            idx = np.arange(start, min(n, start + self.batch_size))
            x = imgs[idx].to(device).float()
            y = imgs[partner[idx]].to(device).float()
            mixed = model.mix(x, y).clamp(0, 255).round()
            p, a = model.encode(x)
            p_hat, a_hat = model.encode(mixed)
            flips = [results[i]['flip_indices'] for i in idx]
            acc['p'].append(p.float().cpu())
            acc['a'].append(a.float().cpu())
            acc['p_hat'].append(p_hat.float().cpu())
            acc['a_hat'].append(a_hat.float().cpu())
            acc['mix'].append(mixed.to(torch.uint8).cpu())
            acc['kp_x'].append(self._predict_crop(estimator, x, flips))
            acc['kp_mix'].append(self._predict_crop(estimator, mixed, flips))
        return {k: (np.concatenate(v) if k.startswith('kp') else torch.cat(v))
                for k, v in acc.items()}

    @staticmethod
    def _predict_crop(estimator: nn.Module, imgs: Tensor,
                      flip_indices: Sequence[Optional[list]]) -> np.ndarray:
        """Keypoints the estimator predicts on crops, in crop pixels.

        The estimator's own ``predict`` runs (flip test and all) with metainfo
        that maps the crop onto itself, so its back-projection is the identity.

        Note:
            - imgs: ``(N, C, H, W)`` image space
            - return: ``(N, K, 2)``
        """
        from mmselfdis.models.heads import SelfDisHead

        h, w = imgs.shape[-2:]
        samples = []
        for flip in flip_indices:
            s = PoseDataSample()
            s.set_metainfo(dict(input_size=(w, h), input_center=np.array([w / 2, h / 2]),
                                input_scale=np.array([w, h], np.float32),
                                flip_indices=flip))
            s.gt_instances = InstanceData(bboxes=np.array([[0, 0, w, h]], np.float32),
                                          bbox_scores=np.ones(1, np.float32))
            samples.append(s)
        inputs = SelfDisHead.to_model_space(imgs, estimator.data_preprocessor)
        preds = estimator.predict(inputs, samples)
        return np.stack([np.asarray(s.pred_instances.keypoints, np.float64)[0, :, :2]
                         for s in preds])

    def _pose_consistency(self, results: List[dict], partner: np.ndarray, kp_x: np.ndarray,
                          kp_mix: np.ndarray) -> Dict[str, float]:
        size = np.stack([r['input_size'] for r in results])[:, None]
        scale = np.stack([r['scale'] for r in results])[:, None]
        center = np.stack([r['center'] for r in results])[:, None]
        gt = np.stack([r['keypoints'] for r in results])
        mask = np.stack([r['visible'] for r in results])
        gt_crop = _to_crop(gt, center, scale, size)
        # bbox size in crop pixels (the crop is a uniform scaling of the image)
        bbox_crop = np.array([r['bbox_size'] for r in results]) * size[:, 0, 0] / scale[:, 0, 0]

        def pck(pred: np.ndarray, target: np.ndarray, m: np.ndarray, norm: np.ndarray) -> float:
            return float(keypoint_pck_accuracy(pred, target, m, self.thr,
                                               np.tile(norm[:, None], (1, 2)))[1])

        pred_x = _from_crop(kp_x, center, scale, size)
        pred_mix = _from_crop(kp_mix, center, scale, size)
        pred_x_of_y = _from_crop(kp_x[partner], center, scale, size)
        return {
            'PCK_x': pck(kp_x, gt_crop, mask, bbox_crop),
            'EPE_x': float(keypoint_epe(pred_x, gt, mask)),
            'PCK_mix': pck(kp_mix, gt_crop, mask, bbox_crop),
            'EPE_mix': float(keypoint_epe(pred_mix, gt, mask)),
            'PCK_mix_y': pck(kp_mix, gt_crop[partner], mask[partner], bbox_crop[partner]),
            # the floor: a "mix" that is just y, judged against x's keypoints
            'PCK_copy_app': pck(kp_x[partner], gt_crop, mask, bbox_crop),
            'EPE_copy_app': float(keypoint_epe(pred_x_of_y, gt, mask)),
        }

    def _paired(self, results: List[dict], partner: np.ndarray, imgs: Tensor,
                mixes: Tensor) -> Dict[str, float]:
        truth = torch.stack([
            render_truth(results[i], results[j], imgs[i]) for i, j in enumerate(partner)
        ]).float()
        mix, x, y = mixes.float(), imgs.float(), imgs[partner].float()
        return {
            'paired_L1': float(mean_abs_error(mix, truth).mean()),
            'paired_PSNR': float(psnr(mix, truth).mean()),
            'paired_SSIM': float(ssim(mix, truth).mean()),
            'paired_L1_copy_pose': float(mean_abs_error(x, truth).mean()),
            'paired_L1_copy_app': float(mean_abs_error(y, truth).mean()),
        }

    def _pair_shift(self, results: List[dict]) -> int:
        n = len(results)
        if self.pair_shift is not None:
            return self.pair_shift % n or 1
        ids = [r['pose_id'] for r in results]
        if any(i is None for i in ids):
            return 1
        ids_arr = np.asarray(ids)
        for shift in range(1, n):
            if not np.any(ids_arr == np.roll(ids_arr, shift)):
                return shift
        return 1

    def _get_pose_estimator(self) -> Optional[nn.Module]:
        if self.pose_estimator_cfg is None:
            return None
        if self._pose_estimator is None:
            device = next(self.model.parameters()).device
            self._pose_estimator = load_pose_estimator(
                self.pose_estimator_cfg['config'], self.pose_estimator_cfg['checkpoint']).to(device)
        return self._pose_estimator


def render_truth(sample_x: dict, sample_y: dict, like: Tensor) -> Tensor:
    """The true "pose of x, appearance of y" crop of a SynthHands pair.

    Renders x's pose parameters with y's appearance parameters
    (:func:`mmselfdis.datasets.synthhands.render`) at x's original image size
    and crops it exactly as ``TopdownAffine`` cropped ``x``.

    Args:
        sample_x: A sample collected by :meth:`DisentanglementMetric.process`.
        sample_y: Another one (the appearance source).
        like: ``x``'s crop, to match channels (monochrome images stay
            monochrome in 3-channel pipelines).

    Returns:
        The ``uint8`` crop.

    Note:
        - like, return: ``(C, H, W)``
    """
    from mmselfdis.datasets.synthhands import render

    channels, h, w = like.shape
    ori = sample_x['ori_shape'] or (h, w)
    size = int(max(ori[:2]))
    mono = channels == 1 or bool((like[0] == like[1]).all() and (like[1] == like[2]).all())
    img, _, _ = render(sample_x['pose'], sample_y['appearance'], size=size, rgb=not mono)
    warp = get_warp_matrix(sample_x['center'], sample_x['scale'], 0.0, output_size=(w, h))
    crop = cv2.warpAffine(img, warp, (int(w), int(h)), flags=cv2.INTER_LINEAR)
    if crop.ndim == 2:
        crop = np.repeat(crop[None], channels, 0)
    else:
        crop = crop.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(crop))


@HOOKS.register_module()
class DisentanglementMetricHook(Hook):
    """Give every :class:`DisentanglementMetric` of the runner the model to mix with.

    In ``before_val``/``before_test`` the runner's model (unwrapped from DDP)
    is bound to each such metric of the val/test evaluator. Without it the
    metric stops with a message naming this hook.

    Example::

        custom_hooks = [dict(type='DisentanglementMetricHook')]
    """

    priority = 'NORMAL'

    @staticmethod
    def _bind(runner, evaluator) -> int:
        bound = 0
        for metric in getattr(evaluator, 'metrics', []):
            if isinstance(metric, DisentanglementMetric):
                metric.bind_model(runner.model)
                bound += 1
        return bound

    def before_val(self, runner) -> None:
        """Bind the model to the val evaluator's metrics."""
        self._bind(runner, runner.val_loop.evaluator)

    def before_test(self, runner) -> None:
        """Bind the model to the test evaluator's metrics."""
        self._bind(runner, runner.test_loop.evaluator)
