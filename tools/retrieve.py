"""Nearest images by pose code and by appearance code (paper Fig. 6).

Encodes every image of a split with a self-disentanglement checkpoint and
draws, for the query image, its ``k`` nearest neighbours (cosine similarity
of the flattened codes, centred on the split's mean code) by pose code (top
row) and by appearance code (bottom row). With SynthHands data, neighbours showing the query's pose
(same ``pose_id``) get a green frame.

Example::

    python tools/retrieve.py configs/selfdis/t4-3_selfdis_unet_synthhands-mono-64x64.py \\
        work_dirs/t4-3/epoch_4.pth --query 3 --k 20 --out retrieval.png
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
from mmselfdis.evaluation.functional import similarity  # noqa: E402
from mmselfdis.utils import ConfigError, check_custom_imports, run_cli  # noqa: E402
from mmselfdis.visualization import (SPLITS, build_split_dataset, draw_retrieval,  # noqa: E402
                                     load_samples, to_display)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Top-k nearest images of a query by pose code and by appearance code.')
    parser.add_argument('config', help='config of the self-disentanglement model')
    parser.add_argument('checkpoint', help='checkpoint written by tools/train.py')
    parser.add_argument('--query', type=int, required=True, help='dataset index of the query')
    parser.add_argument('--out', required=True, help='PNG file to write')
    parser.add_argument('--k', type=int, default=20, help='neighbours per row (default 20)')
    parser.add_argument('--split', choices=SPLITS, default='test',
                        help='which data loader\'s images to search (default test)')
    parser.add_argument('--max-images', type=int,
                        help='search only the first N images of the split')
    parser.add_argument('--scale', type=int, default=2, help='up-scaling for viewing (default 2)')
    parser.add_argument('--batch-size', type=int, default=64, help='images per model call')
    parser.add_argument('--device', default='cpu', help='device (default cpu)')
    parser.add_argument('--title', help='what the title line starts with (default: the config '
                        'name)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, default={},
        help='override settings in the config, e.g. '
        '"test_dataloader.dataset.data_root=data/synthhands/"')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if not osp.isfile(args.config):
        raise FileNotFoundError(2, 'No such file or directory', args.config)
    if args.k < 1:
        raise ConfigError(f'--k must be at least 1, got {args.k}')
    cfg = Config.fromfile(args.config)
    check_custom_imports(cfg, args.config)
    cfg.merge_from_dict(args.cfg_options)
    try:
        model = load_generator(args.checkpoint, cfg, device=args.device)
        dataset = build_split_dataset(cfg, args.split)
    except ValueError as err:
        raise ConfigError(str(err)) from err
    total = len(dataset) if args.max_images is None else min(len(dataset), args.max_images)
    if not 0 <= args.query < total:
        raise ConfigError(f'--query {args.query} is out of range: the {args.split} split has '
                          f'{total} images searched (indices 0..{total - 1})')
    if total < 2:
        raise ConfigError(f'the {args.split} split has only {total} image: nothing to retrieve')
    k = min(args.k, total - 1)

    imgs, infos, poses, apps = [], [], [], []
    with torch.no_grad():
        for start in range(0, total, args.batch_size):
            batch, info = load_samples(dataset, range(start, min(total, start + args.batch_size)))
            p, a = model.encode(batch.to(args.device).float())
            imgs.append(batch)
            infos += info
            poses.append(p.cpu())
            apps.append(a.cpu())
    imgs_t = torch.cat(imgs)
    disp = to_display(imgs_t)
    q = args.query
    qid = infos[q]['pose_id']
    rows = []
    for label, codes in (('by pose code', torch.cat(poses)), ('by appearance', torch.cat(apps))):
        sim = similarity(codes[q:q + 1], codes)[0]
        order = [i for i in sim.argsort(descending=True).tolist() if i != q][:k]
        captions = [f'#{i} {float(sim[i]):.2f}' for i in order]
        marked = [qid is not None and infos[i]['pose_id'] == qid for i in order]
        rows.append((label, disp[order], captions, marked))
    name = args.title or osp.splitext(osp.basename(args.config))[0]
    title = (f'{name} | {args.split} | query #{q} | '
             f'top-{k} by centred cosine similarity'
             + (' | green: same pose as the query' if qid is not None else ''))
    fig = draw_retrieval(disp[q], rows, args.scale, title)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    if not cv2.imwrite(args.out, np.ascontiguousarray(fig[..., ::-1]),
                       [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise OSError(f'could not write {args.out!r} (use a .png name in a writable folder)')
    print(f'wrote {args.out} ({fig.shape[1]}x{fig.shape[0]}): query #{q}, {k} neighbours per '
          f'row among {total} {args.split} images')
    return 0


if __name__ == '__main__':
    run_cli(main)
