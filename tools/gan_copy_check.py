"""Does the adversarial term on the mixes reward a mix that copies the appearance image y?

Loads a trained generator and, on the test split (x = each image, y = the
split rolled by one, as in training), asks its discriminator to score:

- ``x``: a real image (with x's pose map when the discriminator is conditioned);
- ``mix``: the generator's ``mix(x, y)`` (with x's pose map);
- ``copy y``: ``y`` itself offered as the mix (with x's pose map);

and prints the generator loss ``loss_g`` of each (the head's ``GANLoss``
divided by its ``loss_weight``). If ``copy y`` costs the generator less than
its own mixes, the adversarial term on the mixes pulls them towards copying y.

Example::

    python tools/gan_copy_check.py CONFIG CHECKPOINT [--num 256]
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--num', type=int, default=256, help='test images (default 256)')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> dict:
    import numpy as np
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import mmselfdis  # noqa: F401
    from mmpose.registry import DATASETS
    from mmselfdis.apis import load_generator
    from mmselfdis.visualization import load_samples

    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    init_default_scope('mmpose')
    model = load_generator(args.checkpoint, cfg)
    sd = model.selfdis
    if sd.discriminator is None:
        raise SystemExit('this generator has no discriminator (use_gan=False)')
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    n = min(args.num, len(dataset))
    imgs, info = load_samples(dataset, range(n))
    x = imgs.float()
    y = x.roll(1, 0)
    with torch.no_grad():
        maps = None
        if model.draws_labels:  # the generator draws x's labelled keypoints (and sees them)
            maps = sd.label_maps(np.stack([i['keypoints'] for i in info]),
                                 np.stack([i['keypoints_visible'] for i in info]))
        mix = model.mix(x, y, pose_maps=maps)
        to_model = sd.to_model_space
        pre = model.data_preprocessor
        xm, ym, mm = to_model(x, pre), to_model(y, pre), to_model(mix, pre)
        cond = None
        if sd.gan_condition == 'pose':
            cond = maps if maps is not None else model.head(model.extract_feat(xm))
        scores = {}
        for name, img in (('x', xm), ('mix', mm), ('copy y', ym)):
            logits = sd.discriminator(sd.discriminator_input(img, cond))
            scores[name] = float(sd.loss_g(logits, True) / sd.loss_g.loss_weight)
    print(f'{osp.basename(args.checkpoint)} ({n} test images, gan_condition='
          f'{sd.gan_condition!r}): unweighted loss_g ' +
          ', '.join(f'{k} {v:.4f}' for k, v in scores.items()), flush=True)
    return scores


if __name__ == '__main__':
    main()
