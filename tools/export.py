"""Strip the self-disentanglement branch from a checkpoint.

The result is an ordinary MMPose ``TopdownPoseEstimator`` checkpoint plus the
config it belongs to: vanilla MMPose (without mmselfdis installed) builds the
model from the config, loads the checkpoint and predicts exactly what the
trained :class:`SelfDisPoseEstimator` predicts (its ``predict`` is the base
class's; the branch is only used in ``loss``).

Usage::

    python tools/export.py CONFIG CHECKPOINT OUT_CHECKPOINT [--force]

Writes ``OUT_CHECKPOINT`` and the config next to it (same name, ``.py``), and
prints the config.
"""
import argparse
import copy
import os
import os.path as osp
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from mmselfdis.utils.checkpoint import BRANCH_PREFIX  # noqa: E402

__all__ = ['export', 'export_config', 'strip_state_dict', 'main']


def _is_plugin_type(registry, type_name: Any) -> bool:
    """Whether ``type_name`` resolves to a class defined by mmselfdis."""
    if not isinstance(type_name, str):
        return getattr(type_name, '__module__', '').startswith('mmselfdis')
    try:
        cls = registry.get(type_name)
    except Exception:  # noqa: BLE001 - scope errors of foreign registries
        return False
    return cls is not None and getattr(cls, '__module__', '').startswith('mmselfdis')


def _plugin_types(cfg: Any, path: str = '') -> List[Tuple[str, str]]:
    """``(dotted key, type)`` of every mmselfdis component named in ``cfg``."""
    from mmpose.registry import (DATA_SAMPLERS, DATASETS, HOOKS, METRICS, MODELS, TRANSFORMS,
                                 VISUALIZERS)
    found = []
    if isinstance(cfg, dict):
        if 'type' in cfg and any(
                _is_plugin_type(r, cfg['type'])
                for r in (MODELS, DATASETS, TRANSFORMS, METRICS, HOOKS, DATA_SAMPLERS,
                          VISUALIZERS)):
            found.append((path or '<root>', str(cfg['type'])))
        for key, value in cfg.items():
            found += _plugin_types(value, f'{path}.{key}' if path else str(key))
    elif isinstance(cfg, (list, tuple)):
        for i, value in enumerate(cfg):
            found += _plugin_types(value, f'{path}[{i}]')
    return found


def export_config(cfg):
    """The vanilla MMPose config of the exported model.

    ``model`` becomes a ``TopdownPoseEstimator`` without ``selfdis`` (or, for
    a ``MixConsistencyEstimator``, without ``consistency``);
    ``custom_imports`` is removed (kept only if the model itself still names a
    plugin class, e.g. the ``UNetEncoder`` backbone); datasets defined by
    mmselfdis get their ``metainfo`` written out so MMPose's inference API
    finds the keypoint definition without the plugin.

    Args:
        cfg (Config): The training config.

    Returns:
        tuple: ``(Config, list of (key, type) still naming mmselfdis components)``.
    """
    from mmengine.config import Config
    from mmpose.registry import DATASETS

    out = Config(cfg.to_dict(), filename=cfg.filename)
    model = out.model
    if model.get('type') == 'MixConsistencyEstimator':
        model.pop('consistency', None)
    elif 'selfdis' not in model:
        raise ValueError(f'model.type={model.get("type")!r} has no selfdis branch; the config '
                         f'is not a self-disentanglement config (nor a MixConsistencyEstimator)')
    model.pop('selfdis', None)
    model['type'] = 'TopdownPoseEstimator'
    custom_imports = out.pop('custom_imports', None)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = out.get(loader, {}).get('dataset') if out.get(loader) else None
        if isinstance(dataset, dict) and _is_plugin_type(DATASETS, dataset.get('type')) \
                and 'metainfo' not in dataset:
            cls = DATASETS.get(dataset['type'])
            if getattr(cls, 'METAINFO', None):
                dataset['metainfo'] = copy.deepcopy(dict(cls.METAINFO))
    leftovers = _plugin_types(out.to_dict())
    if any(key.startswith('model') for key, _ in leftovers) and custom_imports is not None:
        # e.g. the UNetEncoder backbone: the model itself still needs the plugin's class
        out['custom_imports'] = custom_imports
    return out, leftovers


_DROPPED = (BRANCH_PREFIX, 'ema_teacher.')
"""State-dict prefixes that are not part of the exported pose estimator."""


def strip_state_dict(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Drop the auxiliary branch (``selfdis.*``), an EMA teacher (``ema_teacher.*``) and
    DDP's ``module.`` prefix.

    Args:
        state_dict: The trained model's state dict.

    Returns:
        The pose estimator's state dict (same tensors, same order).
    """
    out = type(state_dict)()
    for key, value in state_dict.items():
        if key.startswith('module.'):
            key = key[len('module.'):]
        if not key.startswith(_DROPPED):
            out[key] = value
    metadata = getattr(state_dict, '_metadata', None)
    if metadata is not None:
        out._metadata = type(metadata)(
            (k, v) for k, v in metadata.items()
            if not k.startswith(tuple(p[:-1] for p in _DROPPED)))
    return out


def export(config: str, checkpoint: str, out_checkpoint: str, force: bool = False,
           verbose: bool = True) -> Tuple[str, str]:
    """Export ``checkpoint`` of ``config`` to a vanilla MMPose checkpoint.

    Args:
        config: The training config (with ``selfdis``, or of a
            ``MixConsistencyEstimator``).
        checkpoint: A checkpoint of that config.
        out_checkpoint: Where to write the exported checkpoint.
        force: Overwrite ``out_checkpoint`` if it exists.
        verbose: Print the exported config.

    Returns:
        tuple: Paths of the written checkpoint and config.
    """
    import mmselfdis  # noqa: F401  (registers the plugin's types to read the config)
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmselfdis.utils import load_model, safe_load_checkpoint

    out_checkpoint = osp.abspath(out_checkpoint)
    out_config = osp.splitext(out_checkpoint)[0] + '.py'
    if osp.exists(out_checkpoint) and not force:
        raise FileExistsError(f'{out_checkpoint} exists; pass --force to overwrite it')
    if osp.abspath(checkpoint) == out_checkpoint:
        raise ValueError('OUT_CHECKPOINT must differ from CHECKPOINT')

    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    vanilla_cfg, leftovers = export_config(cfg)
    ckpt = safe_load_checkpoint(checkpoint)
    state_dict = ckpt.get('state_dict', ckpt)
    stripped = strip_state_dict(state_dict)
    dropped = len(state_dict) - len(stripped)
    if dropped == 0 and 'selfdis' in cfg.model:
        raise ValueError(f'{checkpoint} holds no {BRANCH_PREFIX}* weights: it is not a '
                         f'checkpoint of a SelfDisPoseEstimator')
    # The exported weights must fit the vanilla model exactly (load_model drops the branch
    # and raises ValueError naming the keys that do not fit: is CHECKPOINT from CONFIG?).
    load_model(vanilla_cfg, dict(state_dict=stripped))

    meta = dict(
        exported_from=osp.abspath(checkpoint),
        config=osp.basename(out_config),
        dropped_keys=dropped)
    for key in ('epoch', 'iter', 'mmpose_version', 'mmengine_version'):
        value = ckpt.get('meta', {}).get(key)
        if isinstance(value, (int, float, str)):
            meta[key] = value
    os.makedirs(osp.dirname(out_checkpoint) or '.', exist_ok=True)
    torch.save(dict(state_dict=stripped, meta=meta), out_checkpoint)

    header = [f'# Exported by tools/export.py from {osp.basename(config)}: '
              f'the pose estimator without the self-disentanglement branch.']
    model_leftovers = [(k, t) for k, t in leftovers if k.startswith('model')]
    if model_leftovers:
        header.append('# The model still uses classes of mmselfdis (not the self-disentanglement '
                      'branch), so custom_imports stays:')
        header += [f'#   {key}: {name}' for key, name in model_leftovers]
    other = [(k, t) for k, t in leftovers if not k.startswith('model')]
    if other:
        header.append('# These entries still name mmselfdis components; to train/evaluate with '
                      'them add custom_imports = dict(imports=["mmselfdis"]):')
        header += [f'#   {key}: {name}' for key, name in other]
    text = '\n'.join(header) + '\n' + vanilla_cfg.pretty_text
    with open(out_config, 'w', encoding='utf-8') as f:
        f.write(text)
    if verbose:
        print(text)
        print(f'# checkpoint: {out_checkpoint}\n# config: {out_config}')
        if model_leftovers:
            print('# warning: ' + ', '.join(f'{k} ({t})' for k, t in model_leftovers) +
                  ' is defined by mmselfdis: vanilla MMPose cannot build this model without '
                  'the plugin (use an MMPose backbone for a plugin-free export)',
                  file=sys.stderr)
        if other:
            print('# note: ' + ', '.join(f'{k} ({t})' for k, t in other) +
                  ' need mmselfdis; the model itself does not', file=sys.stderr)
    return out_checkpoint, out_config


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Strip the self-disentanglement branch: write a checkpoint and config that '
        'vanilla MMPose loads as a TopdownPoseEstimator.')
    parser.add_argument('config', help='training config (with model.selfdis)')
    parser.add_argument('checkpoint', help='checkpoint of that config')
    parser.add_argument('out_checkpoint', help='exported checkpoint (config written beside it)')
    parser.add_argument('--force', action='store_true', help='overwrite OUT_CHECKPOINT')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        export(args.config, args.checkpoint, args.out_checkpoint, force=args.force)
    except (FileExistsError, ValueError, RuntimeError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
