"""The former NaN/Inf guard hook: now an error that names its replacement."""
from mmengine.hooks import Hook
from mmpose.registry import HOOKS

from ...utils import ConfigError

__all__ = ['NonFiniteLossHook']


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Replaced by :class:`~mmselfdis.engine.NonFiniteLossOptimWrapper`.

    The hook rebound methods of the model and the optim wrapper at run time;
    the optim wrapper does the same check where the update happens. A config
    that still names the hook gets an error that says what to write instead.
    """

    def __init__(self, action: str = 'raise', max_skips: int = 10) -> None:
        args = '' if (action, max_skips) == ('raise', 10) else \
            f", action={action!r}, max_skips={max_skips!r}"
        raise ConfigError(
            f"NonFiniteLossHook was replaced by an optim wrapper: remove "
            f"dict(type='NonFiniteLossHook') from custom_hooks and set "
            f"optim_wrapper = dict(type='NonFiniteLossOptimWrapper'{args}, optimizer=...) "
            f"(same checks: stop with the loss name before any update, or skip the step).")
