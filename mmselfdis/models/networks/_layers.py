"""Small layer factories shared by the sub-networks."""
from typing import Callable, Optional, Type, Union

from torch import nn

__all__ = ['LayerSpec', 'resolve_norm', 'resolve_act', 'conv_norm_act']

LayerSpec = Union[str, Type[nn.Module], Callable[..., nn.Module], None]

_NORMS = {
    'bn': nn.BatchNorm2d,
    'batchnorm': nn.BatchNorm2d,
    'in': nn.InstanceNorm2d,
    'instancenorm': nn.InstanceNorm2d,
    'none': None,
}
_ACTS = {
    'relu': nn.ReLU,
    'leakyrelu': nn.LeakyReLU,
    'silu': nn.SiLU,
    'gelu': nn.GELU,
}


def resolve_norm(norm_layer: LayerSpec) -> Optional[Callable[..., nn.Module]]:
    """Turn ``'bn'``/``'in'``/``'none'``/``None`` or a class into a norm factory.

    Args:
        norm_layer: A name (case-insensitive) or a callable taking the number
            of channels.

    Returns:
        The factory, or ``None`` for no normalisation.
    """
    if norm_layer is None or callable(norm_layer):
        return norm_layer
    key = str(norm_layer).lower()
    if key not in _NORMS:
        raise ValueError(f'unknown norm_layer {norm_layer!r}; use one of {sorted(_NORMS)}, '
                         f'None, or a class such as torch.nn.BatchNorm2d')
    return _NORMS[key]


def resolve_act(act_layer: LayerSpec) -> Callable[..., nn.Module]:
    """Turn ``'relu'``/``'leakyrelu'``/``'silu'``/``'gelu'`` or a class into a factory.

    Args:
        act_layer: A name (case-insensitive) or a callable without arguments.

    Returns:
        The factory.
    """
    if callable(act_layer):
        return act_layer
    key = str(act_layer).lower()
    if key not in _ACTS:
        raise ValueError(f'unknown act_layer {act_layer!r}; use one of {sorted(_ACTS)} '
                         f'or a class such as torch.nn.ReLU')
    return _ACTS[key]


def conv_norm_act(in_channels: int, out_channels: int, kernel_size: int,
                  norm_layer: Optional[Callable[..., nn.Module]],
                  act_layer: Callable[..., nn.Module]) -> nn.Sequential:
    """``Conv2d`` (same padding, bias only without norm) + norm + activation."""
    layers = [nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2,
                        bias=norm_layer is None)]
    if norm_layer is not None:
        layers.append(norm_layer(out_channels))
    layers.append(act_layer())
    return nn.Sequential(*layers)
