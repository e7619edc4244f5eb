"""Image decoder ``D_I`` (paper §3.2, §4.2)."""
from mmcv.cnn import ConvModule, build_activation_layer, build_norm_layer
from torch import Tensor, nn

from mmpose.registry import MODELS
from mmpose.utils.typing import ConfigType, OptConfigType
from ._init import accept_sequential_layout, reset_to_torch_defaults
from .resize_conv import ResizeConv2d

__all__ = ['ImageDecoder']


@MODELS.register_module()
class ImageDecoder(nn.Module):
    """Decode the concatenated factors ``[p, a]`` back into an image.

    A 1×1 convolution fuses the factors; each of the ``num_upsamples`` blocks is
    a nearest-neighbour ×2 up-sampling followed by ``num_convs`` × (3×3 conv,
    norm, activation), which avoids the checkerboard artefacts of transposed
    convolutions (paper §4.2). In the last block the 3×3 convolution is the
    output convolution itself, which predicts the image in the data
    preprocessor's normalised space (no output activation), so no feature map
    is stored at full resolution. Each up-sampling + 3×3 convolution is a
    :class:`ResizeConv2d`: the same function computed at the low resolution.
    There are no skip connections: they would let the image bypass the
    factors.

    Args:
        in_channels: Channels of ``[p, a]`` (``C_p + C_a``).
        out_channels: Image channels (1 for monochrome, 3 for colour).
        num_upsamples: Number of ×2 up-sampling blocks (``log2`` of the pose
            feature's stride).
        base_channels: Channels of the block at half the output resolution
            (the input of the output convolution); doubled per block towards
            the low resolution end.
        max_channels: Upper bound of the block channels.
        num_convs: 3×3 convolutions per block.
        norm_cfg: mmcv normalisation config (``None`` for none).
        act_cfg: mmcv activation config.

    Note:
        - input: ``(N, C_p + C_a, h, w)``
        - output: ``(N, out_channels, h * 2**num_upsamples, w * 2**num_upsamples)``
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 num_upsamples: int,
                 base_channels: int = 32,
                 max_channels: int = 256,
                 num_convs: int = 1,
                 norm_cfg: OptConfigType = dict(type='BN'),
                 act_cfg: ConfigType = dict(type='ReLU')) -> None:
        super().__init__()
        if num_upsamples < 0:
            raise ValueError(f'num_upsamples must be >= 0, got {num_upsamples}')
        if num_convs < 1:
            raise ValueError(f'num_convs must be >= 1, got {num_convs}')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_upsamples = num_upsamples

        def width(level: int) -> int:
            return min(base_channels * 2**level, max_channels)

        # width(j): channels at 2**(j+1) times below the output resolution
        channels = width(max(num_upsamples - 1, 0))
        self.stem = ConvModule(in_channels, channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)
        blocks = []
        for i in range(num_upsamples - 1):  # the last up-sampling is out_conv's
            out = width(num_upsamples - 2 - i)
            layers = [ResizeConv2d(channels, out, bias=norm_cfg is None)]
            if norm_cfg is not None:
                layers.append(build_norm_layer(norm_cfg, out)[1])
            layers.append(build_activation_layer(act_cfg))
            for _ in range(num_convs - 1):
                layers.append(ConvModule(out, out, 3, padding=1, norm_cfg=norm_cfg,
                                         act_cfg=act_cfg))
            blocks.append(nn.Sequential(*layers))
            channels = out
        self.blocks = nn.Sequential(*blocks)
        if num_upsamples:
            self.out_conv = ResizeConv2d(channels, out_channels)
        else:
            self.out_conv = nn.Conv2d(channels, out_channels, 3, padding=1)
        reset_to_torch_defaults(self)
        accept_sequential_layout(self)

    def forward(self, x: Tensor) -> Tensor:
        """Decode ``[p, a]`` into an image in normalised space.

        Args:
            x: The concatenated pose and appearance factors.

        Returns:
            The decoded image.

        Note:
            - x: ``(N, C_p + C_a, h, w)``
            - return: ``(N, C_img, h * 2**k, w * 2**k)`` with ``k = num_upsamples``
        """
        return self.out_conv(self.blocks(self.stem(x)))
