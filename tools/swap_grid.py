"""Draw the swap grid of a self-disentanglement checkpoint (paper Fig. 4 / Table 2).

Pose sources across the top row, appearance sources down the left column,
and in each cell the image decoded from that column's pose code and that
row's appearance code. Works for any checkpoint of a ``SelfDisPoseEstimator``
config and any MMPose top-down dataset the config reads.

Example::

    python tools/swap_grid.py configs/selfdis/t4-3_selfdis_unet_synthhands-mono-64x64.py \\
        work_dirs/t4-3/epoch_4.pth --out swap.png --num-pose 6 --num-appearance 6 \\
        --split test_shift --truth --judge JUDGE_CONFIG JUDGE_CKPT

With a judge (``--judge``, or the one cached next to the data by
``tools/train_judge.py``) every mix is captioned with the PCK@0.2 that the judge
reads in it against the pose source's keypoints, and so is every true render.
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional, Tuple

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402

import mmselfdis  # noqa: E402,F401  (registers components; safe checkpoint loading)
from mmselfdis.apis import load_generator  # noqa: E402
from mmselfdis.evaluation import load_judge  # noqa: E402
from mmselfdis.utils import ConfigError, check_custom_imports, run_cli  # noqa: E402
from mmselfdis.visualization import (SPLITS, build_split_dataset, draw_swap_grid,  # noqa: E402
                                     load_samples, pick_sources, swap_images, to_display)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Swap grid: pose sources (top row) x appearance sources (left column).')
    parser.add_argument('config', help='config of the self-disentanglement model')
    parser.add_argument('checkpoint', help='checkpoint written by tools/train.py')
    parser.add_argument('--out', required=True, help='PNG file to write')
    parser.add_argument('--num-pose', type=int, default=6, help='pose sources (default 6)')
    parser.add_argument('--num-appearance', type=int, default=6,
                        help='appearance sources (default 6)')
    parser.add_argument('--pose-indices', type=int, nargs='+',
                        help='dataset indices of the pose sources (default: spread evenly)')
    parser.add_argument('--app-indices', type=int, nargs='+',
                        help='dataset indices of the appearance sources (default: spread '
                        'evenly, between the pose sources)')
    parser.add_argument('--split', choices=SPLITS, default='test',
                        help='which data loader\'s images to use (default test; test_shift = '
                        'the SynthHands appearance-shift split)')
    parser.add_argument('--scale', type=int, default=3, help='up-scaling for viewing (default 3)')
    parser.add_argument('--truth', action='store_true',
                        help='SynthHands only: add the grid of true renders (pose of the '
                        'column, appearance of the row) below the mixes')
    parser.add_argument('--judge', nargs=2, metavar=('CONFIG', 'CKPT'),
                        help='caption every mix with the PCK@0.2 that an independent judge (a '
                        'pose estimator trained on real images only: tools/train_judge.py) reads '
                        'in it against the pose source\'s keypoints (default: the judge cached '
                        'in <data_root>/judge/ if there is one)')
    parser.add_argument('--no-judge', action='store_true', help='no judge captions')
    parser.add_argument('--title', help='title line (default: config, checkpoint and split)')
    parser.add_argument('--device', default='cpu', help='device (default cpu)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, default={},
        help='override settings in the config, e.g. '
        '"test_dataloader.dataset.data_root=data/synthhands/"')
    return parser.parse_args(argv)


def _labels(infos: List[dict]) -> List[str]:
    return [f'#{i["index"]}' + (f' p{i["pose_id"]}' if i['pose_id'] is not None else '')
            for i in infos]


def _pose_truth(dataset, indices: List[int]) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Crop-space keypoints ``(N, K, 2)``, visibility ``(N, K)`` and bbox size ``(N,)``."""
    from mmselfdis.evaluation.metrics import to_crop

    kpts, vis, size = [], [], []
    for idx in indices:
        sample = dataset[idx]['data_samples']
        meta, gt = sample.metainfo, sample.gt_instances
        crop = np.asarray(meta['input_size'], np.float64)
        scale = np.asarray(meta['input_scale'], np.float64).reshape(2)
        kpts.append(to_crop(np.asarray(gt.keypoints, np.float64).reshape(-1, 2),
                            np.asarray(meta['input_center'], np.float64).reshape(2), scale,
                            crop))
        vis.append(np.asarray(gt.keypoints_visible).reshape(len(kpts[-1]), -1)[:, 0] > 0)
        bbox = np.asarray(gt.bboxes, np.float64).reshape(-1)[:4]
        size.append(float(np.max(bbox[2:] - bbox[:2])) * crop[0] / scale[0])
    return np.stack(kpts), np.stack(vis), np.asarray(size)


def _judge_captions(judge, cells, pose_truth, thr: float = 0.2) -> np.ndarray:
    """The judge's PCK@thr on every cell ``(A, P, C, H, W)`` against column j's keypoints."""
    from mmpose.evaluation.functional import keypoint_pck_accuracy
    from mmselfdis.evaluation import predict_crop_keypoints

    num_a, num_p = cells.shape[:2]
    kpts, vis, size = pose_truth
    pred = predict_crop_keypoints(judge, cells.flatten(0, 1).float())
    pck = np.zeros((num_a, num_p))
    for i in range(num_a):
        for j in range(num_p):
            pck[i, j] = keypoint_pck_accuracy(pred[i * num_p + j][None], kpts[j][None],
                                              vis[j][None], thr,
                                              np.full((1, 2), size[j]))[1]
    return pck


def _find_judge(args, cfg) -> Optional[Tuple[str, str]]:
    from mmselfdis.evaluation import find_judge
    from mmselfdis.utils.study import inner_dataset

    if args.no_judge:
        return None
    if args.judge:
        return tuple(args.judge)
    return find_judge(inner_dataset(cfg.test_dataloader.dataset).get('data_root'))


def _truth_grid(dataset, pose_idx: List[int], app_idx: List[int], pose_imgs) -> torch.Tensor:
    """True renders ``(A, P, C, H, W)`` of SynthHands samples (pose j, appearance i)."""
    from mmselfdis.visualization import render_truth

    def sample(idx: int) -> dict:
        meta = dataset[idx]['data_samples'].metainfo
        raw = meta.get('raw_ann_info') or {}
        if 'pose' not in raw or 'appearance' not in raw:
            raise ValueError('--truth needs SynthHands data (annotations with "pose" and '
                             '"appearance" render parameters, from tools/make_synthhands.py)')
        return dict(pose=raw['pose'], appearance=raw['appearance'],
                    center=np.asarray(meta['input_center'], np.float64),
                    scale=np.asarray(meta['input_scale'], np.float64),
                    ori_shape=tuple(meta.get('ori_shape') or ()))

    poses = [sample(i) for i in pose_idx]
    apps = [sample(i) for i in app_idx]
    return torch.stack([
        torch.stack([render_truth(p, a, pose_imgs[j]) for j, p in enumerate(poses)])
        for a in apps
    ])


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if not osp.isfile(args.config):
        raise FileNotFoundError(2, 'No such file or directory', args.config)
    if args.num_pose < 1 or args.num_appearance < 1:
        raise ConfigError('--num-pose and --num-appearance must be at least 1')
    cfg = Config.fromfile(args.config)
    check_custom_imports(cfg, args.config)
    cfg.merge_from_dict(args.cfg_options)
    try:  # user errors (not a self-disentanglement checkpoint, bad split or index): one line
        model = load_generator(args.checkpoint, cfg, device=args.device)
        dataset = build_split_dataset(cfg, args.split)
        pose_idx = args.pose_indices or pick_sources(dataset, args.num_pose)
        app_idx = args.app_indices or pick_sources(dataset, args.num_appearance, 0.5)
        pose_imgs, pose_info = load_samples(dataset, pose_idx)
        app_imgs, app_info = load_samples(dataset, app_idx)
        judge_files = _find_judge(args, cfg)
        judge = load_judge(*judge_files, device=args.device) if judge_files else None
        pose_truth = _pose_truth(dataset, pose_idx) if judge is not None else None
    except (ValueError, IndexError) as err:
        raise ConfigError(str(err).strip('"')) from err

    mixes = swap_images(model, pose_imgs, app_imgs, pose_info, app_info)
    num_a, num_p = mixes.shape[:2]
    mix_disp = to_display(mixes.flatten(0, 1)).reshape(num_a, num_p, *mixes.shape[-2:], 3)
    title = args.title or (f'{osp.splitext(osp.basename(args.config))[0]} | '
                           f'{osp.basename(args.checkpoint)} | {args.split}')
    pose_disp, app_disp = to_display(pose_imgs), to_display(app_imgs)
    captions, note = None, ''
    if judge is not None:
        pck = _judge_captions(judge, mixes, pose_truth)
        captions = [[f'judge {v:.2f}' for v in row] for row in pck]
        note = f' | judge PCK {pck.mean():.2f}'
        print(f'judge ({judge_files[1]}): mean PCK@0.2 of the mixes against the pose sources\' '
              f'keypoints {pck.mean():.3f}')
    fig = draw_swap_grid(pose_disp, app_disp, mix_disp, args.scale, _labels(pose_info),
                         _labels(app_info), title + ' | mixes' + note, captions)
    if args.truth:
        try:
            truth = _truth_grid(dataset, pose_idx, app_idx, pose_imgs)
        except ValueError as err:
            raise ConfigError(str(err)) from err
        truth_disp = to_display(truth.flatten(0, 1).float()).reshape(*mix_disp.shape)
        truth_caps, truth_note = None, ''
        if judge is not None:
            pck_truth = _judge_captions(judge, truth, pose_truth)
            truth_caps = [[f'judge {v:.2f}' for v in row] for row in pck_truth]
            truth_note = f' | judge PCK {pck_truth.mean():.2f}'
            print(f'judge on the true renders: mean PCK@0.2 {pck_truth.mean():.3f}')
        fig_truth = draw_swap_grid(pose_disp, app_disp, truth_disp, args.scale,
                                   _labels(pose_info), _labels(app_info),
                                   'true renders (SynthHands parameters)' + truth_note,
                                   truth_caps)
        fig = np.concatenate([fig, np.full((12, fig.shape[1], 3), 255, np.uint8), fig_truth])
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    if not cv2.imwrite(args.out, np.ascontiguousarray(fig[..., ::-1]),
                       [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise OSError(f'could not write {args.out!r} (use a .png name in a writable folder)')
    print(f'wrote {args.out} ({fig.shape[1]}x{fig.shape[0]}): {num_p} pose sources '
          f'{pose_idx} x {num_a} appearance sources {app_idx} from the {args.split} split')
    return 0


if __name__ == '__main__':
    run_cli(main)
