"""Capture an intermediate output of a module with a forward hook."""
from contextlib import contextmanager
from typing import Any, Iterator, Optional

from torch import Tensor, nn

__all__ = ['FeatureTap']


class FeatureTap:
    """Keeps the latest output of a module while capturing is on.

    Capturing is on while the module is in training mode (the training step
    consumes the feature) or inside :meth:`capturing` (encoding helpers). In
    evaluation mode nothing is stored, so prediction holds no extra memory.

    Args:
        index: If the module returns a list/tuple, the element to keep.
    """

    def __init__(self, index: int = 0) -> None:
        self.index = index
        self.value: Optional[Tensor] = None
        self.forced = 0
        self.handle = None

    def attach(self, module: nn.Module) -> None:
        """Register the forward hook on ``module`` (once)."""
        if self.handle is not None:
            self.handle.remove()
        self.handle = module.register_forward_hook(self._hook)

    def _hook(self, module: nn.Module, inputs: Any, output: Any) -> None:
        if module.training or self.forced:
            if isinstance(output, (list, tuple)):
                output = output[self.index]
            self.value = output

    @contextmanager
    def capturing(self) -> Iterator['FeatureTap']:
        """Capture also in evaluation mode within the context."""
        self.forced += 1
        try:
            yield self
        finally:
            self.forced -= 1

    def pop(self) -> Optional[Tensor]:
        """Return the captured feature and forget it."""
        value, self.value = self.value, None
        return value
