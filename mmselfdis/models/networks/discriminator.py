"""PatchGAN discriminator ``D`` (paper §3.2, eq. 3)."""
from typing import List, Tuple, Union

from mmcv.cnn import ConvModule
from torch import Tensor, nn

from mmpose.registry import MODELS
from mmpose.utils.typing import OptConfigType
from ._init import accept_sequential_layout, reset_to_torch_defaults

__all__ = ['PatchDiscriminator']


@MODELS.register_module()
class PatchDiscriminator(nn.Module):
    """PatchGAN discriminator (pix2pix): one logit per overlapping patch.

    ``num_layers`` 4×4 stride-2 convolutions (LeakyReLU 0.2, normalisation from
    the second one on), one 4×4 stride-1 convolution, and a 4×4 stride-1
    convolution to one channel of logits, each an mmcv ``ConvModule``. Instance
    normalisation (the default) keeps every sample independent of the rest of
    the batch, so real and fake images can share one forward call.

    Args:
        in_channels: Image channels (plus the channels of a condition that is
            concatenated to the image, e.g. pose heatmaps).
        base_channels: Channels of the first convolution; doubled per layer.
        num_layers: Number of stride-2 convolutions.
        max_channels: Upper bound of the channels.
        norm_cfg: mmcv normalisation config (``None`` for none).

    Note:
        - input: ``(N, in_channels, H, W)`` with ``H, W >= min_input_size``
        - output: ``(N, 1, H / 2**num_layers - 2, W / 2**num_layers - 2)`` logits
    """

    def __init__(self,
                 in_channels: int,
                 base_channels: int = 64,
                 num_layers: int = 3,
                 max_channels: int = 256,
                 norm_cfg: OptConfigType = dict(type='IN')) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f'num_layers must be >= 1, got {num_layers}')
        self.in_channels = in_channels
        self.num_layers = num_layers
        act_cfg = dict(type='LeakyReLU', negative_slope=0.2)

        def block(cin: int, cout: int, stride: int, with_norm: bool) -> ConvModule:
            return ConvModule(cin, cout, 4, stride, 1, norm_cfg=norm_cfg if with_norm else None,
                              act_cfg=act_cfg)

        layers = [block(in_channels, base_channels, 2, with_norm=False)]
        channels = base_channels
        for i in range(1, num_layers):
            out = min(base_channels * 2**i, max_channels)
            layers.append(block(channels, out, 2, with_norm=True))
            channels = out
        out = min(base_channels * 2**num_layers, max_channels)
        layers.append(block(channels, out, 1, with_norm=True))
        layers.append(nn.Conv2d(out, 1, 4, 1, 1))
        self.model = nn.Sequential(*layers)
        reset_to_torch_defaults(self)
        accept_sequential_layout(self)

    @property
    def min_input_size(self) -> int:
        """The smallest image side the discriminator accepts (2×2 patches of logits)."""
        return 2**self.num_layers * 4

    def forward(self, x: Tensor, return_features: bool = False
                ) -> Union[Tensor, Tuple[Tensor, List[Tensor]]]:
        """Score every patch of ``x`` (logits; real > fake).

        Args:
            x: Images in normalised space (with their condition concatenated,
                if the discriminator was built for one).
            return_features: Also return the output of every hidden layer
                (for feature matching).

        Returns:
            Patch logits, or ``(logits, features)``.

        Note:
            - x: ``(N, C, H, W)``
            - return: ``(N, 1, H / 2**L - 2, W / 2**L - 2)`` with ``L = num_layers``
        """
        if not return_features:
            return self.model(x)
        features = []
        for layer in self.model[:-1]:
            x = layer(x)
            features.append(x)
        return self.model[-1](x), features
