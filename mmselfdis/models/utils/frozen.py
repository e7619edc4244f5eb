"""Apply a module with its parameters detached and/or its buffers left untouched."""
from typing import Any, Dict, Iterable, Optional, Sequence

import torch
from torch import nn
from torch.func import functional_call

__all__ = ['frozen_call']


class _MethodCall(nn.Module):
    """Adapter so :func:`torch.func.functional_call` can run any method of a module."""

    def __init__(self, module: nn.Module, method: str) -> None:
        super().__init__()
        self.module = module
        self.method = method

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return getattr(self.module, self.method)(*args, **kwargs)


def _selected(named: Iterable, prefixes: Optional[Sequence[str]]) -> Iterable:
    for name, tensor in named:
        if prefixes is None or any(name == p or name.startswith(p + '.') for p in prefixes):
            yield name, tensor


def frozen_call(module: nn.Module,
                *args: Any,
                method: str = 'forward',
                detach_params: bool = True,
                keep_buffers: bool = True,
                prefixes: Optional[Sequence[str]] = None,
                **kwargs: Any) -> Any:
    """Run ``module.<method>(*args, **kwargs)`` as a frozen copy of ``module``.

    No copy is made: :func:`torch.func.functional_call` swaps the module's
    tensors for the duration of the call.

    - ``detach_params``: every parameter is replaced by ``p.detach()`` (a view
      sharing storage). Gradients flow through the module into its inputs,
      never into its weights (paper §3.5: the decoders "do not accumulate
      gradients"; DESIGN §2: the generator's adversarial loss through a frozen
      discriminator).
    - ``keep_buffers``: every buffer is replaced by a clone, so BatchNorm's
      running statistics are not updated by this call (e.g. by mixed images
      early in training). Buffers are per-channel vectors; the clones are
      negligible next to the activations.

    Args:
        module: The module to run.
        *args: Positional arguments of the method.
        method: Name of the method to call (``'forward'``, ``'loss'``,
            ``'extract_feat'``, ...).
        detach_params: Detach the parameters.
        keep_buffers: Leave the buffers untouched.
        prefixes: If given, only the parameters/buffers under these submodule
            names (e.g. ``('backbone', 'neck')``) are swapped.
        **kwargs: Keyword arguments of the method.

    Returns:
        Whatever the method returns.
    """
    tensors: Dict[str, torch.Tensor] = {}
    if detach_params:
        tensors.update((n, p.detach()) for n, p in _selected(module.named_parameters(), prefixes))
    if keep_buffers:
        tensors.update((n, b.clone()) for n, b in _selected(module.named_buffers(), prefixes))
    if not tensors:
        return getattr(module, method)(*args, **kwargs)
    if method == 'forward':
        return functional_call(module, tensors, args, kwargs)
    wrapper = _MethodCall(module, method)
    tensors = {f'module.{n}': t for n, t in tensors.items()}
    return functional_call(wrapper, tensors, args, kwargs)
