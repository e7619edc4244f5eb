"""How high can a mix's paired SSIM / L1 go, for a generator that paints the hands without texture?

On SynthHands the true mix of (x's pose, y's appearance) is known: the
renderer draws it (``render_truth``). A generator that paints the hands over
the appearance image (``SelfDisHead(background=...)``) copies y's pixels
outside a hole — the hand regions of x and y (``hand_region`` of their
labels) — and paints inside it. This tool builds, for every test pair, mixes
made by an **oracle** that knows the true render and measures them against it
with the metric's own SSIM and L1 (``DisentanglementMetric``'s ``paired_*``
at ``appearance_crop='pose'``, y's image cropped where x was):

* ``copy_app_aligned``: y at x's crop (the metric's floor, no painting);
* ``oracle_smooth``: y at x's crop outside the generator's hole, the true
  render blurred (Gaussian ``--sigma`` px) inside it — every shape, shade and
  edge right, only the texture finer than the blur missing;
* ``oracle_smooth_exact``: the same with the smallest possible hole, the
  pixels where the true render and y at x's crop differ (``--diff-threshold``
  grey levels, grown by one pixel);
* ``oracle_flat``: the hole filled with the true render's mean over it;
* ``oracle_sharp``: the true render inside the hole (1.0 where the hole covers
  every difference: a check of the hole);
* ``inpaint_y`` (no oracle): y at x's crop with y's hand region filled by
  OpenCV's inpainting (Telea) from y's own pixels, no hand drawn;
  ``inpaint_y_oracle_smooth_x``: that, with the smooth oracle's x hand;
  ``inpaint_y_oracle_flat_x``: that, with x's hand region filled flat with
  the true render's mean over it (a silhouette of the right brightness);
  ``inpaint_y_dots_x``: that with black dots (radius 1.5 px) at x's visible
  keypoints instead: a mark of the pose, no hand (what a judge that finds
  x's pose in it rewards is marks, not hands);
  ``inpaint_y_fill_smoothed`` (with ``--fill-sigma``): y inpainted as the
  painter does it (``BackgroundPainter.prefill``) with the fill low-passed,
  no hand drawn (what ``selfdis.background.fill_sigma`` can give);
  ``inpaint_y_fill_grown`` (with ``--fill-margin``): the same with y's hand
  region grown by the margin before inpainting (and the fill low-passed with
  ``--fill-sigma``; ``selfdis.background.fill_margin``).

It also says how much of x's hand, as the renderer draws it, the hole that
the decoder paints covers (``x_hand_in_hole``, by place along the finger
``x_hand_in_hole@tip`` ..., and ``x_forearm_in_hole``): a reconstruction
keeps x's own pixels outside the hole, so a decoder learns to paint x's hand
only inside it, and a mix shows none of x's hand beyond it (``--radius``
tries a wider hole).

If ``oracle_smooth`` stays below a goal, no generator that paints the hole
without pixel-exact texture reaches it with these holes.

With ``--checkpoint`` (a generator with ``selfdis.background`` trained from
CONFIG) the generator's own mixes are measured the same way (y at x's crop,
the holes from both images' labels, as the metric's ``appearance_crop='pose'``
gives them). Every mix also gets its L1 and mean brightness error (per image,
absolute) in the hole, where x's hand goes, where only y's hand was, and
outside the hole, so the loss can be located, and its signed mean error where
x's hand goes; its SSIM is also split by where the window is centred: inside
x's hand region (2 px in from its edge), on that edge (± 2 px), and the rest.
Inside x's hand (2 px in) the detail finer than ``--sigma`` (the image minus
its blur) is measured: its RMS (``detail_rms_x_hand``, also of the truth) and
its correlation with the truth's detail (``detail_corr_x_hand``; 0: a texture
unrelated to the true one). Three variants of the generator's mixes say which property of
the painted hand costs SSIM: ``generator_hand_blurred`` (x's hand region
blurred by ``--sigma``: no truth used, texture removed),
``generator_hand_flat`` (x's hand region filled with its own mean: no truth,
shape only) and ``generator_oracle_tone`` (x's hand region shifted by its
mean error against the truth: an oracle for the brightness alone).

With ``--judge CONFIG CKPT`` every mix (and the true render) is also read by
that independent pose model: ``<mix>_judge_PCK`` against x's keypoints
(PCK@0.2 of the bounding box, as the metric's ``PCK_mix``), so a change that
helps the paired figures can be checked for what it does to the pose a
judge sees.

Example::

    python tools/paired_ceiling.py configs/demo/selfdis-demo_unet_synthhands-mono-64x64.py \\
        --data-root work_dirs/demo/synthhands --out work_dirs/paired_ceiling.json
"""
import argparse
import json
import os.path as osp
import sys
from typing import Dict, List, Optional

from mmengine.config import DictAction

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Paired SSIM / L1 of oracle mixes that paint the hole without texture.')
    parser.add_argument('config', help='a SynthHands config (its test split and codec)')
    parser.add_argument('--data-root', help='the SynthHands set (default: the config\'s)')
    parser.add_argument('--split', default='test', help='annotation file stem (default test)')
    parser.add_argument('--max-samples', type=int, default=400,
                        help='first N samples of the split (default 400, the metric\'s)')
    parser.add_argument('--radius', type=float, default=0.07, help='hand_region bone radius')
    parser.add_argument('--arm-radius', type=float, default=0.1, help='hand_region forearm radius')
    parser.add_argument('--arm-length', type=float, default=2.5,
                        help='hand_region forearm length (the background demo uses 2.5)')
    parser.add_argument('--sigma', type=float, default=1.5,
                        help='Gaussian blur of the smooth oracle, pixels (default 1.5)')
    parser.add_argument('--diff-threshold', type=float, default=8.0,
                        help='grey levels at which truth and y at x\'s crop differ (default 8)')
    parser.add_argument('--checkpoint', help='also measure this generator\'s mixes '
                        '(a selfdis.background model of CONFIG)')
    parser.add_argument('--judge', nargs=2, metavar=('CONFIG', 'CKPT'),
                        help='also read every mix with this judge (tools/train_judge.py)')
    parser.add_argument('--strip', help='write a PNG here: for the first --strip-rows pairs, '
                        'y at x\'s crop, y with its hand inpainted, the generator\'s mix (with '
                        '--checkpoint), the same with its hand blurred, and the true render')
    parser.add_argument('--strip-rows', type=int, default=8, help='rows of --strip (default 8)')
    parser.add_argument('--fill-sigma', type=float, default=0.0,
                        help='also the row inpaint_y_fill_smoothed: y inpainted as the painter '
                        'does it (BackgroundPainter.prefill), its fill low-passed by this '
                        'sigma in pixels (selfdis.background.fill_sigma)')
    parser.add_argument('--fill-margin', type=float, default=0.0,
                        help='also the row inpaint_y_fill_grown: y\'s hand region grown by this '
                        'fraction of the side (both radii) before the painter\'s inpainting '
                        '(with --fill-sigma\'s low-pass; selfdis.background.fill_margin)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='override settings of CONFIG (e.g. the generator\'s '
                        'model.selfdis.background.fill_sigma=2.0)')
    parser.add_argument('--out', help='write the figures as JSON here')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> Dict[str, float]:
    import cv2
    import numpy as np
    import torch
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import init_default_scope

    import mmselfdis  # noqa: F401  (registers components)
    from mmpose.registry import DATASETS, KEYPOINT_CODECS
    from mmselfdis.evaluation.functional import mean_abs_error, ssim, ssim_map
    from mmselfdis.evaluation.metrics.disentanglement_metric import (DisentanglementMetric,
                                                                      to_crop)
    from mmselfdis.models.heads import BackgroundPainter
    from mmselfdis.models.networks import keypoint_heatmaps
    from mmselfdis.models.utils import gaussian_blur
    from mmselfdis.utils.study import set_data_root
    from mmselfdis.evaluation.metrics import HAND21_LEVELS, hand21_level
    from mmselfdis.visualization.truth import render_truth, render_truth_masks

    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    if args.data_root:
        set_data_root(cfg, osp.abspath(args.data_root))
    ds_cfg = cfg.test_dataloader.dataset
    ds_cfg.ann_file = f'annotations/{args.split}.json'
    dataset = DATASETS.build(ds_cfg)
    n = min(args.max_samples, len(dataset))
    collector = DisentanglementMetric(paired=True)
    for i in range(n):
        batch = pseudo_collate([dataset[i]])
        collector.process(batch, [s.to_dict() for s in batch['data_samples']])
    results = collector.results
    if any(r['pose'] is None for r in results):
        raise ValueError(f'{args.config}: the test samples carry no render parameters; use a '
                         f'SynthHands config whose PackPoseInputs keeps raw_ann_info')
    partner = (np.arange(n) - collector._pair_shift(results)) % n
    codec = KEYPOINT_CODECS.build(cfg.codec)
    imgs = torch.from_numpy(np.stack([r['img'] for r in results]))
    h, w = imgs.shape[-2:]
    truth = torch.stack([render_truth(results[i], results[j], imgs[i])
                         for i, j in enumerate(partner)]).float()
    aligned = torch.stack([render_truth(dict(results[i], pose=results[j]['pose']), results[j],
                                        imgs[i]) for i, j in enumerate(partner)]).float()

    # the holes as the generator cuts them (SelfDisHead.hand_region)
    painter = BackgroundPainter(radius=args.radius, arm_radius=args.arm_radius,
                                arm_length=args.arm_length)

    def hole_of(kpts_crop: np.ndarray, visible: np.ndarray, margin: float = 0.0) -> torch.Tensor:
        return painter.hand_region(keypoint_heatmaps(codec, kpts_crop, visible), (h, w),
                                   margin=margin)

    def crop_kpts(src: dict, crop: dict) -> np.ndarray:
        return to_crop(src['keypoints'], crop['center'], crop['scale'], crop['input_size'])

    vis = np.stack([r['visible'] for r in results]).astype(np.float32)
    kx = np.stack([crop_kpts(r, r) for r in results])
    ky = np.stack([crop_kpts(results[j], results[i]) for i, j in enumerate(partner)])
    hole_x, hole_y = hole_of(kx, vis), hole_of(ky, vis[partner])
    hole = torch.maximum(hole_x, hole_y)
    # where x's hand goes, and where only y's hand was (the scene must come back there)
    regions = dict(in_hole=hole, x_hand=hole_x, y_hand_only=hole_y * (1 - hole_x),
                   outside_hole=1 - hole)
    diff = ((truth - aligned).abs().amax(1, keepdim=True) > args.diff_threshold).float()
    exact = torch.nn.functional.max_pool2d(diff, 3, 1, 1)

    def blur(batch: torch.Tensor) -> torch.Tensor:
        return gaussian_blur(batch, args.sigma)

    def region_mean(img: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
        """Per image and channel the mean over a soft region, ``(N, C, 1, 1)``."""
        return ((img * region).flatten(2).sum(-1) /
                region.flatten(2).sum(-1).clamp(min=1e-6))[..., None, None]

    blurred = blur(truth)
    flat = region_mean(truth, hole).expand_as(truth)

    def paint(fill: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
        return region * fill + (1 - region) * aligned

    # y's hand removed from y at x's crop by classical inpainting (OpenCV's Telea, from y's
    # own pixels only: no knowledge of the truth)
    inpainted = torch.stack([
        torch.from_numpy(np.ascontiguousarray(np.stack([
            cv2.inpaint(np.ascontiguousarray(img[c].numpy()).astype(np.uint8),
                        (hy[0].numpy() > 0.5).astype(np.uint8), 3, cv2.INPAINT_TELEA)
            for c in range(img.shape[0])]))).float() for img, hy in zip(aligned, hole_y)])
    x_mean = region_mean(truth, hole_x)
    # a mark of the pose, no hand: black dots (radius 1.5 px) at x's visible keypoints
    dots = inpainted.clone()
    for i in range(n):
        canvas = dots[i].permute(1, 2, 0).numpy().copy()  # (H, W, C), C-ordered
        for (u, v), seen in zip(kx[i], vis[i]):
            if seen > 0:
                cv2.circle(canvas, (int(round(u * 4)), int(round(v * 4))), 6, (0, ) * 3, -1,
                           lineType=cv2.LINE_AA, shift=2)
        dots[i] = torch.from_numpy(canvas.reshape(h, w, -1)).permute(2, 0, 1)
    mixes = dict(copy_app_aligned=aligned, inpaint_y=inpainted,
                 inpaint_y_oracle_smooth_x=hole_x * blurred + (1 - hole_x) * inpainted,
                 inpaint_y_oracle_flat_x=hole_x * x_mean + (1 - hole_x) * inpainted,
                 inpaint_y_dots_x=dots,
                 oracle_smooth=paint(blurred, hole),
                 oracle_smooth_exact=paint(blurred, exact), oracle_flat=paint(flat, hole),
                 oracle_sharp=paint(truth, hole))
    if args.fill_sigma > 0:
        mixes['inpaint_y_fill_smoothed'] = BackgroundPainter.prefill(
            aligned, hole_y, sigma=args.fill_sigma).clamp(0, 255).round()
    if args.fill_margin > 0:
        grown = hole_of(ky, vis[partner], margin=args.fill_margin)
        mixes['inpaint_y_fill_grown'] = BackgroundPainter.prefill(
            aligned, grown, sigma=args.fill_sigma).clamp(0, 255).round()
    out: Dict[str, float] = dict(samples=n, hole_fraction=float(hole.mean()),
                                 exact_hole_fraction=float(exact.mean()),
                                 hole_covers_differences=float(
                                     (hole * diff).sum() / diff.sum().clamp(min=1)))
    # how much of x's rendered hand (and forearm) the hole the decoder paints covers: a
    # reconstruction keeps x's own pixels outside it, so a decoder learns to paint only
    # inside it and a mix shows none of x's hand beyond it (by place: each hand pixel
    # counted at its nearest visible keypoint)
    masks = [render_truth_masks(r, (h, w)) for r in results]
    hand = np.stack([m[0] for m in masks])
    inside = hole_x[:, 0].numpy() > 0.5
    out['x_hand_in_hole'] = float((hand & inside).sum() / max(hand.sum(), 1))
    forearm = np.stack([m[1] for m in masks])
    out['x_forearm_in_hole'] = float((forearm & inside).sum() / max(forearm.sum(), 1))
    if kx.shape[1] == 21:
        place = np.array([HAND21_LEVELS.index(hand21_level(k)) for k in range(21)])
        total, covered = np.zeros(len(HAND21_LEVELS)), np.zeros(len(HAND21_LEVELS))
        for i in range(n):
            ys, xs = np.nonzero(hand[i])
            d2 = (xs[:, None] - kx[i, None, :, 0])**2 + (ys[:, None] - kx[i, None, :, 1])**2
            d2[:, vis[i] <= 0] = np.inf
            near = place[d2.argmin(1)]
            np.add.at(total, near, 1)
            np.add.at(covered, near, inside[i, ys, xs])
        for j, level in enumerate(HAND21_LEVELS):
            out[f'x_hand_in_hole@{level}'] = float(covered[j] / max(total[j], 1))
    if args.checkpoint:
        from mmselfdis.utils.checkpoint import load_model
        model = load_model(cfg, args.checkpoint).eval()
        gen = []
        with torch.no_grad():
            for a in range(0, n, 50):
                b = slice(a, a + 50)
                gen.append(model.mix(imgs[b].float(), aligned[b], keypoints=kx[b],
                                     keypoints_visible=vis[b], app_keypoints=ky[b],
                                     app_keypoints_visible=vis[partner][b]).clamp(0, 255)
                           .round())
        gen = torch.cat(gen)
        mixes['generator'] = gen
        mixes['generator_hand_blurred'] = hole_x * blur(gen) + (1 - hole_x) * gen
        gen_mean = region_mean(gen, hole_x)
        mixes['generator_hand_flat'] = hole_x * gen_mean + (1 - hole_x) * gen
        mixes['generator_oracle_tone'] = (gen - hole_x * (gen_mean - x_mean)).clamp(0, 255)
    # SSIM by where its window is centred: inside x's hand region, on its rim, elsewhere
    core = (-torch.nn.functional.max_pool2d(-hole_x, 5, 1, 2) > 0.5).float()
    rim = (torch.nn.functional.max_pool2d(hole_x, 5, 1, 2) > 0.5).float() - core
    ssim_regions = dict(x_hand_core=core, x_hand_rim=rim, rest=1 - core - rim)
    # the detail finer than the blur inside x's hand: how much (RMS) and how much of it is
    # the truth's (correlation with the truth's own detail there; 0: unrelated texture)
    detail_truth = truth - blur(truth)
    for name, mix in dict(mixes, truth=truth).items():
        detail = (mix - blur(mix)) * core
        out[f'{name}_detail_rms_x_hand'] = float(
            (detail.pow(2).sum() / (core.sum() * truth.shape[1])).sqrt())
        if name != 'truth':
            out[f'{name}_detail_corr_x_hand'] = float(
                (detail * detail_truth).sum() /
                (detail.pow(2).sum() * (detail_truth * core).pow(2).sum()).sqrt().clamp(
                    min=1e-6))
    for name, mix in mixes.items():
        out[f'{name}_SSIM'] = float(ssim(mix, truth).mean())
        smap = ssim_map(mix, truth).mean(1, keepdim=True)
        o = (h - smap.shape[-2]) // 2
        for where, region in ssim_regions.items():
            region = region[..., o:o + smap.shape[-2], o:o + smap.shape[-1]]
            out[f'{name}_SSIM_{where}'] = float(
                (smap * region).sum() / region.sum().clamp(min=1))
        out[f'{name}_L1'] = float(mean_abs_error(mix, truth).mean())
        for where, region in regions.items():
            err = (mix - truth).abs().mean(1, keepdim=True)
            area = region.flatten(1).sum(1).clamp(min=1e-6)
            out[f'{name}_L1_{where}'] = float(((err * region).flatten(1).sum(1) / area).mean())
            bias = ((mix - truth).mean(1, keepdim=True) * region).flatten(1).sum(1) / area
            out[f'{name}_mean_error_{where}'] = float(bias.abs().mean())
            if where == 'x_hand':
                out[f'{name}_signed_mean_error_x_hand'] = float(bias.mean())
    if args.judge:
        from mmpose.evaluation.functional import keypoint_pck_accuracy

        from mmselfdis.evaluation.judge import load_judge, predict_crop_keypoints
        judge = load_judge(*args.judge)
        flips = [r['flip_indices'] for r in results]
        size = np.stack([r['input_size'] for r in results])
        bbox = np.array([r['bbox_size'] for r in results]) * size[:, 0] / np.stack(
            [r['scale'] for r in results])[:, 0]
        norm = np.tile(bbox[:, None], (1, 2))
        for name, mix in dict(mixes, truth=truth).items():
            with torch.no_grad():
                kp = np.concatenate([predict_crop_keypoints(judge, mix[a:a + 50],
                                                            flips[a:a + 50])
                                     for a in range(0, n, 50)])
            out[f'{name}_judge_PCK'] = float(
                keypoint_pck_accuracy(kp, kx, vis > 0, 0.2, norm)[1])
    if args.strip:
        names = [k for k in ('copy_app_aligned', 'inpaint_y', 'generator',
                             'generator_hand_blurred') if k in mixes]
        rows = [torch.cat([mixes[k][i] for k in names] + [truth[i]], -1)
                for i in range(min(args.strip_rows, n))]
        grid = torch.cat(rows, -2).mean(0).clamp(0, 255).round().byte().numpy()
        grid = cv2.resize(grid, None, fx=3, fy=3, interpolation=cv2.INTER_NEAREST)
        cv2.imwrite(args.strip, grid)
        print(f'strip ({", ".join(names + ["truth"])}, left to right): {args.strip}')
    for key, value in out.items():
        print(f'{key:32s} {value:.4f}' if isinstance(value, float) else f'{key:32s} {value}')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(out, command='python tools/paired_ceiling.py ' + ' '.join(
                sys.argv[1:] if argv is None else argv)), f, indent=2)
    return out


if __name__ == '__main__':
    from mmselfdis.utils import run_cli
    run_cli(main)
