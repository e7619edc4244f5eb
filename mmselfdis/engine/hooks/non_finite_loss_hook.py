"""Never train on a NaN/Inf loss: stop with its name, or skip the step."""
import math
from typing import Dict, List, Optional

import torch
import torch.distributed as dist
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpose.registry import HOOKS

__all__ = ['NonFiniteLossHook', 'NonFiniteLossError']


class NonFiniteLossError(FloatingPointError):
    """A training loss became NaN or infinite; the message names it and the iteration."""


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Check every training loss before the optimizer sees it.

    MMEngine's ``CheckInvalidLossHook`` looks at the loss *after* the
    parameters were updated with it, and does not say which loss it was. This
    hook checks the summed loss before ``backward``; when it is not finite it

    * ``action='raise'`` (default): stops the run with
      :class:`NonFiniteLossError` naming the iteration and every non-finite
      loss term (the last checkpoint is intact: nothing was updated);
    * ``action='skip'``: skips the update (no parameter or optimizer state
      changes, a warning names the terms) and stops after ``max_skips``
      skipped steps in a row.

    In distributed runs all processes take the same decision (one
    all-reduce), and a skipped step still runs a zero backward so that
    ``DistributedDataParallel`` stays in step.

    Args:
        action: ``'raise'`` or ``'skip'``.
        max_skips: With ``'skip'``, the most consecutive skipped steps.
    """

    priority = 'VERY_HIGH'
    ACTIONS = ('raise', 'skip')

    def __init__(self, action: str = 'raise', max_skips: int = 10) -> None:
        if action not in self.ACTIONS:
            raise ValueError(f'NonFiniteLossHook: action must be one of {self.ACTIONS}, got '
                             f'{action!r}')
        if int(max_skips) < 1:
            raise ValueError(f'NonFiniteLossHook: max_skips must be >= 1, got {max_skips!r}')
        self.action = action
        self.max_skips = int(max_skips)
        self.skipped_in_a_row = 0
        self.skipped_total = 0
        self._last_losses: Optional[Dict[str, torch.Tensor]] = None

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        optim_wrapper = runner.optim_wrapper
        if getattr(optim_wrapper, '_non_finite_guard', False):
            return
        parse_losses = model.parse_losses
        update_params = optim_wrapper.update_params
        hook = self

        def guarded_parse_losses(losses):
            hook._last_losses = losses
            return parse_losses(losses)

        def guarded_update_params(loss, *args, **kwargs):
            if hook._finite(loss):
                hook.skipped_in_a_row = 0
                return update_params(loss, *args, **kwargs)
            hook._on_non_finite(runner, model, optim_wrapper)

        model.parse_losses = guarded_parse_losses
        optim_wrapper.update_params = guarded_update_params
        optim_wrapper._non_finite_guard = True

    @staticmethod
    def _finite(loss: torch.Tensor) -> bool:
        flag = torch.tensor(0. if bool(torch.isfinite(loss.detach()).all()) else 1.,
                            device=loss.device)
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return flag.item() == 0

    def _bad_terms(self) -> List[str]:
        terms = []
        for name, value in (self._last_losses or {}).items():
            values = value if isinstance(value, (list, tuple)) else [value]
            for v in values:
                if torch.is_tensor(v) and not bool(torch.isfinite(v.detach()).all()):
                    shown = v.detach().float().mean().item() if v.numel() else math.nan
                    terms.append(f'{name}={shown}')
                    break
        return terms

    def _on_non_finite(self, runner, model, optim_wrapper) -> None:
        terms = ', '.join(self._bad_terms()) or 'the summed loss'
        where = f'iteration {runner.iter + 1} (epoch {runner.epoch + 1})'
        if self.action == 'raise':
            raise NonFiniteLossError(
                f'non-finite loss at {where}: {terms}. Nothing was updated with it; the last '
                f'checkpoint in {runner.work_dir} is intact. Lower the learning rate or that '
                f'loss weight, check the data of this batch, or add '
                f"dict(type='NonFiniteLossHook', action='skip') to custom_hooks to skip such "
                f'steps.')
        self.skipped_in_a_row += 1
        self.skipped_total += 1
        runner.logger.warning(f'NonFiniteLossHook: skipped the update at {where}: {terms} '
                              f'({self.skipped_in_a_row} in a row, {self.skipped_total} in '
                              f'total)')
        if dist.is_available() and dist.is_initialized():
            # keep DistributedDataParallel's gradient reduction in step: a zero backward
            params = [p for p in model.parameters() if p.requires_grad]
            if params:
                optim_wrapper.backward(sum(p.reshape(-1)[0] * 0. for p in params))
        optim_wrapper.zero_grad()
        if self.skipped_in_a_row >= self.max_skips:
            raise NonFiniteLossError(
                f'{self.skipped_in_a_row} consecutive training steps had non-finite losses '
                f'(last at {where}: {terms}); stopping. Lower the learning rate or the loss '
                f'weights, or check the data.')
