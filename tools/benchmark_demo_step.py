"""Training steps per second of a config, with thread and memory-format options.

Builds the model of CONFIG (default: the demo's), feeds it a fixed random
batch shaped like its training data (images, heatmap targets, keypoint
weights) and times full training steps (forward, backward, Adam step) after
warm-up steps; prints the median wall time, iterations per second and the
process CPU time per step. On a machine shared with other jobs the wall time
is noisy; the CPU time per step is not.

Example::

    python tools/benchmark_demo_step.py --threads 2 --steps 8
    python tools/benchmark_demo_step.py --threads 2 --steps 8 --channels-last
"""
import argparse
import os.path as osp
import statistics
import sys
import time
from typing import List, Optional

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

DEMO = osp.join(ROOT, 'configs', 'demo', 'selfdis-demo_unet_synthhands-mono-64x64.py')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', nargs='?', default=DEMO, help='model config (default: demo)')
    parser.add_argument('--batch', type=int, default=None,
                        help='batch size (default: the config\'s train batch size)')
    parser.add_argument('--steps', type=int, default=8, help='timed steps (default 8)')
    parser.add_argument('--warmup', type=int, default=2, help='untimed steps (default 2)')
    parser.add_argument('--threads', type=int, default=None, help='torch.set_num_threads')
    parser.add_argument('--channels-last', action='store_true',
                        help='model and inputs in channels-last memory format')
    parser.add_argument('--device', default='cpu',
                        help='cpu (default) or cuda: on a GPU the step is timed between '
                        'synchronisations, and the process CPU time says how much of it the '
                        'host spent')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    import numpy as np
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.structures import InstanceData, PixelData

    import mmselfdis  # noqa: F401
    from mmpose.registry import MODELS
    from mmpose.structures import PoseDataSample

    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = Config.fromfile(args.config)
    init_default_scope('mmpose')
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    if device.type == 'cuda':
        torch.backends.cudnn.benchmark = bool(cfg.get('env_cfg', {}).get('cudnn_benchmark'))
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.to(device)
    model.train()
    n = args.batch or int(cfg.train_dataloader.batch_size)
    codec = cfg.model.head.decoder
    (w, h), (hw, hh) = codec['input_size'], codec['heatmap_size']
    k = int(cfg.model.head.out_channels)
    selfdis = getattr(model, 'selfdis', None)  # a plain pose estimator has no image branch
    c = selfdis.image_channels if selfdis is not None else len(
        cfg.model.get('data_preprocessor', {}).get('mean') or [0])
    g = torch.Generator().manual_seed(args.seed)
    inputs = torch.randn(n, c, h, w, generator=g).to(device)
    samples = []
    for _ in range(n):
        s = PoseDataSample()
        s.gt_fields = PixelData(heatmaps=torch.rand(k, hh, hw, generator=g))
        s.gt_instance_labels = InstanceData(keypoint_weights=torch.ones(1, k))
        # crop keypoints, for a generator that draws the pose image's labels
        kpts = (torch.rand(1, k, 2, generator=g) * torch.tensor([w, h])).numpy()
        s.gt_instances = InstanceData(bboxes=np.array([[0, 0, w, h]], dtype=np.float32),
                                      keypoints=kpts, transformed_keypoints=kpts,
                                      keypoints_visible=np.ones((1, k), dtype=np.float32))
        s.set_metainfo(dict(input_size=(w, h)))
        samples.append(s.to(device))
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
        inputs = inputs.contiguous(memory_format=torch.channels_last)
    optim = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step() -> None:
        losses = model.loss(inputs, samples)
        total = sum(v for key, v in losses.items() if key.startswith('loss'))
        optim.zero_grad(set_to_none=True)
        total.backward()
        optim.step()

    def sync() -> None:
        if device.type == 'cuda':
            torch.cuda.synchronize(device)

    for _ in range(args.warmup):
        step()
    sync()
    walls, cpus = [], []
    for _ in range(args.steps):
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        sync()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    wall = statistics.median(walls)
    result = dict(config=osp.relpath(args.config, ROOT), device=args.device, batch=n,
                  threads=torch.get_num_threads(), channels_last=args.channels_last,
                  step_s=round(wall, 4), it_per_s=round(1 / wall, 3),
                  cpu_s_per_step=round(statistics.median(cpus), 4))
    print(' '.join(f'{key}={value}' for key, value in result.items()), flush=True)
    return result


if __name__ == '__main__':
    main()
