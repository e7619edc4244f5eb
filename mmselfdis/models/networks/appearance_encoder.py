"""Appearance encoder ``E_I`` (paper §3.2, Fig. 3)."""
from typing import Optional

import torch.nn.functional as F
from mmcv.cnn import ConvModule
from torch import Tensor, nn

from mmpose.registry import MODELS
from mmpose.utils.typing import ConfigType, OptConfigType
from ._init import accept_sequential_layout, reset_to_torch_defaults

__all__ = ['AppearanceEncoder']


@MODELS.register_module()
class AppearanceEncoder(nn.Module):
    """Encode an image or a shared early feature into the appearance factor ``a``.

    Each block is ``num_convs`` × mmcv ``ConvModule`` (3×3 conv, norm, activation) followed by a
    2×2 max-pool with stride 2, the paper's UNet encoder block (§4.2). With
    ``num_downsamples=0`` a single block without pooling is used. A 1×1
    convolution projects the result to ``out_channels``.

    Args:
        in_channels: Channels of the input (the image or the shared feature).
        out_channels: Channels of the appearance factor ``a``.
        num_downsamples: Number of ×2 down-sampling blocks; the input's spatial
            size divided by ``2 ** num_downsamples`` must equal the pose
            feature's.
        base_channels: Channels of the first block; doubled per block.
        max_channels: Upper bound of the block channels.
        num_convs: 3×3 convolutions per block.
        norm_cfg: mmcv normalisation config (``dict(type='BN')``, ``'IN'``,
            ``'GN'``, ...; ``None`` for none).
        act_cfg: mmcv activation config.
        pool_grid: ``None`` (the paper): ``a`` is spatial, which leaves room to
            carry the pose inside ``a``. ``k``: average ``a`` over a ``k`` ×
            ``k`` grid of cells and repeat each cell's mean over the cell;
            ``1`` is a global code, which can only hold what is the same
            everywhere in the crop (lighting, exposure, texture and background
            statistics), so the decoder has to take the layout from the pose;
            a coarse grid can also hold where the light or the background
            changes, not where the fingers are.
        grid_upsample: How the ``pool_grid`` cell means are spread over the
            code: ``'nearest'`` (each cell's mean repeated, with steps at the
            cell borders) or ``'bilinear'`` (a smooth field through the cell
            centres: light changes without edges).

    Note:
        - input: ``(N, in_channels, H, W)``
        - output: ``(N, out_channels, H / 2**num_downsamples, W / 2**num_downsamples)``
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 num_downsamples: int,
                 base_channels: int = 64,
                 max_channels: int = 256,
                 num_convs: int = 2,
                 norm_cfg: OptConfigType = dict(type='BN'),
                 act_cfg: ConfigType = dict(type='ReLU'),
                 pool_grid: Optional[int] = None,
                 grid_upsample: str = 'nearest') -> None:
        super().__init__()
        if grid_upsample not in ('nearest', 'bilinear'):
            raise ValueError(f"grid_upsample must be 'nearest' or 'bilinear', got "
                             f"{grid_upsample!r}")
        self.grid_upsample = grid_upsample
        if num_downsamples < 0:
            raise ValueError(f'num_downsamples must be >= 0, got {num_downsamples}')
        if num_convs < 1:
            raise ValueError(f'num_convs must be >= 1, got {num_convs}')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_downsamples = num_downsamples
        if pool_grid is not None and (isinstance(pool_grid, bool) or int(pool_grid) != pool_grid
                                      or pool_grid < 1):
            raise ValueError(f'pool_grid must be a positive integer (cells per side), got '
                             f'{pool_grid!r}')
        self.pool_grid = pool_grid  # None: the paper's spatial code
        blocks = []
        channels = in_channels
        for i in range(max(num_downsamples, 1)):
            width = min(base_channels * 2**i, max_channels)
            layers = []
            for _ in range(num_convs):
                layers.append(ConvModule(channels, width, 3, padding=1, norm_cfg=norm_cfg,
                                         act_cfg=act_cfg))
                channels = width
            if i < num_downsamples:
                layers.append(nn.MaxPool2d(2, 2))
            blocks.append(nn.Sequential(*layers))
        self.blocks = nn.Sequential(*blocks)
        self.proj = nn.Conv2d(channels, out_channels, 1)
        reset_to_torch_defaults(self)
        accept_sequential_layout(self)

    def forward(self, x: Tensor) -> Tensor:
        """Encode ``x`` into the appearance factor.

        Args:
            x: Image or shared feature.

        Returns:
            The appearance factor ``a``.

        Note:
            - x: ``(N, C_in, H, W)``
            - return: ``(N, C_a, H / 2**k, W / 2**k)`` with ``k = num_downsamples``
        """
        a = self.proj(self.blocks(x))
        if self.pool_grid == 1:
            a = a.mean(dim=(2, 3), keepdim=True).expand_as(a)
        elif self.pool_grid is not None:
            size = a.shape[2:]
            if min(size) < self.pool_grid:
                raise ValueError(f'pool_grid={self.pool_grid} needs a code of at least that '
                                 f'many positions per side; a is {tuple(size)}: use a smaller '
                                 f'pool_grid')
            cells = F.adaptive_avg_pool2d(a, self.pool_grid)
            a = F.interpolate(cells, size=size, mode='nearest') \
                if self.grid_upsample == 'nearest' else \
                F.interpolate(cells, size=size, mode='bilinear', align_corners=False)
        return a
