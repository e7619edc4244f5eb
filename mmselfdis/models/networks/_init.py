"""Networks assembled from mmcv blocks: PyTorch's default initialisation, earlier checkpoints."""
from torch import nn

__all__ = ['reset_to_torch_defaults', 'accept_sequential_layout']


def reset_to_torch_defaults(module: nn.Module) -> None:
    """Give every layer of ``module`` PyTorch's own initialisation.

    mmcv's ``ConvModule`` re-initialises its convolution (Kaiming normal,
    fan-out) and normalisation when it is built; the sub-networks of the
    branch keep the initialisation they had before they were assembled from
    mmcv blocks (``reset_parameters`` of every layer), so a config trains as
    it did.

    Args:
        module: The network to reset, in place.
    """
    for m in module.modules():
        if m is not module and hasattr(m, 'reset_parameters'):
            m.reset_parameters()


def accept_sequential_layout(module: nn.Module) -> None:
    """Let ``module`` load checkpoints written before it was assembled from mmcv blocks.

    Earlier versions built the same layers, in the same order, as plain
    ``nn.Sequential`` (``blocks.0.0.0.weight`` where a ``ConvModule`` now has
    ``blocks.0.0.conv.weight``). When the keys under the module's prefix do
    not match but are as many tensors of the same shapes in the same order,
    they are renamed to the current names; anything else is left for the
    usual missing/unexpected-key errors.

    Args:
        module: The network (its own keys define the current layout).
    """
    module.register_load_state_dict_pre_hook(_rename_positionally)


def _rename_positionally(module: nn.Module, state_dict, prefix: str, *args) -> None:
    own = module.state_dict()
    given = [k for k in state_dict if k.startswith(prefix)]
    wanted = [prefix + k for k in own]
    if not given or set(given) == set(wanted) or len(given) != len(wanted):
        return
    if any(tuple(state_dict[g].shape) != tuple(t.shape) for g, t in zip(given, own.values())):
        return
    values = [state_dict.pop(g) for g in given]
    for key, value in zip(wanted, values):
        state_dict[key] = value
