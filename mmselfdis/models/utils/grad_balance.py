"""Balance the image branch's gradient against the pose gradient at the shared feature."""
from contextlib import contextmanager
from typing import Any, Dict, Iterator, Optional, Tuple

import torch
from torch import Tensor, nn

__all__ = ['GradBalance', 'balance_gradient']

MODES = ('norm', 'project', 'project_norm')


def balance_gradient(g_pose: Tensor, g_branch: Tensor, mode: str = 'norm',
                     max_ratio: float = 1.0) -> Tuple[Tensor, Dict[str, float]]:
    """The gradient a shared feature passes on: ``g_pose + balanced(g_branch)``.

    - ``'norm'``: ``g_branch`` is scaled by ``s = min(1, max_ratio * |g_pose| / |g_branch|)``
      (its norm is at most ``max_ratio`` times the pose gradient's; its direction is kept).
    - ``'project'``: where ``<g_branch, g_pose> < 0`` the component of ``g_branch`` along
      ``g_pose`` is removed (PCGrad, Yu et al. 2020, with the pose task kept as it is).
    - ``'project_norm'``: ``'project'``, then ``'norm'``.

    Norms and inner products are over the whole tensor (the batch), in float32.
    When either gradient is zero (no pose loss, or no branch loss, in this
    backward) the two are added unchanged: there is nothing to balance.

    Args:
        g_pose: Gradient arriving from the pose path.
        g_branch: Gradient arriving from the image branch.
        mode: One of ``'norm'``, ``'project'``, ``'project_norm'``.
        max_ratio: ``c`` of ``'norm'``: the branch's largest norm relative to
            the pose gradient's.

    Returns:
        tuple: The combined gradient (dtype of ``g_pose``) and statistics
        ``pose_norm``, ``branch_norm`` (before), ``cos`` (before),
        ``scale`` (norm after / norm before).
    """
    gp, gb = g_pose.float(), g_branch.float()
    np_, nb = gp.norm(), gb.norm()
    stats = dict(pose_norm=float(np_), branch_norm=float(nb), cos=0.0, scale=1.0)
    if float(np_) == 0.0 or float(nb) == 0.0:
        return (g_pose + g_branch.to(g_pose.dtype)), stats
    dot = (gp * gb).sum()
    stats['cos'] = float(dot / (np_ * nb))
    out = gb
    if mode in ('project', 'project_norm') and float(dot) < 0:
        out = out - (dot / np_**2) * gp
    if mode in ('norm', 'project_norm'):
        n_out = out.norm()
        if float(n_out) > 0:
            out = out * torch.clamp(max_ratio * np_ / n_out, max=1.0)
    stats['scale'] = float(out.norm() / nb)
    return (gp + out).to(g_pose.dtype), stats


class _Junction(torch.autograd.Function):
    """``x -> (x_pose, x_branch)``; the backward balances the two incoming gradients."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, balancer: 'GradBalance') -> Tuple[Tensor, Tensor]:
        ctx.balancer = balancer
        return x.clone(), x.clone()

    @staticmethod
    def backward(ctx: Any, g_pose: Tensor, g_branch: Tensor) -> Tuple[Tensor, None]:
        return ctx.balancer.combine(g_pose, g_branch), None


class GradBalance:
    """Limits what the image branch does to the layers it shares with the pose estimator.

    The layers up to ``appearance_source`` feed both the pose path and the
    appearance encoder. A forward hook on the source module splits its output
    ``x`` into two copies: the rest of the backbone continues from one, the
    appearance encoder reads the other (:meth:`branch_input`). In the backward
    pass both gradients meet at the split, and :func:`balance_gradient`
    combines them before they reach the shared parameters. Only the shared
    parameters are affected: the appearance encoder, decoder and
    discriminator receive their own gradients unchanged, and the pose path's
    gradient passes as it is.

    What counts as "pose": every gradient arriving at ``x`` through the rest of
    the backbone. With ``detach_pose_feature=False`` (Table 4 row 6) that
    includes the image losses that reach the pose feature ``p``; with
    ``detach_pose_estimator=False`` (rows 5, 6) the re-encoding of the mixed
    images adds unbalanced paths. In the paper's default (rows 2-4) the only
    gradient through the rest of the backbone is the pose loss.

    The split happens only in training mode with gradients enabled and while
    the source module's parameters take gradients (not in the frozen
    re-encoding of the mixed images); in evaluation and under
    ``torch.no_grad()`` the model is untouched.

    Args:
        mode: ``'norm'``, ``'project'`` or ``'project_norm'`` (see
            :func:`balance_gradient`).
        max_ratio: ``c`` of the norm cap (``> 0``).
        index: The element to split when the source module returns a
            list/tuple (as ``appearance_source_index``).
    """

    def __init__(self, mode: str = 'norm', max_ratio: float = 1.0, index: int = 0) -> None:
        if mode not in MODES:
            raise ValueError(f'selfdis.grad_balance.mode must be one of {MODES}, got {mode!r} '
                             f'(or set grad_balance=None to switch balancing off)')
        if isinstance(max_ratio, bool) or not isinstance(max_ratio, (int, float)) \
                or not max_ratio > 0 or max_ratio == float('inf'):
            raise ValueError(f'selfdis.grad_balance.max_ratio must be a finite number > 0 (the '
                             f'largest norm of the image branch\'s gradient relative to the '
                             f'pose gradient at the shared feature), got {max_ratio!r}')
        self.mode = mode
        self.max_ratio = float(max_ratio)
        self.index = index
        self.handle = None
        self.bypassed = 0
        self.last: Dict[str, float] = {}
        self._pending: Optional[Tuple[Tensor, Tensor]] = None

    def attach(self, module: nn.Module) -> None:
        """Register the splitting forward hook on the source module (once)."""
        if self.handle is not None:
            self.handle.remove()
        self.handle = module.register_forward_hook(self._hook)

    def _hook(self, module: nn.Module, inputs: Any, output: Any) -> Any:
        if not (module.training and torch.is_grad_enabled()):
            return None
        params = list(module.parameters(recurse=True))
        if params and not any(p.requires_grad for p in params):
            return None  # a frozen re-encoding (frozen_call): no shared parameter learns here
        seq = isinstance(output, (list, tuple))
        x = output[self.index] if seq else output
        if not (torch.is_tensor(x) and x.requires_grad):
            return None
        x_pose, x_branch = _Junction.apply(x, self)
        self._pending = (x, x_branch)
        if not seq:
            return x_pose
        out = list(output)
        out[self.index] = x_pose
        return type(output)(out) if isinstance(output, tuple) else out

    def branch_input(self, source: Tensor) -> Tensor:
        """The appearance encoder's copy of ``source`` (``source`` itself if not split)."""
        pending, self._pending = self._pending, None
        if pending is not None and pending[0] is source:
            return pending[1]
        return source

    def combine(self, g_pose: Tensor, g_branch: Tensor) -> Tensor:
        """Backward of the split: ``g_pose + balanced(g_branch)`` (plain sum when bypassed)."""
        if self.bypassed:
            return g_pose + g_branch
        out, self.last = balance_gradient(g_pose, g_branch, self.mode, self.max_ratio)
        return out

    @contextmanager
    def bypass(self) -> Iterator['GradBalance']:
        """Add the two gradients unchanged within the context (for probing)."""
        self.bypassed += 1
        try:
            yield self
        finally:
            self.bypassed -= 1

    def __repr__(self) -> str:
        return f'GradBalance(mode={self.mode!r}, max_ratio={self.max_ratio})'
