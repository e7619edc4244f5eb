"""The paper's UNet-style encoder without skip connections (§4.2)."""
from typing import Sequence

from mmcv.cnn import build_norm_layer
from torch import Tensor, nn

from mmpose.models.backbones.base_backbone import BaseBackbone
from mmpose.registry import MODELS
from mmpose.utils.typing import OptConfigType, OptMultiConfig

__all__ = ['UNetEncoder']


@MODELS.register_module()
class UNetEncoder(BaseBackbone):
    """Contracting half of a UNet, without skip connections (paper §3.1, §4.2).

    ``depth`` blocks, each ``num_convs`` × (3×3 conv + ReLU) followed by a 2×2
    max-pool with stride 2; channels double per block. Skip connections are
    left out on purpose: they would let the decoders bypass the latent pose
    feature (§3.1). Pair it with MMPose's ``HeatmapHead`` using 2×2 deconvs
    (``deconv_kernel_sizes=(2, 2, 2, 2)``) as the paper's pose decoder ``D_p``,
    and share the first ``depth - 1`` blocks with the appearance encoder by
    ``selfdis.appearance_source='backbone.stages.2'`` (for ``depth=4``).

    Args:
        in_channels: Image channels (1 for the paper's monochrome crops).
        base_channels: Channels of the first block.
        depth: Number of blocks (= down-sampling steps).
        num_convs: 3×3 convolutions per block.
        norm_cfg: Optional normalisation after each convolution (the paper
            uses none).
        out_indices: Blocks whose outputs are returned.
        init_cfg: Initialisation config.

    Note:
        - input: ``(N, in_channels, H, W)``
        - output of block ``i``: ``(N, base_channels * 2**i, H / 2**(i+1), W / 2**(i+1))``
    """

    def __init__(self,
                 in_channels: int = 1,
                 base_channels: int = 64,
                 depth: int = 4,
                 num_convs: int = 2,
                 norm_cfg: OptConfigType = None,
                 out_indices: Sequence[int] = (3, ),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if depth < 1:
            raise ValueError(f'depth must be >= 1, got {depth}')
        out_indices = tuple(i % depth for i in out_indices)
        if not out_indices:
            raise ValueError('out_indices must name at least one block')
        self.in_channels = in_channels
        self.depth = depth
        self.out_indices = out_indices
        stages = []
        channels = in_channels
        for i in range(depth):
            width = base_channels * 2**i
            layers = []
            for _ in range(num_convs):
                layers.append(nn.Conv2d(channels, width, 3, padding=1, bias=norm_cfg is None))
                if norm_cfg is not None:
                    layers.append(build_norm_layer(norm_cfg, width)[1])
                layers.append(nn.ReLU(inplace=True))
                channels = width
            layers.append(nn.MaxPool2d(2, 2))
            stages.append(nn.Sequential(*layers))
        self.stages = nn.ModuleList(stages)
        self.out_channels = [base_channels * 2**i for i in range(depth)]

    def forward(self, x: Tensor) -> tuple:
        """Encode the image.

        Args:
            x: Normalised images.

        Returns:
            tuple[Tensor]: The outputs of the blocks in ``out_indices``.

        Note:
            - x: ``(N, C, H, W)``, H and W divisible by ``2**depth``
        """
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
