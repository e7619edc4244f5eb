"""Never train on a NaN/Inf loss: stop with its name, or skip the step."""
import math
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional

import torch
from mmengine.dist import all_reduce, is_distributed
from mmengine.logging import MessageHub, MMLogger
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmpose.registry import OPTIM_WRAPPERS
from torch import nn

__all__ = ['NonFiniteLossOptimWrapper', 'NonFiniteLossAmpOptimWrapper', 'NonFiniteLossError']


class NonFiniteLossError(FloatingPointError):
    """A training loss became NaN or infinite; the message names it and the iteration."""


@OPTIM_WRAPPERS.register_module()
class NonFiniteLossOptimWrapper(OptimWrapper):
    """An :class:`OptimWrapper` that checks the loss before it updates anything.

    MMEngine's ``CheckInvalidLossHook`` looks at the loss *after* the
    parameters were updated with it, and does not say which loss it was.
    This wrapper checks the summed loss in :meth:`update_params`, before
    ``backward``; when it is not finite it

    * ``action='raise'`` (default): stops the run with
      :class:`NonFiniteLossError` naming the iteration and every non-finite
      loss term (the last checkpoint is intact: nothing was updated);
    * ``action='skip'``: skips the update (no parameter or optimizer state
      changes, a warning names the terms) and stops after ``max_skips``
      skipped steps in a row.

    The terms are the loss dict of the model's training forward, which runs
    inside :meth:`optim_context` (``BaseModel.train_step``): a forward hook
    holds it for that call only. In distributed runs all processes take the
    same decision (one all-reduce), and a skipped step still runs a zero
    backward so that ``DistributedDataParallel`` stays in step.

    Example::

        optim_wrapper = dict(type='NonFiniteLossOptimWrapper', action='skip',
                             optimizer=dict(type='Adam', lr=1e-3))

    Args:
        action: ``'raise'`` or ``'skip'``.
        max_skips: With ``'skip'``, the most consecutive skipped steps.
        **kwargs: The arguments of the wrapped class (``optimizer``,
            ``accumulative_counts``, ``clip_grad``, ...).
    """

    ACTIONS = ('raise', 'skip')

    def __init__(self, *args, action: str = 'raise', max_skips: int = 10, **kwargs) -> None:
        name = type(self).__name__
        if action not in self.ACTIONS:
            raise ValueError(f'{name}: action must be one of {self.ACTIONS}, got {action!r}')
        if isinstance(max_skips, bool) or not isinstance(max_skips, int) or max_skips < 1:
            raise ValueError(f'{name}: max_skips must be >= 1, got {max_skips!r}')
        super().__init__(*args, **kwargs)
        self.action = action
        self.max_skips = max_skips
        self.skipped_in_a_row = 0
        self.skipped_total = 0
        self._losses: Optional[Dict[str, torch.Tensor]] = None
        self._model: Optional[nn.Module] = None

    @contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        """The wrapped class's context, holding the loss dict of the forward run in it."""
        self._model, self._losses = model, None
        handle = model.register_forward_hook(self._keep_losses)
        try:
            with super().optim_context(model):
                yield
        finally:
            handle.remove()

    def _keep_losses(self, module: nn.Module, args, output) -> None:
        if isinstance(output, dict):
            self._losses = output

    def update_params(self, loss: torch.Tensor, *args, **kwargs) -> None:
        """Update with ``loss`` if it is finite everywhere; otherwise raise or skip."""
        losses, self._losses = self._losses, None
        if self._finite(loss):
            self.skipped_in_a_row = 0
            super().update_params(loss, *args, **kwargs)
            return
        self._on_non_finite(losses)

    @staticmethod
    def _finite(loss: torch.Tensor) -> bool:
        flag = torch.tensor(0. if bool(torch.isfinite(loss.detach()).all()) else 1.,
                            device=loss.device)
        if is_distributed():
            all_reduce(flag, op='max')
        return flag.item() == 0

    @staticmethod
    def _bad_terms(losses: Optional[Dict[str, torch.Tensor]]) -> List[str]:
        terms = []
        for name, value in (losses or {}).items():
            values = value if isinstance(value, (list, tuple)) else [value]
            for v in values:
                if torch.is_tensor(v) and not bool(torch.isfinite(v.detach()).all()):
                    shown = v.detach().float().mean().item() if v.numel() else math.nan
                    terms.append(f'{name}={shown}')
                    break
        return terms

    @staticmethod
    def _where() -> str:
        hub = MessageHub.get_current_instance()
        it, epoch = hub.get_info('iter'), hub.get_info('epoch')
        if it is None:
            return 'this step'
        return f'iteration {it + 1}' + ('' if epoch is None else f' (epoch {epoch + 1})')

    def _on_non_finite(self, losses: Optional[Dict[str, torch.Tensor]]) -> None:
        name = type(self).__name__
        terms = ', '.join(self._bad_terms(losses)) or 'the summed loss'
        where = self._where()
        if self.action == 'raise':
            raise NonFiniteLossError(
                f'non-finite loss at {where}: {terms}. Nothing was updated with it; the last '
                f'checkpoint in the work directory is intact. Lower the learning rate or that '
                f'loss weight, check the data of this batch, or set '
                f"optim_wrapper = dict(type='{name}', action='skip') to skip such steps.")
        self.skipped_in_a_row += 1
        self.skipped_total += 1
        MMLogger.get_current_instance().warning(
            f'{name}: skipped the update at {where}: {terms} ({self.skipped_in_a_row} in a '
            f'row, {self.skipped_total} in total)')
        if is_distributed() and self._model is not None:
            # keep DistributedDataParallel's gradient reduction in step: a zero backward
            params = [p for p in self._model.parameters() if p.requires_grad]
            if params:
                self.backward(sum(p.reshape(-1)[0] * 0. for p in params))
        self.zero_grad()
        if self.skipped_in_a_row >= self.max_skips:
            raise NonFiniteLossError(
                f'{self.skipped_in_a_row} consecutive training steps had non-finite losses '
                f'(last at {where}: {terms}); stopping. Lower the learning rate or the loss '
                f'weights, or check the data.')


@OPTIM_WRAPPERS.register_module()
class NonFiniteLossAmpOptimWrapper(NonFiniteLossOptimWrapper, AmpOptimWrapper):
    """:class:`NonFiniteLossOptimWrapper` over MMEngine's ``AmpOptimWrapper``.

    What ``tools/train.py --amp`` turns a ``NonFiniteLossOptimWrapper`` into:
    the loss is checked unscaled, before the scaled ``backward``.
    """
