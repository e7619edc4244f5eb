"""Image decoder conditioned on pose maps at every scale (SPADE) and an appearance code (AdaIN)."""
from typing import Callable, Dict, Optional, Sequence

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule, build_norm_layer
from torch import Tensor, nn

from mmpose.registry import MODELS
from mmpose.utils.typing import ConfigType
from .pose_maps import LimbMaps
from .resize_conv import ResizeConv2d

__all__ = ['PoseAppearanceNorm', 'PoseModulatedDecoder']


def _resize(x: Tensor, size) -> Tensor:
    """Pose maps at ``size``: area-averaged when shrinking (no peak falls between the
    samples), bilinear when growing."""
    size = tuple(size)
    if tuple(x.shape[-2:]) == size:
        return x
    if x.shape[-2] >= size[0] and x.shape[-1] >= size[1]:
        return F.adaptive_avg_pool2d(x, size)
    return F.interpolate(x, size=size, mode='bilinear', align_corners=False)


def _memory_format(weight: Tensor) -> torch.memory_format:
    """``torch.channels_last`` for a convolution weight stored so, else contiguous."""
    if weight.dim() == 4 and not weight.is_contiguous() and \
            weight.is_contiguous(memory_format=torch.channels_last):
        return torch.channels_last
    return torch.contiguous_format


class PoseAppearanceNorm(nn.Module):
    """Normalise a feature map, then let the pose and the appearance set its statistics.

    ``y = norm(x) * (1 + γ_p(P)) * (1 + γ_a(a)) + β_p(P) + β_a(a)``: ``norm``
    has no affine parameters; ``γ_p, β_p`` are computed per pixel from the pose
    maps ``P`` by a small convolutional net (SPADE, Park et al. 2019), so the
    layout of the hand enters every scale of the decoder (a 3×3 convolution
    and ReLU, then a 1×1 convolution to ``γ_p, β_p``); ``γ_a, β_a`` by a
    1×1 convolution of the appearance code ``a`` (AdaIN for a global code,
    Huang & Belongie 2017; MUNIT), so the appearance sets the per-channel
    statistics (per cell of a coarse grid code).

    Args:
        channels: Channels of the normalised feature.
        pose_channels: Channels of the pose maps (keypoints).
        app_channels: Channels of the appearance code.
        hidden_channels: Width of the pose net.
        norm_cfg: mmcv normalisation config of ``norm`` (its ``affine`` is
            switched off).

    Note:
        - x: ``(N, channels, H, W)``; pose: ``(N, pose_channels, H, W)``;
          app: ``(N, app_channels, H, W)``
        - return: ``(N, channels, H, W)``
    """

    def __init__(self, channels: int, pose_channels: int, app_channels: int,
                 hidden_channels: int = 16, norm_cfg: ConfigType = dict(type='IN')) -> None:
        super().__init__()
        norm_cfg = dict(norm_cfg)
        norm_cfg['affine'] = False
        self.norm = build_norm_layer(norm_cfg, channels)[1]
        self.pose_net = nn.Sequential(
            ConvModule(pose_channels, hidden_channels, 3, padding=1, norm_cfg=None,
                       act_cfg=dict(type='ReLU')),
            nn.Conv2d(hidden_channels, 2 * channels, 1))
        self.app_affine = nn.Conv2d(app_channels, 2 * channels, 1)
        for m in (self.pose_net[-1], self.app_affine):  # start as the plain normalisation
            nn.init.zeros_(m.weight)
            nn.init.zeros_(m.bias)

    def forward(self, x: Tensor, pose: Tensor, app: Tensor, app_resize: str = 'nearest') -> Tensor:
        """Modulate ``x`` (see the class docstring).

        ``app`` may be smaller than ``x``: ``γ_a, β_a`` are then computed at
        its size and resized to ``x``'s (``app_resize``: ``'nearest'`` or
        ``'bilinear'``), which equals resizing ``a`` first (a 1×1 convolution
        commutes with both) at a fraction of the cost.
        """
        gamma_p, beta_p = self.pose_net(pose).chunk(2, 1)
        app_params = self.app_affine(app)
        size = x.shape[-2:]
        if app_params.shape[-2:] != size:
            app_params = F.interpolate(app_params, size=size) if app_resize == 'nearest' \
                else _resize(app_params, size)
        gamma_a, beta_a = app_params.chunk(2, 1)
        return self.norm(x) * (1 + gamma_p) * (1 + gamma_a) + beta_p + beta_a


class _Block(nn.Module):
    """Nearest ×2 + 3×3 conv (or a 3×3 conv), modulation, activation."""

    def __init__(self, cin: int, cout: int, upsample: bool, pose_channels: int,
                 app_channels: int, hidden_channels: int, norm_cfg: ConfigType,
                 app_resize: str = 'nearest') -> None:
        super().__init__()
        self.app_resize = app_resize
        self.conv = ResizeConv2d(cin, cout, bias=False) if upsample else \
            nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.mod = PoseAppearanceNorm(cout, pose_channels, app_channels, hidden_channels,
                                      norm_cfg)
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x: Tensor, pose_at: Callable[[Sequence[int]], Tensor],
                app: Tensor) -> Tensor:
        x = self.conv(x)
        return self.act(self.mod(x, pose_at(x.shape[-2:]), app, self.app_resize))


@MODELS.register_module()
class PoseModulatedDecoder(nn.Module):
    """``D_I`` that draws the hand from pose maps and the look from an appearance code.

    Not the paper's decoder (which decodes the concatenation ``[p, a]``, see
    :class:`ImageDecoder`): the pose enters as what it is, the pose decoder's
    keypoint heatmaps ``D_p(p)`` (Jakab et al. 2018 condition a generator on
    heatmaps alone), resized to every scale and applied through
    :class:`PoseAppearanceNorm` (SPADE-style), and the appearance code ``a``
    (global or a coarse grid, :class:`AppearanceEncoder` ``pool_grid``)
    modulates the same layers (AdaIN-style). The stem sees the heatmaps and
    ``a`` (and, with ``pose_feature_channels > 0``, the pose feature ``p``).
    Each of the first ``num_upsamples - 1`` steps is a :class:`ResizeConv2d`
    (nearest ×2 + 3×3 conv) followed by ``num_convs - 1`` 3×3 convolutions,
    each modulated; as in :class:`ImageDecoder`, the last step is the output
    convolution itself (nearest ×2 + 3×3 conv to the image, normalised space,
    no activation), so no feature map is stored at full resolution. There are
    no skip connections.

    Args:
        pose_map_channels: Channels of the pose maps (number of keypoints).
        app_channels: Channels of ``a``.
        out_channels: Image channels.
        num_upsamples: ×2 steps from the size of ``p``/``a`` to the image.
        pose_feature_channels: Channels of ``p`` fed to the stem (``0``: the
            decoder sees the pose only as heatmaps).
        base_channels: Channels at half the output resolution; doubled per
            step towards the low resolution end.
        max_channels: Upper bound of the channels.
        num_convs: Modulated 3×3 convolutions per scale (the first one
            up-samples).
        hidden_channels: Width of the pose net of each modulation.
        norm_cfg: Parameter-free normalisation before each modulation
            (``dict(type='IN')``: per sample, as AdaIN needs).
        app_resize: How ``a`` is resized to each scale: ``'nearest'`` (blocks
            of the code's cells) or ``'bilinear'`` (smooth; heatmaps are
            always resized bilinearly).
        pose_encoding: What the modulations see of the pose: ``'heatmaps'``
            (the pose head's heatmaps resized to each scale) or ``'limbs'``
            (keypoints read from the heatmaps by soft-argmax, then limbs and
            keypoints drawn anew at each scale by :class:`LimbMaps`: sharp at
            every resolution, and the fingers drawn between the joints).
        limb_cfg: Keyword arguments of :class:`LimbMaps` (``limbs``,
            ``sigma``, ``beta``, ``min_sigma_px``) with ``'limbs'``.
        full_resolution: End with a modulated 3×3 block at the output
            resolution and a 3×3 convolution to the image, instead of the
            output convolution that up-samples (nearest ×2 + 3×3) straight to
            pixels: the pose reaches the last pixels (at the cost of one
            feature map at full resolution).
        context_channels: Channels of spatial context maps given to
            :meth:`forward` (``0``: none): resized to every scale and seen by
            every modulation beside the pose maps (``SelfDisHead``'s
            ``background=dict(context=True)`` gives the appearance image with
            the hole to paint blanked out, and the hole, so the decoder can
            carry the image's texture and light into the hole).

    Note:
        - pose_maps: ``(N, K, H_hm, W_hm)`` at any size (resized per scale)
        - app: ``(N, C_a, h, w)``; p: ``(N, C_p, h, w)``;
          context: ``(N, context_channels, H, W)`` at any size
        - output: ``(N, out_channels, h * 2**num_upsamples, w * 2**num_upsamples)``
    """

    def __init__(self,
                 pose_map_channels: int,
                 app_channels: int,
                 out_channels: int,
                 num_upsamples: int,
                 pose_feature_channels: int = 0,
                 base_channels: int = 16,
                 max_channels: int = 128,
                 num_convs: int = 1,
                 hidden_channels: int = 16,
                 norm_cfg: ConfigType = dict(type='IN'),
                 app_resize: str = 'nearest',
                 pose_encoding: str = 'heatmaps',
                 limb_cfg: Optional[dict] = None,
                 full_resolution: bool = False,
                 context_channels: int = 0) -> None:
        super().__init__()
        if app_resize not in ('nearest', 'bilinear'):
            raise ValueError(f"app_resize must be 'nearest' or 'bilinear', got {app_resize!r}")
        if pose_encoding not in ('heatmaps', 'limbs'):
            raise ValueError(f"pose_encoding must be 'heatmaps' or 'limbs', got "
                             f'{pose_encoding!r}')
        if limb_cfg and pose_encoding != 'limbs':
            raise ValueError("limb_cfg is used with pose_encoding='limbs' only")
        if num_upsamples < 0:
            raise ValueError(f'num_upsamples must be >= 0, got {num_upsamples}')
        if num_convs < 1:
            raise ValueError(f'num_convs must be >= 1, got {num_convs}')
        if context_channels < 0:
            raise ValueError(f'context_channels must be >= 0, got {context_channels}')
        self.context_channels = int(context_channels)
        self.pose_map_channels = pose_map_channels
        self.app_channels = app_channels
        self.pose_feature_channels = pose_feature_channels
        self.out_channels = out_channels
        self.num_upsamples = num_upsamples
        self.pose_encoding = pose_encoding
        self.full_resolution = bool(full_resolution)
        self.limb_maps = LimbMaps(pose_map_channels, **(limb_cfg or {})) \
            if pose_encoding == 'limbs' else None
        map_channels = self.limb_maps.out_channels if self.limb_maps else pose_map_channels
        map_channels += self.context_channels  # the modulations see [pose maps, context]

        def width(level: int) -> int:  # channels at 2**(level + 1) below the output resolution
            return min(base_channels * 2**level, max_channels)

        kw = dict(pose_channels=map_channels, app_channels=app_channels,
                  hidden_channels=hidden_channels, norm_cfg=norm_cfg, app_resize=app_resize)
        channels = width(max(num_upsamples - 1, 0))
        self.stem = _Block(map_channels + app_channels + pose_feature_channels, channels,
                           False, **kw)
        blocks = []
        # without full_resolution the last up-sampling is out_conv's
        num_blocks = num_upsamples if self.full_resolution else num_upsamples - 1
        for i in range(num_blocks):
            out = width(num_upsamples - 2 - i) if i < num_upsamples - 1 else \
                max(base_channels // 2, 8)
            blocks.append(_Block(channels, out, True, **kw))
            blocks += [_Block(out, out, False, **kw) for _ in range(num_convs - 1)]
            channels = out
        self.blocks = nn.ModuleList(blocks)
        self.out_conv = ResizeConv2d(channels, out_channels) \
            if num_upsamples and not self.full_resolution else \
            nn.Conv2d(channels, out_channels, 3, padding=1)

    def forward(self, pose_maps: Tensor, app: Tensor, p: Optional[Tensor] = None,
                context: Optional[Tensor] = None) -> Tensor:
        """Decode an image from pose maps and an appearance code.

        Args:
            pose_maps: Keypoint heatmaps (any spatial size).
            app: Appearance code at the size of ``p``.
            p: Pose feature (used when ``pose_feature_channels > 0``).
            context: Spatial context maps (``context_channels > 0`` only).

        Returns:
            The image in normalised space.
        """
        size = app.shape[-2:]
        cache: Dict[tuple, Tensor] = {}
        # the maps in the memory format of the convolutions that read them (channels-last
        # after ChannelsLastHook), made once per scale instead of converted by each reader
        fmt = _memory_format(self.stem.mod.pose_net[0].conv.weight)
        if self.limb_maps is not None:
            points, conf = self.limb_maps.keypoints(pose_maps)

            def draw(s):
                return self.limb_maps.draw(points, conf, s, fmt).to(app.dtype)
        else:
            def draw(s):
                return _resize(pose_maps, s).to(app.dtype).contiguous(memory_format=fmt)

        if (context is None) != (not self.context_channels) or \
                (context is not None and context.shape[1] != self.context_channels):
            raise ValueError(f'PoseModulatedDecoder was built for {self.context_channels} '
                             f'context channels, got '
                             f'{None if context is None else tuple(context.shape)}')

        def pose_at(s) -> Tensor:
            key = tuple(int(v) for v in s)
            if key not in cache:
                cache[key] = draw(key) if context is None else torch.cat(
                    [draw(key), _resize(context.to(app.dtype), key)], 1).contiguous(
                        memory_format=fmt)
            return cache[key]

        stem_in = [pose_at(size), app]
        if self.pose_feature_channels:
            if p is None or p.shape[1] != self.pose_feature_channels:
                raise ValueError(f'PoseModulatedDecoder was built for a pose feature of '
                                 f'{self.pose_feature_channels} channels, got '
                                 f'{None if p is None else tuple(p.shape)}')
            stem_in.append(p.to(app.dtype))
        x = self.stem(torch.cat(stem_in, 1), pose_at, app)
        for block in self.blocks:
            x = block(x, pose_at, app)
        return self.out_conv(x)
