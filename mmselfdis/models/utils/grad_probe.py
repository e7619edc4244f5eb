"""Per-loss gradients on the layers that the pose estimator shares with the image branch."""
from collections import OrderedDict
from contextlib import nullcontext
from typing import Dict, List, Mapping, Optional, Sequence

import torch
from torch import Tensor, nn

__all__ = ['gradient_probe', 'shared_parameter_groups']


def shared_parameter_groups(estimator: nn.Module,
                            appearance_source: str) -> 'OrderedDict[str, List[nn.Parameter]]':
    """The trainable parameters before and at ``appearance_source``, one group per module.

    The path is walked from the estimator down: at each level, the children
    registered before the one on the path form a group each (MMPose
    backbones register their modules in forward order), and the last
    component of the path is a group of its own. ``'backbone.stages.2'`` of
    :class:`UNetEncoder` gives ``backbone.stages.0``, ``backbone.stages.1``,
    ``backbone.stages.2``; ``'backbone.layer2'`` of a ResNet gives the stem
    modules, ``backbone.layer1`` and ``backbone.layer2``.

    Args:
        estimator: The pose estimator.
        appearance_source: The head's ``appearance_source`` (a module path).

    Returns:
        ``{module path: [parameters that require grad]}`` in forward order;
        modules without trainable parameters are left out.
    """
    if appearance_source == 'image':
        raise ValueError("appearance_source='image' shares no layer with the pose estimator: "
                         'there is nothing to probe')
    parts = appearance_source.split('.')
    groups: 'OrderedDict[str, List[nn.Parameter]]' = OrderedDict()
    parent, prefix = estimator, ''
    for depth, part in enumerate(parts):
        names = [n for n, _ in parent.named_children()]
        if part not in names:
            raise ValueError(f'{appearance_source!r}: {prefix or "the estimator"} has no child '
                             f'{part!r} (children: {", ".join(names)})')
        last = depth == len(parts) - 1
        for name, child in parent.named_children():
            if depth == 0 and name != part:
                continue  # at the top only the path itself (backbone, not head or selfdis)
            if name == part and not last:
                break
            params = [p for p in child.parameters() if p.requires_grad]
            if params:
                groups[prefix + name] = params
            if name == part:
                break
        parent, prefix = parent.get_submodule(part), prefix + part + '.'
    return groups


def _flat(grads: Sequence[Optional[Tensor]], params: Sequence[Tensor]) -> Tensor:
    return torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1).float()
                      for g, p in zip(grads, params)])


def _cos(a: Tensor, b: Tensor) -> float:
    na, nb = a.norm(), b.norm()
    return float((a * b).sum() / (na * nb)) if float(na) > 0 and float(nb) > 0 else 0.0


def gradient_probe(losses: Mapping[str, Tensor], groups: Mapping[str, Sequence[Tensor]],
                   pose_keys: Sequence[str],
                   total: Optional[Tensor] = None,
                   balancer: Optional[object] = None) -> Dict[str, Dict[str, float]]:
    """Gradient norms of each loss term and their agreement, per parameter group.

    Each term is differentiated on its own (``torch.autograd.grad`` with
    ``retain_graph=True``), so the graph is kept for the training step's own
    backward. For each group, ``g_pose`` is the sum of the ``pose_keys``
    terms' gradients and ``g_other`` the sum of every other term's.

    Args:
        losses: Scalar loss terms (already weighted), e.g. the estimator's loss
            dict; terms that reach no parameter of a group count as zero.
        groups: ``{name: parameters}``, e.g. from :func:`shared_parameter_groups`.
        pose_keys: The terms of the pose loss (``'loss_kpt'`` for MMPose's
            heatmap heads).
        total: Optionally the loss the training step backpropagates (with any
            gradient balancing active); adds ``applied_other`` =
            ``|grad(total) - g_pose|`` and ``cos_applied``, its cosine with
            ``g_pose``: what the other terms actually add.
        balancer: The head's :class:`GradBalance`, if any: the single terms
            are differentiated with it bypassed (a term alone has no partner
            to be balanced against), ``total`` with it active.

    Returns:
        ``{group: {'norm/<term>': ..., 'norm/pose': |g_pose|, 'norm/other':
        |g_other|, 'ratio': |g_other| / |g_pose|, 'cos': cos(g_pose, g_other)}}``
        (+ ``applied_other``, ``cos_applied`` with ``total``).
    """
    missing = [k for k in pose_keys if k not in losses]
    if missing:
        raise ValueError(f'pose loss terms {missing} are not among the losses '
                         f'({", ".join(losses)})')
    names = list(groups)
    params = [p for n in names for p in groups[n]]
    sizes = [sum(p.numel() for p in groups[n]) for n in names]

    def per_group(loss: Tensor) -> List[Tensor]:
        if not loss.requires_grad:
            flat = torch.zeros(sum(sizes))
        else:
            flat = _flat(torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True),
                         params)
        return list(torch.split(flat, sizes))

    with (balancer.bypass() if balancer is not None else nullcontext()):
        terms = {k: per_group(v) for k, v in losses.items()
                 if torch.is_tensor(v) and v.dim() == 0 and v.is_floating_point()}
    out: Dict[str, Dict[str, float]] = {}
    applied = per_group(total) if total is not None else None
    for i, name in enumerate(names):
        g_pose = sum(terms[k][i] for k in pose_keys)
        g_other = sum((g[i] for k, g in terms.items() if k not in pose_keys),
                      torch.zeros_like(g_pose))
        rec = {f'norm/{k}': float(g[i].norm()) for k, g in terms.items()}
        rec.update({'norm/pose': float(g_pose.norm()), 'norm/other': float(g_other.norm()),
                    'cos': _cos(g_pose, g_other)})
        rec['ratio'] = rec['norm/other'] / rec['norm/pose'] if rec['norm/pose'] > 0 \
            else float('inf')
        if applied is not None:
            eff = applied[i] - g_pose
            rec['applied_other'] = float(eff.norm())
            rec['cos_applied'] = _cos(g_pose, eff)
        out[name] = rec
    return out
