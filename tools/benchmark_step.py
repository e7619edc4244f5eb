"""Cost of one self-disentanglement training step relative to the baseline's.

Builds, side by side in one process and on the same batch, a plain
``TopdownPoseEstimator`` (Table 4 model 1) and the same backbone/head wrapped
as a ``SelfDisPoseEstimator`` (model 3), and measures for each configuration:

- the wall time of a full training step (forward + backward + optimizer
  step), interleaving the two models and taking medians;
- the FLOPs of forward + backward (``torch.utils.flop_counter.FlopCounterMode``).

It prints a Markdown table (and writes it with ``--out``). Goals: time ratio
within 1.15x of the FLOP ratio everywhere; the default configuration's step
at most 2.0x the baseline's.

Wall time on a machine shared with other processes is noisy (steps of the
two models are interleaved and medians taken); the process CPU time per step
is reported beside it, and with ``--threads 1`` it does not depend on what
else runs on the machine.

Usage::

    python tools/benchmark_step.py [--steps 10] [--batch 32] [--threads N] [--out FILE]
        [--quick]
"""
import argparse
import copy
import datetime
import os
import os.path as osp
import platform
import statistics
import sys
import time
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

__all__ = ['CONFIGS', 'measure', 'main']

NUM_KPTS = 21


def _unet(width: int = 64) -> dict:
    """The paper's model (§4.2) at 64x64 mono; ``width=64`` is the paper's."""
    codec = dict(type='MSRAHeatmap', input_size=(64, 64), heatmap_size=(64, 64), sigma=2)
    return dict(
        name=f'UNet-{width} 64x64 mono (paper)',
        channels=1,
        size=64,
        heatmap=64,
        model=dict(
            data_preprocessor=dict(type='PoseDataPreprocessor', mean=[127.5], std=[127.5]),
            backbone=dict(type='UNetEncoder', in_channels=1, base_channels=width, depth=4),
            head=dict(type='HeatmapHead', in_channels=width * 8, out_channels=NUM_KPTS,
                      deconv_out_channels=(width * 4, width * 2, width, width),
                      deconv_kernel_sizes=(2, 2, 2, 2), decoder=codec),
            test_cfg=dict(flip_test=False)),
        source='backbone.stages.2')


def _resnet(size: int = 128) -> dict:
    codec = dict(type='MSRAHeatmap', input_size=(size, size),
                 heatmap_size=(size // 4, size // 4), sigma=2)
    return dict(
        name=f'ResNet-18 {size}x{size} RGB',
        channels=3,
        size=size,
        heatmap=size // 4,
        model=dict(
            data_preprocessor=dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                                   std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
            backbone=dict(type='ResNet', depth=18),
            head=dict(type='HeatmapHead', in_channels=512, out_channels=NUM_KPTS,
                      deconv_out_channels=(128, 128, 128), deconv_kernel_sizes=(4, 4, 4),
                      decoder=codec),
            test_cfg=dict(flip_test=False)),
        source='backbone.layer2')


CONFIGS = {'unet': _unet, 'resnet': _resnet}


def _batch(n: int, channels: int, size: int, heatmap: int, seed: int = 0):
    from mmengine.structures import InstanceData, PixelData

    from mmpose.structures import PoseDataSample
    g = torch.Generator().manual_seed(seed)
    inputs = torch.randn(n, channels, size, size, generator=g)
    samples = []
    for _ in range(n):
        s = PoseDataSample()
        s.gt_fields = PixelData(heatmaps=torch.rand(NUM_KPTS, heatmap, heatmap, generator=g))
        s.gt_instance_labels = InstanceData(keypoint_weights=torch.ones(1, NUM_KPTS))
        s.gt_instances = InstanceData(bboxes=np.zeros((1, 4), np.float32))
        samples.append(s)
    return inputs, samples


def _step(model, optimizer, inputs, samples) -> None:
    losses = model.loss(inputs, samples)
    loss = sum(v for k, v in losses.items() if 'loss' in k)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def _flops(model, inputs, samples) -> int:
    from torch.utils.flop_counter import FlopCounterMode
    model.zero_grad(set_to_none=True)
    with FlopCounterMode(display=False) as counter:
        losses = model.loss(inputs, samples)
        sum(v for k, v in losses.items() if 'loss' in k).backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def measure(spec: dict, mix_ratio: float, batch: int, steps: int, warmup: int = 2,
            selfdis_overrides: Optional[dict] = None) -> Dict[str, float]:
    """Time and FLOPs of baseline vs self-disentanglement on one batch.

    Args:
        spec: One of :data:`CONFIGS`' results.
        mix_ratio: ``selfdis.mix_ratio``.
        batch: Batch size.
        steps: Measured steps per model.
        warmup: Unmeasured steps per model first.
        selfdis_overrides: Extra ``selfdis`` options.

    Returns:
        dict: ``base_ms``, ``selfdis_ms``, ``time_ratio``, ``base_gflop``,
        ``selfdis_gflop``, ``flop_ratio``.
    """
    import mmselfdis  # noqa: F401
    from mmengine.registry import init_default_scope

    from mmpose.registry import MODELS
    init_default_scope('mmpose')
    base_cfg = dict(type='TopdownPoseEstimator', **copy.deepcopy(spec['model']))
    sd_cfg = dict(type='SelfDisPoseEstimator', **copy.deepcopy(spec['model']))
    sd_cfg['selfdis'] = dict(type='SelfDisHead', appearance_source=spec['source'],
                             mix_ratio=mix_ratio, **(selfdis_overrides or {}))
    torch.manual_seed(0)
    models = dict(base=MODELS.build(base_cfg), selfdis=MODELS.build(sd_cfg))
    inputs, samples = _batch(batch, spec['channels'], spec['size'], spec['heatmap'])
    opts = {}
    for key, model in models.items():
        model.train()
        opts[key] = torch.optim.Adam(model.parameters(), lr=1e-4)
    flops = {key: _flops(model, inputs, samples) for key, model in models.items()}
    for _ in range(warmup):
        for key, model in models.items():
            _step(model, opts[key], inputs, samples)
    wall: Dict[str, List[float]] = {key: [] for key in models}
    cpu: Dict[str, List[float]] = {key: [] for key in models}
    for _ in range(steps):
        for key, model in models.items():  # interleaved: drift hits both alike
            w0, c0 = time.perf_counter(), time.process_time()
            _step(model, opts[key], inputs, samples)
            wall[key].append(time.perf_counter() - w0)
            cpu[key].append(time.process_time() - c0)
    base_t, sd_t = statistics.median(wall['base']), statistics.median(wall['selfdis'])
    base_c, sd_c = statistics.median(cpu['base']), statistics.median(cpu['selfdis'])
    return dict(base_ms=1e3 * base_t, selfdis_ms=1e3 * sd_t, time_ratio=sd_t / base_t,
                cpu_ratio=sd_c / base_c,
                base_gflop=flops['base'] / 1e9, selfdis_gflop=flops['selfdis'] / 1e9,
                flop_ratio=flops['selfdis'] / flops['base'])


def _table(rows: List[dict]) -> str:
    lines = ['| configuration | threads | batch | mix_ratio | baseline step (ms) | '
             'self-dis step (ms) | time ratio | CPU-time ratio | GFLOP base / self-dis | '
             'FLOP ratio | time / FLOP | CPU-time / FLOP |',
             '|---|---|---|---|---|---|---|---|---|---|---|---|']
    for r in rows:
        lines.append(
            f"| {r['name']}{' (default)' if r['default'] else ''} | {r['threads']} | "
            f"{r['batch']} | {r['mix_ratio']} | {r['base_ms']:.0f} | {r['selfdis_ms']:.0f} | "
            f"{r['time_ratio']:.2f}x | {r['cpu_ratio']:.2f}x | "
            f"{r['base_gflop']:.1f} / {r['selfdis_gflop']:.1f} | {r['flop_ratio']:.2f}x | "
            f"{r['time_ratio'] / r['flop_ratio']:.2f} | {r['cpu_ratio'] / r['flop_ratio']:.2f} |")
    return '\n'.join(lines)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--configs', nargs='+', default=['unet', 'resnet'], choices=CONFIGS)
    parser.add_argument('--ratios', nargs='+', type=float, default=[1.0, 0.5, 0.25])
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--steps', type=int, default=10)
    parser.add_argument('--unet-width', type=int, default=64,
                        help='UNet base channels (64 = the paper)')
    parser.add_argument('--resnet-size', type=int, default=128)
    parser.add_argument('--quick', action='store_true',
                        help='tiny run (narrow UNet, small batch, 2 steps) to check the tool')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch threads (default: torch\'s); 1 makes the CPU-time column '
                        'insensitive to other processes on a shared machine')
    parser.add_argument('--out', help='also write the Markdown table to this file')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if args.quick:
        args.batch, args.steps, args.unet_width, args.resnet_size = 4, 2, 8, 64
    if args.threads:
        torch.set_num_threads(args.threads)
    import inspect

    from mmselfdis.models import SelfDisHead
    default_ratio = inspect.signature(SelfDisHead).parameters['mix_ratio'].default
    rows = []
    for name in args.configs:
        spec = _unet(args.unet_width) if name == 'unet' else _resnet(args.resnet_size)
        for ratio in args.ratios:
            result = measure(spec, ratio, args.batch, args.steps)
            row = dict(name=spec['name'], batch=args.batch, mix_ratio=ratio,
                       threads=torch.get_num_threads(),
                       default=(name == 'unet' and ratio == default_ratio), **result)
            rows.append(row)
            print(f"{row['name']} mix_ratio={ratio}: time {result['time_ratio']:.2f}x, "
                  f"CPU time {result['cpu_ratio']:.2f}x, FLOPs {result['flop_ratio']:.2f}x",
                  flush=True)
    table = _table(rows)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')
    header = (f'Measured {stamp} on {platform.machine()}, {os.cpu_count()} CPU cores, '
              f'torch {torch.__version__}, {torch.get_num_threads()} threads.\n\n'
              f'Command: `python tools/benchmark_step.py '
              f"{' '.join(argv if argv is not None else sys.argv[1:])}`\n")
    print(header)
    print(table)
    misses = [r for r in rows if r['time_ratio'] / r['flop_ratio'] > 1.15]
    cpu_misses = [r for r in rows if r['cpu_ratio'] / r['flop_ratio'] > 1.15]
    defaults = [r for r in rows if r['default']]
    default_text = ', '.join('%.2fx (CPU time %.2fx)' % (r['time_ratio'], r['cpu_ratio'])
                             for r in defaults) or '-'
    print(f'\ntime within 1.15x of FLOPs: {len(rows) - len(misses)}/{len(rows)} '
          f'(CPU time: {len(rows) - len(cpu_misses)}/{len(rows)}); '
          f'default step ratio: {default_text}')
    if args.out:
        with open(args.out, 'w', encoding='utf-8') as f:
            f.write(header + '\n' + table + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
