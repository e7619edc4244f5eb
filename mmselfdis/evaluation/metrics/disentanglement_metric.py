"""How well a self-disentanglement model separates pose from appearance.

Design: a metric sees only ``data_batch`` and ``data_samples``, but these
figures need the model itself (it has to mix). The estimator's ``predict``
stays untouched; instead
:class:`~mmselfdis.engine.hooks.DisentanglementMetricHook` hands the runner's
model (and the data root, where a cached judge lives) to every
:class:`DisentanglementMetric` of the val/test evaluators.
:meth:`DisentanglementMetric.process` only collects the packed input crops
and their labels; :meth:`DisentanglementMetric.compute_metrics` mixes,
encodes and predicts on the main process once all samples are in.

Pose consistency is read by an independent **judge**
(:mod:`mmselfdis.evaluation.judge`): a plain pose estimator trained on real
images only. The model's own pose branch reads the same images too, under
keys that say so (``self_*``): the cycle losses trained that branch to find
x's pose in its own mixes, so its reading is self-grading.

Config (``tools/test.py CONFIG CKPT`` then prints the numbers)::

    test_evaluator = [dict(type='EPE'), dict(type='PCKAccuracy', thr=0.2),
                      dict(type='AUC'), dict(type='DisentanglementMetric')]
    custom_hooks = [dict(type='DisentanglementMetricHook')]
"""
import logging
from typing import Any, Dict, List, Optional, Sequence, Union

import cv2
import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from torch import Tensor, nn

from mmpose.evaluation.functional import keypoint_epe, keypoint_pck_accuracy
from mmpose.registry import METRICS
from mmselfdis.models.networks import HAND21_LIMBS
from mmselfdis.models.utils import check_mixing_model
from mmselfdis.visualization.truth import render_truth, render_truth_masks
from ..functional import mean_abs_error, psnr, retrieval_recall, ridge_probe, ssim
from ..judge import find_judge, load_judge, predict_crop_keypoints

__all__ = ['DisentanglementMetric', 'to_crop', 'from_crop']

_HOOK_HINT = ("add custom_hooks = [dict(type='DisentanglementMetricHook')] to the config (it "
              "hands the runner's model to the metric), or call metric.bind_model(model)")

NO_JUDGE_WARNING = (
    'DisentanglementMetric: NO JUDGE. The pose-consistency numbers are the generator grading '
    'its own mixes (self_PCK_mix etc.: its pose branch was trained to read x\'s pose in exactly '
    'these mixes and can read patterns nobody else sees); there is no PCK_mix. Train an '
    'independent judge once with `python tools/train_judge.py CONFIG` (cached in '
    '<data_root>/judge/ and found there by itself) or give '
    'DisentanglementMetric(judge=dict(config=..., checkpoint=...)).')


# the 21-keypoint hand's joints by their place along the finger (OneHand10K order: the wrist,
# then thumb and each finger from its root to its tip)
HAND21_LEVELS = ('wrist', 'base', 'middle', 'distal', 'tip')


def hand21_level(k: int) -> str:
    """The place of keypoint ``k`` of the 21-keypoint hand along its finger."""
    return HAND21_LEVELS[0 if k == 0 else (k - 1) % 4 + 1]


def to_crop(kpts: np.ndarray, center: np.ndarray, scale: np.ndarray,
            size: np.ndarray) -> np.ndarray:
    """Original image coordinates → crop coordinates (``TopdownAffine`` without rotation)."""
    return (kpts - center + 0.5 * scale) / scale * size


def from_crop(kpts: np.ndarray, center: np.ndarray, scale: np.ndarray,
              size: np.ndarray) -> np.ndarray:
    """Crop coordinates → original image coordinates (as ``add_pred_to_datasample``)."""
    return kpts / size * scale + center - 0.5 * scale



def _correlation(u: Tensor, v: Tensor) -> float:
    """Pearson's correlation of two 1-D tensors; 0 when either is constant (it follows
    nothing)."""
    u, v = u - u.mean(), v - v.mean()
    den = float(u.norm() * v.norm())
    return float((u * v).sum()) / den if den > 0 else 0.0


@METRICS.register_module()
class DisentanglementMetric(BaseMetric):
    """Disentanglement of pose and appearance, measured on the model's own mixes.

    For every evaluated crop ``x`` the partner ``y`` is ``x`` rolled by
    ``pair_shift`` over the evaluated samples (``y_i = x_{i - shift}``) and
    the mix is ``mix(x, y) = D_I([p(x), a(y)])`` (clamped, rounded to
    ``uint8`` as :func:`mmselfdis.apis.mix_images` does). Reported keys
    (with the prefix ``disent/``):

    - ``judged``: 1 when an independent judge read the poses, 0 when none
      was configured (then a warning is logged and only ``self_*`` pose keys
      exist).
    - By the **judge** (a plain pose estimator trained on real images only,
      :mod:`mmselfdis.evaluation.judge`): ``PCK_x``, ``EPE_x`` (on ``x``);
      ``PCK_mix``, ``EPE_mix`` (on ``mix(x, y)`` against ``x``'s keypoints:
      pose consistency); ``PCK_mix_y`` (... against ``y``'s keypoints: high
      = the mix copied the appearance image's pose); ``PCK_copy_app``,
      ``EPE_copy_app`` (on ``y`` itself against ``x``'s keypoints: the floor,
      what a "mix" that copies the appearance image scores). With SynthHands
      data also ``PCK_truth``, ``EPE_truth`` (on the true render of x's pose
      in y's appearance: the ceiling), the headline
      ``PCK_mix_truth_ratio = PCK_mix / PCK_truth`` and ``PCK_mix_gain =
      (PCK_mix - PCK_copy_app) / (PCK_truth - PCK_copy_app)`` (0: no better
      than copying y, 1: as good as the true render). ``PCK_sticks``: the
      judge on ``y`` with ``x``'s skeleton drawn on it in black lines
      (``stick_width`` pixels; the dataset's ``skeleton_links``, else the
      21-keypoint hand's bones): what a crude mark of the pose, no hand,
      scores; a mix that shows a hand should beat it clearly.
      With ``finger_levels`` (21-keypoint hands, SynthHands data) also
      ``PCK_mix@L``, ``PCK_truth@L`` and ``PCK_mix_truth_ratio@L`` for each
      place ``L`` along the finger (``wrist``; ``base``: the thumb's root
      and the knuckles; ``middle``; ``distal``; ``tip``): the mean PCK of
      those keypoints, which says where a mix loses the pose; and
      ``PCK_mix_y@L``, ``PCK_truth_y@L``, the same against ``y``'s
      keypoints (where the mix still shows ``y``'s hand).
    - By the model's **own** pose branch (self-grading; a generator can
      hide x's pose from everyone but itself): ``self_PCK_x``,
      ``self_EPE_x``, ``self_PCK_mix``, ``self_EPE_mix``,
      ``self_PCK_mix_y``, ``self_PCK_copy_app``, ``self_EPE_copy_app``.
    - PCK at ``thr`` of the bbox size, EPE in original image pixels, as
      MMPose's ``PCKAccuracy``/``EPE``.
    - ``app_recall@k``: share of mixes whose appearance code ``â`` has
      ``a(y)`` among its ``k`` nearest appearance codes of all evaluated
      samples (cosine similarity of codes centred on their mean; chance
      ``k / N``; with ``appearance_crop='pose'`` among the codes of the
      appearance images given to the mixes); ``pose_recall@1``: the same for the mix's pose code and
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
      ``y`` (a useful mix beats both); ``paired_L1_copy_app_aligned`` and
      ``paired_SSIM_copy_app_aligned``: those of ``y``'s image cropped where
      ``x`` was cropped (the true render differs from it only where the
      hands are: the background is ``y``'s, pixel for pixel), and
      ``paired_SSIM_copy_app`` (``y``'s own crop).
    - With SynthHands data, the look of the hand the mix paints, measured
      where the renderer draws x's hand (palm and fingers) in x's crop — no
      network involved, so the generator cannot grade itself here:
      ``hand_L1`` (grey levels, the mix against the true render on those
      pixels); ``hand_tone_error``: ``|mean(mix) - mean(truth)|`` over those
      pixels (y's skin under y's light, whatever the texture);
      ``hand_tone_corr``: the correlation over the samples of those two means
      (1: the painted hand follows y's tone from sample to sample; 0 for a
      hand of one tone everywhere); ``hand_tone_bias``: the mean signed
      difference of the two means (below 0: painted too dark);
      ``hand_core_tone_error``: the tone error on the hand's core, 2 pixels
      in from its rim (the palm; a finger drawn a little off does not count
      there); ``hand_tone_error_copy_app``, ``hand_tone_corr_copy_app``: the
      mean of y's own hand (y cropped where x was, over y's hand pixels)
      taken as the tone — what painting x's hand in the tone y's hand has
      scores (x's hand under y's light is shaded otherwise: its pose turns
      other faces to the light). Each with
      ``_copy_pose``: the same for ``x`` itself (its own skin and light).
    - ``app_recall_truth@k``: ``app_recall@k`` of the true render instead of
      the mix — what a perfect picture scores with this appearance encoder
      (below 1 where the encoder also reads y's hand, which the true render
      replaces by x's).

    The model comes from
    :class:`~mmselfdis.engine.hooks.DisentanglementMetricHook` (or
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
        paired: Compute the ``paired_*`` and ``*_truth`` keys: ``None`` =
            when the samples carry render parameters; ``True`` = required.
        judge: ``'auto'`` (default): the judge cached next to the evaluated
            data (``<data_root>/judge/``, made by ``tools/train_judge.py``;
            the hook passes the data root), none if there is none;
            ``dict(config=..., checkpoint=...)``: that judge (a plain
            ``TopdownPoseEstimator``); ``None``: no judge (self-graded only,
            with a warning).
        batch_size: Images per model call in :meth:`compute_metrics`.
        stick_width: Line width (pixels) of the skeleton of ``PCK_sticks``;
            ``0`` leaves the key out.
        finger_levels: Also report the judge's PCK on the mix and on the
            true render by place along the finger (``*@wrist`` ...
            ``*@tip``); needs 21 keypoints.
        appearance_crop: ``'own'`` (default): ``y`` is its own crop;
            ``'pose'``: the appearance image is ``y``'s image cropped where
            ``x`` was cropped (SynthHands: rendered from its parameters), as a
            user mixing whole images can crop the appearance image at the
            pose image's box; the true render's background is then where
            ``y``'s is.
        max_samples: Evaluate only the first ``max_samples`` samples.
        collect_device: Passed to :class:`BaseMetric`.
        prefix: Key prefix (default ``'disent'``).
        pose_estimator: Former name of ``judge`` (a dict), still accepted.
    """

    default_prefix: Optional[str] = 'disent'

    def __init__(self,
                 thr: float = 0.2,
                 recall_ks: Sequence[int] = (1, 5),
                 probe_held_out: float = 0.3,
                 probe_seed: int = 0,
                 pair_shift: Optional[int] = None,
                 paired: Optional[bool] = None,
                 judge: Union[str, Dict[str, str], None] = 'auto',
                 batch_size: int = 32,
                 stick_width: int = 2,
                 finger_levels: bool = False,
                 appearance_crop: str = 'own',
                 max_samples: Optional[int] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 pose_estimator: Optional[Dict[str, str]] = None) -> None:
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
        if pose_estimator is not None:
            judge = pose_estimator
        if isinstance(stick_width, bool) or int(stick_width) != stick_width or stick_width < 0:
            raise ValueError(f'DisentanglementMetric.stick_width must be an int >= 0 (0: no '
                             f'PCK_sticks), got {stick_width!r}')
        self.stick_width = int(stick_width)
        self.finger_levels = bool(finger_levels)
        if appearance_crop not in ('own', 'pose'):
            raise ValueError(f"DisentanglementMetric.appearance_crop must be 'own' or 'pose', "
                             f'got {appearance_crop!r}')
        self.appearance_crop = appearance_crop
        if not (judge is None or judge == 'auto' or
                (isinstance(judge, dict) and {'config', 'checkpoint'} <= set(judge))):
            raise ValueError("DisentanglementMetric.judge must be 'auto', None or "
                             "dict(config='...py', checkpoint='...pth') (a plain pose "
                             "estimator trained on real images: tools/train_judge.py), got "
                             f'{judge!r}')
        self.thr = float(thr)
        self.recall_ks = tuple(int(k) for k in recall_ks)
        self.probe_held_out = float(probe_held_out)
        self.probe_seed = int(probe_seed)
        self.pair_shift = None if pair_shift is None else int(pair_shift)
        self.paired = paired
        self.judge = dict(judge) if isinstance(judge, dict) else judge
        self.batch_size = max(1, int(batch_size))
        self.max_samples = max_samples
        self.model: Optional[nn.Module] = None
        self.data_root: Optional[str] = None
        self._judge: Optional[nn.Module] = None

    # ----------------------------------------------------------------- binding
    def bind_model(self, model: nn.Module, data_root: Optional[str] = None) -> None:
        """Use ``model`` (a :class:`SelfDisPoseEstimator`, wrapped or not) to mix.

        Args:
            model: The model to evaluate.
            data_root: Where the evaluated data lives (``judge='auto'`` looks
                for ``<data_root>/judge/``).

        Raises:
            ValueError: ``model`` cannot mix.
        """
        self.model = check_mixing_model(model)
        if data_root is not None and data_root != self.data_root:
            self.data_root = data_root
            if self.judge == 'auto':
                self._judge = None  # found again for this data

    def bind_judge(self, judge: nn.Module) -> None:
        """Judge the poses with this (already loaded) pose estimator.

        Raises:
            ValueError: ``judge`` is a self-disentanglement model (its pose
                branch is not independent of its mixes).
        """
        if getattr(judge, 'selfdis', None) is not None:
            raise ValueError('the judge must be a plain pose estimator trained on real images, '
                             f'not a self-disentanglement model ({type(judge).__name__}): its '
                             'own pose branch grades its own mixes')
        self.judge = 'bound'
        self._judge = judge.eval()

    def _get_judge(self, device: torch.device) -> Optional[nn.Module]:
        if self._judge is not None:
            return self._judge.to(device)
        if isinstance(self.judge, dict):
            self._judge = load_judge(self.judge['config'], self.judge['checkpoint'], device)
        elif self.judge == 'auto':
            found = find_judge(self.data_root)
            if found is not None:
                print_log(f'DisentanglementMetric: judging the poses with the judge cached in '
                          f'{found[1]}', logger='current')
                self._judge = load_judge(*found, device)
        return self._judge

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
        num_keypoints = len(results[0]['keypoints'])
        if self.finger_levels and num_keypoints != 21:
            raise ValueError('DisentanglementMetric(finger_levels=True) groups the 21-keypoint '
                             "hand's joints along the fingers; these samples have "
                             f'{num_keypoints} keypoints: set finger_levels=False')
        has_render = all(r['pose'] is not None and r['appearance'] is not None for r in results)
        if self.paired and not has_render:
            raise ValueError('DisentanglementMetric(paired=True) needs SynthHands data: the '
                             'annotations must carry "pose"/"appearance" render parameters '
                             '(tools/make_synthhands.py) and PackPoseInputs must keep '
                             '"raw_ann_info" in its meta_keys')
        do_paired = has_render and self.paired is not False
        if self.appearance_crop == 'pose' and not has_render:
            raise ValueError("DisentanglementMetric(appearance_crop='pose') renders y's image "
                             'at x\'s crop: it needs SynthHands render parameters (pose/'
                             'appearance in raw_ann_info)')

        shift = self._pair_shift(results)
        partner = (np.arange(n) - shift) % n
        device = next(model.parameters()).device
        judge = self._get_judge(device)
        if judge is None:
            print_log(NO_JUDGE_WARNING, logger='current', level=logging.WARNING)
        imgs = torch.from_numpy(np.stack([r['img'] for r in results]))
        truth = aligned = None
        if do_paired or self.appearance_crop == 'pose':
            truth = torch.stack([
                render_truth(results[i], results[j], imgs[i]) for i, j in enumerate(partner)
            ])
            # y's own image (its pose, its appearance) cropped where x was cropped
            aligned = torch.stack([
                render_truth(dict(results[i], pose=results[j]['pose']), results[j], imgs[i])
                for i, j in enumerate(partner)
            ])
        apps = aligned if self.appearance_crop == 'pose' else None
        states = {m: m.training for m in {model, judge} if m is not None}
        for m in states:
            m.eval()
        try:
            with torch.no_grad():
                out = self._run(model, judge, imgs, truth, partner, results, device, apps)
        finally:
            for m, was_training in states.items():
                m.train(was_training)

        metrics: Dict[str, float] = {'judged': float(judge is not None)}
        if judge is not None:
            metrics.update(self._pose_consistency(results, partner, out['judge_x'],
                                                  out['judge_mix'], out.get('judge_truth'),
                                                  kp_sticks=out.get('judge_sticks'),
                                                  levels=self.finger_levels))
        metrics.update(self._pose_consistency(results, partner, out['self_x'], out['self_mix'],
                                              prefix='self_'))
        for query, name in (('a_hat', 'app_recall'), ('a_truth', 'app_recall_truth')):
            if query not in out:
                continue
            if 'a_app' in out:  # the appearance images are not the evaluated crops: find y's
                recall = retrieval_recall(out[query], out['a_app'], torch.arange(n),
                                          self.recall_ks)
            else:
                recall = retrieval_recall(out[query], out['a'], torch.from_numpy(partner),
                                          self.recall_ks)
            for k, v in recall.items():
                metrics[f'{name}@{k}'] = v
        metrics['pose_recall@1'] = retrieval_recall(out['p_hat'], out['p'],
                                                    torch.arange(n), (1, ))[1]
        crop_kpts = np.stack([
            to_crop(r['keypoints'], r['center'], r['scale'], r['input_size']) for r in results
        ])
        visible = np.stack([r['visible'] for r in results])
        for name, codes in (('app', out['a']), ('pose', out['p'])):
            probe = ridge_probe(codes, crop_kpts, visible, held_out=self.probe_held_out,
                                seed=self.probe_seed)
            metrics[f'leak_{name}_ratio'] = probe['ratio']
        if do_paired:
            metrics.update(self._paired(partner, imgs, out['mix'], truth, aligned))
            hands = torch.from_numpy(np.stack([
                render_truth_masks(r, imgs.shape[-2:])[0] for r in results]))
            metrics.update(self._hand_look(imgs, out['mix'], truth, hands))
            # the palm's core: 2 px in from the rim, where a finger drawn a little off does not
            # count as a wrong tone
            core = torch.from_numpy(np.stack([
                cv2.erode(h.numpy().astype(np.uint8), np.ones((3, 3), np.uint8), iterations=2)
                for h in hands]) > 0)
            metrics.update({k.replace('hand_', 'hand_core_'): v for k, v in self._hand_look(
                imgs, out['mix'], truth, core).items() if 'tone_error' in k})
            # y's own hand (y at x's crop, its hand there) against the truth's: the tone of
            # y's hand as it is, which differs from x's hand under y's light by the shading
            y_hands = torch.from_numpy(np.stack([
                render_truth_masks(dict(r, pose=results[j]['pose']), imgs.shape[-2:])[0]
                for r, j in zip(results, partner)]))
            metrics.update(self._tone_of_ys_hand(aligned, y_hands, truth, hands))
        return metrics

    def _run(self, model: nn.Module, judge: Optional[nn.Module], imgs: Tensor,
             truth: Optional[Tensor], partner: np.ndarray, results: List[dict],
             device: torch.device, apps: Optional[Tensor] = None) -> Dict[str, Any]:
        """Mixes, codes and crop-space keypoint readings of all samples, in chunks.

        ``self_*`` are read by the model's own pose branch, ``judge_*`` by the
        judge (on ``x``, on the mix and on the true render).
        """
        acc: Dict[str, list] = {}

        def add(key: str, value) -> None:
            acc.setdefault(key, []).append(value)

        n = imgs.shape[0]
        kw = {}
        crop_kpts = np.stack([to_crop(r['keypoints'], r['center'], r['scale'], r['input_size'])
                              for r in results])
        visible = np.stack([r['visible'] for r in results]).astype(np.float32)
        links = self._skeleton(crop_kpts.shape[1]) if self.stick_width else None
        for start in range(0, n, self.batch_size):
            idx = np.arange(start, min(n, start + self.batch_size))
            x = imgs[idx].to(device).float()
            y = (imgs[partner[idx]] if apps is None else apps[idx]).to(device).float()
            if getattr(model, 'draws_labels', False):
                kw = dict(keypoints=crop_kpts[idx], keypoints_visible=visible[idx])
            if getattr(model.selfdis, 'background', None) is not None:
                # y's labelled keypoints, in the crop the mix is given (x's with appearance_crop
                # ='pose'): where its hand is cut out
                if apps is None:
                    app_kpts = crop_kpts[partner[idx]]
                else:
                    app_kpts = np.stack([to_crop(results[partner[i]]['keypoints'],
                                                 results[i]['center'], results[i]['scale'],
                                                 results[i]['input_size']) for i in idx])
                kw.update(app_keypoints=app_kpts, app_keypoints_visible=visible[partner[idx]])
            mixed = model.mix(x, y, **kw).clamp(0, 255).round()
            p, a = model.encode(x)
            p_hat, a_hat = model.encode(mixed)
            flips = [results[i]['flip_indices'] for i in idx]
            add('p', p.float().cpu())
            add('a', a.float().cpu())
            add('p_hat', p_hat.float().cpu())
            add('a_hat', a_hat.float().cpu())
            if apps is not None:
                add('a_app', model.encode(y)[1].float().cpu())
            if truth is not None:
                add('a_truth', model.encode(truth[idx].to(device).float())[1].float().cpu())
            add('mix', mixed.to(torch.uint8).cpu())
            add('self_x', predict_crop_keypoints(model, x, flips))
            add('self_mix', predict_crop_keypoints(model, mixed, flips))
            if judge is not None:
                add('judge_x', predict_crop_keypoints(judge, x, flips))
                add('judge_mix', predict_crop_keypoints(judge, mixed, flips))
                if truth is not None:
                    add('judge_truth', predict_crop_keypoints(judge, truth[idx].float(), flips))
                if links:
                    sticks = self._sticks(y, crop_kpts[idx], visible[idx], links)
                    add('judge_sticks', predict_crop_keypoints(judge, sticks, flips))
        return {k: (torch.cat(v) if isinstance(v[0], Tensor) else np.concatenate(v))
                for k, v in acc.items()}

    def _pose_consistency(self, results: List[dict], partner: np.ndarray, kp_x: np.ndarray,
                          kp_mix: np.ndarray, kp_truth: Optional[np.ndarray] = None,
                          kp_sticks: Optional[np.ndarray] = None, prefix: str = '',
                          levels: bool = False) -> Dict[str, float]:
        """PCK/EPE of one reader's keypoints on x, the mix, y and the true render.

        With ``levels`` (and ``kp_truth``) also the PCK on the mix and the
        true render of the keypoints at each place along the finger.
        """
        size = np.stack([r['input_size'] for r in results])[:, None]
        scale = np.stack([r['scale'] for r in results])[:, None]
        center = np.stack([r['center'] for r in results])[:, None]
        gt = np.stack([r['keypoints'] for r in results])
        mask = np.stack([r['visible'] for r in results])
        gt_crop = to_crop(gt, center, scale, size)
        # bbox size in crop pixels (the crop is a uniform scaling of the image)
        bbox_crop = np.array([r['bbox_size'] for r in results]) * size[:, 0, 0] / scale[:, 0, 0]

        def accuracy(pred: np.ndarray, target: np.ndarray, m: np.ndarray,
                     norm: np.ndarray) -> tuple:
            # (each keypoint's PCK, -1 where visible in no sample; their mean)
            return keypoint_pck_accuracy(pred, target, m, self.thr,
                                         np.tile(norm[:, None], (1, 2)))[:2]

        def pck(pred: np.ndarray, target: np.ndarray, m: np.ndarray, norm: np.ndarray) -> float:
            return float(accuracy(pred, target, m, norm)[1])

        def epe(pred_crop: np.ndarray) -> float:
            return float(keypoint_epe(from_crop(pred_crop, center, scale, size), gt, mask))

        out = {
            'PCK_x': pck(kp_x, gt_crop, mask, bbox_crop),
            'EPE_x': epe(kp_x),
            'PCK_mix': pck(kp_mix, gt_crop, mask, bbox_crop),
            'EPE_mix': epe(kp_mix),
            'PCK_mix_y': pck(kp_mix, gt_crop[partner], mask[partner], bbox_crop[partner]),
            # the floor: a "mix" that is just y, judged against x's keypoints
            'PCK_copy_app': pck(kp_x[partner], gt_crop, mask, bbox_crop),
            'EPE_copy_app': epe(kp_x[partner]),
        }
        if kp_truth is not None:
            # the ceiling: the true picture of (x's pose, y's appearance)
            out['PCK_truth'] = pck(kp_truth, gt_crop, mask, bbox_crop)
            out['EPE_truth'] = epe(kp_truth)
            out['PCK_mix_truth_ratio'] = (out['PCK_mix'] / out['PCK_truth']
                                          if out['PCK_truth'] > 0 else float('nan'))
            # the same on the scale floor (copy y) = 0, ceiling (true render) = 1
            span = out['PCK_truth'] - out['PCK_copy_app']
            out['PCK_mix_gain'] = ((out['PCK_mix'] - out['PCK_copy_app']) / span
                                   if span > 0 else float('nan'))
        if kp_sticks is not None:
            # a crude mark: x's skeleton drawn on y
            out['PCK_sticks'] = pck(kp_sticks, gt_crop, mask, bbox_crop)
        if levels and kp_truth is not None:
            # by place along the finger, against x's keypoints and against y's
            out.update(self._by_level({
                f'{which}{to}': accuracy(kp, *target)[0]
                for which, kp in (('mix', kp_mix), ('truth', kp_truth))
                for to, target in (('', (gt_crop, mask, bbox_crop)),
                                   ('_y', (gt_crop[partner], mask[partner], bbox_crop[partner])))
            }))
        return {prefix + k: v for k, v in out.items()}

    @staticmethod
    def _by_level(accs: Dict[str, np.ndarray]) -> Dict[str, float]:
        """The judge's PCK of the keypoints at each place ``L`` along the finger.

        ``accs`` holds each keypoint's PCK (``-1``: visible in no sample) of
        the mix and the true render against ``x``'s keypoints (``'mix'``,
        ``'truth'``) and against ``y``'s (``'mix_y'``, ``'truth_y'``: a mix
        that still shows ``y``'s hand at ``L`` scores above the true render,
        which shows no part of it). As ``PCKAccuracy``, a place's PCK is the
        mean over its keypoints, leaving out those visible in no sample;
        ``PCK_mix_truth_ratio@L`` divides the mix's by the true render's.
        """
        level = np.array([hand21_level(k) for k in range(len(accs['mix']))])
        out = {}
        for name in HAND21_LEVELS:
            for which, acc in accs.items():
                acc = acc[(level == name) & (acc >= 0)]
                out[f'PCK_{which}@{name}'] = float(acc.mean()) if acc.size else float('nan')
            truth = out[f'PCK_truth@{name}']
            out[f'PCK_mix_truth_ratio@{name}'] = (out[f'PCK_mix@{name}'] / truth
                                                  if truth > 0 else float('nan'))
        return out

    def _skeleton(self, num_keypoints: int) -> Optional[List[tuple]]:
        """The bones to draw for ``PCK_sticks`` (``None``: not known)."""
        links = (self.dataset_meta or {}).get('skeleton_links')
        if links:
            return [tuple(int(v) for v in link) for link in links]
        if num_keypoints == 21:
            return list(HAND21_LIMBS[:20])
        return None

    def _sticks(self, y: Tensor, kpts: np.ndarray, visible: np.ndarray,
                links: Sequence[tuple]) -> Tensor:
        """``y`` with the skeleton of ``kpts`` (crop pixels) drawn in black."""
        out = y.clone()
        for i in range(out.shape[0]):
            for c in range(out.shape[1]):  # channel by channel (OpenCV's layout)
                img = np.ascontiguousarray(out[i, c].cpu().numpy())
                for a, b in links:
                    if visible[i, a] > 0 and visible[i, b] > 0:
                        pa = tuple(int(round(float(v))) for v in kpts[i, a])
                        pb = tuple(int(round(float(v))) for v in kpts[i, b])
                        cv2.line(img, pa, pb, 0, self.stick_width)
                out[i, c] = torch.from_numpy(img).to(out)
        return out

    @staticmethod
    def _paired(partner: np.ndarray, imgs: Tensor, mixes: Tensor, truth: Tensor,
                aligned: Tensor) -> Dict[str, float]:
        truth = truth.float()
        mix, x, y, y_at_x = mixes.float(), imgs.float(), imgs[partner].float(), aligned.float()
        return {
            'paired_L1': float(mean_abs_error(mix, truth).mean()),
            'paired_PSNR': float(psnr(mix, truth).mean()),
            'paired_SSIM': float(ssim(mix, truth).mean()),
            'paired_L1_copy_pose': float(mean_abs_error(x, truth).mean()),
            'paired_L1_copy_app': float(mean_abs_error(y, truth).mean()),
            'paired_SSIM_copy_app': float(ssim(y, truth).mean()),
            'paired_L1_copy_app_aligned': float(mean_abs_error(y_at_x, truth).mean()),
            'paired_SSIM_copy_app_aligned': float(ssim(y_at_x, truth).mean()),
        }

    @staticmethod
    def _hand_look(imgs: Tensor, mixes: Tensor, truth: Tensor, hands: Tensor) -> Dict[str, float]:
        """The ``hand_*`` keys: the mix (and ``x``) against the true render on x's hand pixels.

        Note:
            - imgs, mixes, truth: ``(N, C, H, W)``; hands: ``(N, H, W)`` bool
        """
        keep = hands.flatten(1).any(1)  # a hand cropped away entirely says nothing
        w = hands[keep].unsqueeze(1).float()
        area = w.sum((1, 2, 3)) * imgs.shape[1]
        truth = truth[keep].float()

        def mean_in_hand(img: Tensor) -> Tensor:
            return (img * w).sum((1, 2, 3)) / area

        out = {}
        tone_truth = mean_in_hand(truth)
        for suffix, img in (('', mixes[keep].float()), ('_copy_pose', imgs[keep].float())):
            tone = mean_in_hand(img)
            out[f'hand_L1{suffix}'] = float(mean_in_hand((img - truth).abs()).mean())
            out[f'hand_tone_error{suffix}'] = float((tone - tone_truth).abs().mean())
            out[f'hand_tone_bias{suffix}'] = float((tone - tone_truth).mean())
            out[f'hand_tone_corr{suffix}'] = _correlation(tone, tone_truth)
        return out

    @staticmethod
    def _tone_of_ys_hand(aligned: Tensor, y_hands: Tensor, truth: Tensor,
                         hands: Tensor) -> Dict[str, float]:
        """``hand_tone_error_copy_app``, ``hand_tone_corr_copy_app``: the mean of y's hand
        (``aligned`` over ``y_hands``) as the tone of x's hand in the truth (over ``hands``).

        Note:
            - aligned, truth: ``(N, C, H, W)``; y_hands, hands: ``(N, H, W)`` bool
        """
        keep = hands.flatten(1).any(1) & y_hands.flatten(1).any(1)

        def tone(img: Tensor, mask: Tensor) -> Tensor:
            w = mask[keep].unsqueeze(1).float()
            return (img[keep].float() * w).sum((1, 2, 3)) / (w.sum((1, 2, 3)) * img.shape[1])

        u, v = tone(aligned, y_hands), tone(truth, hands)
        return {'hand_tone_error_copy_app': float((u - v).abs().mean()),
                'hand_tone_corr_copy_app': _correlation(u, v)}

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
