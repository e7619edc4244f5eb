"""Reconstructions next to the images: does the decoder draw a hand at all?

One column per image of a split: the image ``x``; its reconstruction
``D_I(p(x), a(x))`` (with a generator that draws labels, from ``x``'s own
keypoints); the mix ``D_I(p(x), a(y))`` with the next column's image as ``y``;
and, with a ``pose_encoding='limbs'`` decoder, the limb maps it draws. A
decoder that cannot draw a hand from its own image's pose and look will not
draw one into a mix; the swap grid shows mixes only.

Example::

    python tools/recon_strip.py work_dirs/demo/config.py work_dirs/demo/train/epoch_14.pth \\
        --out recon.png --indices 0 2 4 6 8 10 12 14
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402

import mmselfdis  # noqa: E402,F401  (registers components; safe checkpoint loading)
from mmselfdis.apis import load_generator  # noqa: E402
from mmselfdis.utils import ConfigError, check_custom_imports, run_cli  # noqa: E402
from mmselfdis.visualization import (SPLITS, build_split_dataset, load_samples,  # noqa: E402
                                     to_display)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Images, their reconstructions, mixes and the pose maps drawn.')
    parser.add_argument('config', help='config of the self-disentanglement model')
    parser.add_argument('checkpoint', help='checkpoint written by tools/train.py')
    parser.add_argument('--out', required=True, help='PNG file to write')
    parser.add_argument('--indices', type=int, nargs='+', default=list(range(0, 16, 2)),
                        help='dataset indices of the columns (default 0 2 ... 14)')
    parser.add_argument('--split', choices=SPLITS, default='test',
                        help='which data loader\'s images (default test)')
    parser.add_argument('--scale', type=int, default=2, help='up-scaling for viewing (default 2)')
    parser.add_argument('--device', default='cpu', help='device (default cpu)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, default={},
        help='override settings in the config, e.g. '
        '"test_dataloader.dataset.data_root=data/synthhands/"')
    args = parser.parse_args(argv)
    if len(args.indices) < 2:
        raise ConfigError('--indices: give at least 2 images (each mixes with the next)')
    return args


def strip(model, imgs: torch.Tensor, info: List[dict]) -> np.ndarray:
    """Rows: images, reconstructions, mixes with the next column, limb maps (if drawn)."""
    with torch.no_grad():
        p, a = model.encode(imgs)
        maps = None
        if model.draws_labels:
            maps = model.selfdis.label_maps(np.stack([i['keypoints'] for i in info]),
                                            np.stack([i['keypoints_visible'] for i in info]))
        elif model.selfdis.uses_pose_maps:
            maps = model.selfdis._pose_maps([p], trainable=False)
        draw = maps if model.draws_labels else None
        rec = model.decode(p, a, draw, background=imgs)
        mix = model.decode(p, a.roll(-1, 0), draw, background=imgs.roll(-1, 0))
        rows = [imgs, rec, mix]
        limbs = getattr(model.selfdis.image_decoder, 'limb_maps', None)
        if limbs is not None and maps is not None:
            drawn = limbs(maps.to(imgs), imgs.shape[-2:]).amax(1, keepdim=True).clamp(0, 1)
            rows.append(drawn.expand_as(imgs) * 255)
    disp = [np.concatenate(list(to_display(r)), 1) for r in rows]
    grid = np.concatenate(disp, 0)
    return grid


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    for path in (args.config, args.checkpoint):
        if not osp.isfile(path):
            raise FileNotFoundError(2, 'No such file or directory', path)
    from mmengine.registry import init_default_scope
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    check_custom_imports(cfg, args.config)
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    model = load_generator(args.checkpoint, cfg, device=args.device)
    model.eval()
    try:
        imgs, info = load_samples(build_split_dataset(cfg, args.split), args.indices)
    except (ValueError, IndexError) as err:
        raise ConfigError(str(err).strip('"')) from err
    grid = strip(model, imgs.to(args.device).float(), info)
    if args.scale > 1:
        grid = cv2.resize(grid, None, fx=args.scale, fy=args.scale,
                          interpolation=cv2.INTER_NEAREST)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    cv2.imwrite(args.out, grid[..., ::-1])
    print(f'{args.out}: rows = images, reconstructions, mixes with the next column'
          f'{", limb maps" if grid.shape[0] > 3 * imgs.shape[-2] * args.scale else ""}')
    return 0


if __name__ == '__main__':
    run_cli(main)
