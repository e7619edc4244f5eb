"""The auxiliary self-disentanglement branch (paper §3, Fig. 2)."""
from typing import Dict, Optional, Sequence, Tuple

import torch
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmpose.registry import MODELS
from mmpose.utils.typing import Features, OptConfigType, OptMultiConfig, SampleList
from ..data_preprocessors.image_space import ImageSpace
from ..losses._weights import check_loss_weight
from ..networks import PoseModulatedDecoder, keypoint_heatmaps
from ..utils import FeatureTap, frozen_call
from . import probe
from .background import BackgroundPainter
from .selfdis_losses import SelfDisLosses
from ..utils.grad_balance import GradBalance

__all__ = ['SelfDisHead']

_DEFAULT_NETWORKS = dict(encoder='AppearanceEncoder', decoder='ImageDecoder',
                         discriminator='PatchDiscriminator')
GAN_CONDITIONS = (None, 'pose')
POSE_MAPS_FROM = ('prediction', 'labels')
_DEFAULT_GRAD_BALANCE = dict(mode='norm', max_ratio=0.25)


@MODELS.register_module()
class SelfDisHead(SelfDisLosses, BaseModule):
    """Appearance encoder, image decoder, discriminator and the losses of eq. (2)–(7).

    The pose side of the paper (``E_p`` = the backbone (+ neck), ``D_p`` = the
    head) stays the user's MMPose model; this module adds everything else and
    is called once from :meth:`SelfDisPoseEstimator.loss`. It never owns the
    pose estimator: the estimator passes itself to :meth:`loss`, and
    :meth:`bind` (called by the estimator's constructor) sizes the
    sub-networks by probing the backbone once (:mod:`.probe`) and builds them
    from their configs. Each loss is a small registered module
    (:mod:`mmselfdis.models.losses`); the mapping between image space and the
    model's space is :class:`~mmselfdis.models.data_preprocessors.ImageSpace`.

    The losses and the order of one training step (Fig. 2) are in
    :class:`~mmselfdis.models.heads.selfdis_losses.SelfDisLosses`; this class
    holds the options, builds the networks and encodes, decodes and mixes.

    With a :class:`~mmselfdis.models.networks.PoseModulatedDecoder` (not the
    paper's), the pose enters ``D_I`` as the pose decoder's heatmaps
    ``D_p(p)`` besides (or instead of) ``p``: wherever the steps above decode
    ``p``, they decode ``(p, D_p(p))`` (``D_p`` frozen, and fed ``sg p`` with
    ``detach_pose_feature``).

    Args:
        appearance_source: Where ``E_I`` reads from: ``'image'`` or the path of
            a module inside the estimator (``'backbone.layer2'``, a stage of
            HRNet, ...), whose output is captured with a forward hook (the
            layers up to it are shared by ``E_p`` and ``E_I``, paper §4.2).
        appearance_source_index: Element to take when that module returns a
            list/tuple (HRNet stages return one tensor per branch).
        pose_feature_index: Which of the backbone (+ neck) outputs is ``p``.
        appearance_channels: Channels of ``a``.
        input_size: Training crop size ``(w, h)``; defaults to the head's codec
            ``input_size``.
        mode: ``'cycle'`` (self-disentanglement) or ``'paired'`` (the paired
            data baseline [9]: swap ``p`` inside pairs of the same pose and
            reconstruct, no cycle).
        mix_ratio: Share of the batch that goes through mix and cycle (b–d);
            0 switches them off (the AutoEncoder of Table 2).
        detach_pose_feature: The image decoder sees ``p.detach()`` (Table 4
            "Pose Detach"): image losses do not train the pose path.
        detach_pose_estimator: The pose estimator (backbone, neck and the
            pose decoder ``D_p``) is applied to mixed images with detached
            parameters and the mix is built from ``p.detach()``: the cycle
            trains the generator only (§3.5, Table 4 "Pose Estimator
            Detach"). Off, the pose estimator also learns from the mixes.
        gan_on_mix: Judge the mixed images by the discriminator too (not only
            the reconstructions).
        gan_condition: ``None`` (the paper): the discriminator sees images
            only, so a mix that copies ``y`` is as real to it as ``y`` itself.
            ``'pose'``: it sees each image with the pose map it should show
            (the maximum over the keypoint heatmaps of ``x`` for ``x``, its
            reconstruction and its mixes), so an image whose hand is not where
            the map is can be told from a real one.
        pose_maps_from: Where the heatmaps that a pose-map decoder draws
            come from when an image is decoded or mixed: ``'prediction'``
            (default; ``D_p(p)``, the pose model's reading of the pose image)
            or ``'labels'`` (the pose image's own target heatmaps, so a mix
            shows exactly the keypoints it is labelled with, however well the
            pose model reads the image yet; mixing then needs the pose
            image's keypoints). The cycle always reads the mix with the pose
            model (``D_p*(p̂)``): that is what checks that the mix shows the
            pose.
        foreground_weight: ``W >= 0``: the reconstruction loss ``L_I`` counts
            the pixels of the hand ``1 + W`` times (a weighted mean): the
            pose maps of the image drawn at its size (the limbs of a
            ``pose_encoding='limbs'`` decoder, else the heatmaps' maximum) are
            the hand's soft mask. ``0`` (default): the plain mean, where the
            background's texture outweighs the hand (it covers most pixels).
        background: ``None`` (default: the decoder paints every pixel) or a
            dict of :class:`~mmselfdis.models.heads.background.BackgroundPainter`
            options (``radius``, ``arm_radius``, ``arm_length`` of the
            hand regions, ``context``, ``tones``, ``inpaint``; ``{}`` for the
            defaults):
            the decoder paints the hand over the appearance image itself. It
            outputs an extra opacity channel ``α``, and an image decoded with
            the appearance of ``y`` is ``α · D_I + (1 − α) · y`` where ``α``
            is forced to 1 in a hole cut out of ``y``: the hand regions of
            ``y`` and of the pose to draw (and, when an image reconstructs
            itself, of another image of the batch, so the decoder also learns
            to fill a hole where no hand is drawn). ``y``'s background and
            texture then reach the mix pixel for pixel, its hand does not.
            Needs a pose-map decoder; the holes come from the labels in
            training and from the pose model's reading of ``y`` at inference
            (or the keypoints given to :meth:`SelfDisPoseEstimator.mix`).
        appearance_turn: ``False`` (default, the paper) or ``True``: each
            reconstruction reads its appearance code from its appearance
            source turned by a random symmetry of the square other than the
            identity (a quarter or half turn or a flip; on non-square sources
            the half turn and the two flips), so the code it is decoded with
            does not lie where its hand lies: the decoder learns to paint the
            hand's look from a code read elsewhere, as it must in a mix (where
            ``y``'s hand is not where ``x``'s is). The mixes, the cycle and
            the dual terms use the code of the source as it is. One more
            ``E_I`` pass a step.
        encoder: Config of ``E_I``: ``type`` (default
            ``'AppearanceEncoder'``) and keyword arguments; ``in_channels``,
            ``out_channels`` and ``num_downsamples`` come from the probe, a
            missing ``base_channels`` from :func:`.probe.default_widths`.
        decoder: Config of ``D_I``: ``type`` ``'ImageDecoder'`` (default, the
            paper's: ``[p, a]`` concatenated) or ``'PoseModulatedDecoder'``
            (pose heatmaps at every scale, appearance by modulation), with
            keyword arguments; channels and ``num_upsamples`` come from the
            probe.
        use_gan: Build the discriminator and compute ``L_D``/``L_G``.
        discriminator: Config of ``D``: ``type`` (default
            ``'PatchDiscriminator'``) and keyword arguments.
        loss_img: ``L_I`` (``α1``), default ``ImageL1Loss(1.0)``.
        loss_img_ssim: ``None`` (default, the paper) or a loss config on the
            reconstructions and the inputs in image space, e.g.
            ``dict(type='ImageSSIMLoss', loss_weight=...)``: ``1 - SSIM``
            beside ``L_I``, weighted like it (``foreground_weight``).
        loss_d: ``L_D`` (``α2``), default ``GANLoss('lsgan', 0.5)``.
        loss_g: ``L_G`` (``α3``), default ``GANLoss('lsgan', 0.05)``.
        loss_cycle_img: ``L_cycle-img`` (``α4``), default ``ImageL1Loss(1.0)``.
        loss_dual_pose: ``L_dual-pose`` (``α5``), default ``FeatureL1Loss(0.1)``.
        loss_dual_img: ``L_dual-img`` (``α6``), default ``FeatureL1Loss(0.1)``.
        cycle_pose_weight: ``α7``, weight of ``L_cycle-pose`` when it is the
            head's own loss on ``D_p*(p̂(x))`` (``loss_cycle_pose=None``).
        cycle_pose_sigma: 0 (default, the paper) or a Gaussian standard
            deviation in pixels: the pose path of the cycle (``p̂``, hence
            ``L_cycle-pose`` and ``L_dual-pose``) reads each mix low-passed
            by it, the appearance path (``â``) reads the mix as it is (with a
            tapped appearance source the backbone runs once more, on the
            unfiltered mix). A pose carried by patterns finer than the blur
            (a lattice the frozen pose model reads, that no hand has) no
            longer counts; the pose must be in the hand's shape.
        loss_cycle_pose: ``None`` (default): ``L_cycle-pose`` is the pose
            head's own loss times ``cycle_pose_weight``. A loss config on
            ``(heatmaps, target heatmaps, keypoint weights)``, e.g.
            ``dict(type='KeypointL1Loss', use_target_weight=True, loss_weight=...)``: the L1 of the
            paper's eq. (6) on ``D_p*(p̂(x))`` against ``x``'s targets.
        loss_feat_match: ``None`` (default) or a loss config on
            (decoded, real) discriminator features, e.g.
            ``dict(type='FeatureMatchingLoss', loss_weight=...)``: matches the
            reconstructions' discriminator features to those of the inputs.
        loss_paired_img: Swap reconstruction of ``mode='paired'``, default
            ``ImageL1Loss(1.0)``.
        grad_balance: Keyword arguments of
            :class:`~mmselfdis.models.utils.GradBalance`, which limits the
            image branch's gradient on the layers shared with the pose
            estimator (up to ``appearance_source``); default
            ``dict(mode='norm', max_ratio=0.25)``: at the shared feature the
            branch's gradient is scaled to at most a quarter of the pose
            gradient's norm (Table 4 rows 2 and 3 over three seeds: a cap of 1
            cost 0.55 px of EPE, 0.25 less than the seed spread;
            docs/results.md).
            ``None``: the plain sum of the paper.
        init_cfg: Initialisation config.
    """

    MODES = ('cycle', 'paired')

    def __init__(self,
                 appearance_source: str = 'image',
                 appearance_source_index: int = 0,
                 pose_feature_index: int = -1,
                 appearance_channels: int = 64,
                 input_size: Optional[Sequence[int]] = None,
                 mode: str = 'cycle',
                 mix_ratio: float = 0.5,
                 detach_pose_feature: bool = True,
                 detach_pose_estimator: bool = True,
                 gan_on_mix: bool = True,
                 gan_condition: Optional[str] = None,
                 pose_maps_from: str = 'prediction',
                 foreground_weight: float = 0.0,
                 background: OptConfigType = None,
                 appearance_turn: bool = False,
                 encoder: OptConfigType = None,
                 decoder: OptConfigType = None,
                 use_gan: bool = True,
                 discriminator: OptConfigType = None,
                 loss_img: OptConfigType = None,
                 loss_img_ssim: OptConfigType = None,
                 loss_d: OptConfigType = None,
                 loss_g: OptConfigType = None,
                 loss_cycle_img: OptConfigType = None,
                 loss_dual_pose: OptConfigType = None,
                 loss_dual_img: OptConfigType = None,
                 cycle_pose_weight: float = 1.0,
                 cycle_pose_sigma: float = 0.0,
                 loss_cycle_pose: OptConfigType = None,
                 loss_feat_match: OptConfigType = None,
                 loss_paired_img: OptConfigType = None,
                 grad_balance: OptConfigType = _DEFAULT_GRAD_BALANCE,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if mode not in self.MODES:
            raise ValueError(f'selfdis.mode must be one of {self.MODES}, got {mode!r}')
        if isinstance(mix_ratio, bool) or not isinstance(mix_ratio, (int, float)) \
                or not 0.0 <= mix_ratio <= 1.0:
            raise ValueError(f'selfdis.mix_ratio must be a number in [0, 1] (share of the batch '
                             f'that is mixed; 0 turns mix and cycle off), got {mix_ratio!r}')
        if appearance_channels < 1:
            raise ValueError(f'selfdis.appearance_channels must be >= 1, got '
                             f'{appearance_channels}')
        if gan_condition not in GAN_CONDITIONS:
            raise ValueError(f'selfdis.gan_condition must be one of {GAN_CONDITIONS}, got '
                             f'{gan_condition!r}')
        self.appearance_source = appearance_source
        self.pose_feature_index = pose_feature_index
        self.appearance_channels = int(appearance_channels)
        self.input_size = tuple(input_size) if input_size is not None else None
        self.mode = mode
        self.mix_ratio = float(mix_ratio)
        self.detach_pose_feature = bool(detach_pose_feature)
        self.detach_pose_estimator = bool(detach_pose_estimator)
        self.gan_on_mix = bool(gan_on_mix)
        if gan_condition is not None and not use_gan:
            raise ValueError('selfdis.gan_condition needs the discriminator: set use_gan=True or '
                             'gan_condition=None')
        self.gan_condition = gan_condition
        if pose_maps_from not in POSE_MAPS_FROM:
            raise ValueError(f'selfdis.pose_maps_from must be one of {POSE_MAPS_FROM}, got '
                             f'{pose_maps_from!r}')
        self.pose_maps_from = pose_maps_from
        self.foreground_weight = check_loss_weight(foreground_weight,
                                                   'selfdis.foreground_weight')
        if not isinstance(appearance_turn, bool):
            raise ValueError(f'selfdis.appearance_turn must be True or False, got '
                             f'{appearance_turn!r}')
        self.appearance_turn = appearance_turn
        self.network_cfgs = dict(encoder=self._network_cfg('encoder', encoder),
                                 decoder=self._network_cfg('decoder', decoder),
                                 discriminator=self._network_cfg('discriminator', discriminator)
                                 if use_gan else None)
        self.cycle_pose_weight = check_loss_weight(cycle_pose_weight, 'selfdis.cycle_pose_weight')
        self.cycle_pose_sigma = float(cycle_pose_sigma)
        if not self.cycle_pose_sigma >= 0:
            raise ValueError(f'selfdis.cycle_pose_sigma must be >= 0 (pixels; 0 = off), got '
                             f'{cycle_pose_sigma!r}')

        self._build_losses(use_gan, loss_img=loss_img, loss_d=loss_d, loss_g=loss_g,
                           loss_cycle_img=loss_cycle_img, loss_dual_pose=loss_dual_pose,
                           loss_dual_img=loss_dual_img, loss_paired_img=loss_paired_img,
                           loss_cycle_pose=loss_cycle_pose, loss_feat_match=loss_feat_match,
                           loss_img_ssim=loss_img_ssim)

        if self.foreground_weight and not self.uses_pose_maps:
            raise ValueError('selfdis.foreground_weight finds the hand with the pose maps: use '
                             "decoder.type='PoseModulatedDecoder' (or gan_condition='pose')")
        if pose_maps_from == 'labels' and \
                self.network_cfgs['decoder']['type'] not in ('PoseModulatedDecoder',
                                                             PoseModulatedDecoder):
            raise ValueError("selfdis.pose_maps_from='labels' draws the pose image's keypoints "
                             "into a pose-map decoder: set selfdis.decoder.type="
                             "'PoseModulatedDecoder' (the paper's ImageDecoder decodes [p, a])")
        self.background = BackgroundPainter.from_cfg(background)
        if background is not None:
            if self.network_cfgs['decoder']['type'] not in ('PoseModulatedDecoder',
                                                            PoseModulatedDecoder):
                raise ValueError("selfdis.background cuts the hands out of the appearance image "
                                 "with the pose maps: set selfdis.decoder.type="
                                 "'PoseModulatedDecoder'")
            if mode != 'cycle':
                raise ValueError("selfdis.background is built for mode='cycle'")
        self._tap = FeatureTap(appearance_source_index)
        self.grad_balance = self._build_grad_balance(grad_balance, appearance_source_index)
        self._bound = False
        self.image_channels: Optional[int] = None

    @staticmethod
    def _network_cfg(role: str, cfg: OptConfigType) -> dict:
        cfg = dict(cfg or {})
        cfg.setdefault('type', _DEFAULT_NETWORKS[role])
        for key in ('in_channels', 'out_channels', 'num_upsamples', 'num_downsamples'):
            if key in cfg:
                raise ValueError(f'selfdis.{role}.{key} is set by the branch from the pose '
                                 f'estimator\'s shapes; remove it from the config')
        return cfg

    @property
    def uses_pose_maps(self) -> bool:
        """Whether the branch needs the pose decoder's heatmaps ``D_p(p)``."""
        return self.network_cfgs['decoder']['type'] in ('PoseModulatedDecoder',
                                                         PoseModulatedDecoder) \
            or self.gan_condition == 'pose'

    # ------------------------------------------------------------------ set-up
    def bind(self, estimator: nn.Module) -> None:
        """Hook the appearance source, probe the shapes and build the sub-networks.

        Called once by :class:`SelfDisPoseEstimator` after its backbone, neck
        and head exist.

        Args:
            estimator: The pose estimator this branch belongs to.
        """
        if self._bound:
            raise RuntimeError('SelfDisHead.bind() was already called')
        backbone = estimator.backbone
        in_conv_name, in_conv = probe.first_conv(backbone)
        channels = in_conv.in_channels
        probe.check_preprocessor_channels(estimator, channels, in_conv_name)
        self.image_channels = channels
        backbone.register_forward_pre_hook(self._check_input_channels)

        input_size = self.input_size
        if input_size is None:
            codec = getattr(getattr(estimator, 'head', None), 'decoder', None)
            input_size = getattr(codec, 'input_size', None)
            if input_size is None:
                raise ValueError('selfdis.input_size is needed (the training crop size (w, h)): '
                                 'the head has no codec with an input_size to take it from')
        if len(input_size) != 2:
            raise ValueError(f'selfdis.input_size must be (w, h), got {input_size!r}')
        self.input_size = (int(input_size[0]), int(input_size[1]))
        w, h = self.input_size

        if self.appearance_source != 'image':
            self._tap.attach(probe.resolve_source(estimator, self.appearance_source))
            if self.grad_balance is not None:  # after the tap: the tap keeps the unsplit output
                self.grad_balance.attach(probe.resolve_source(estimator, self.appearance_source))
        was_training = estimator.training
        estimator.eval()
        try:
            with torch.no_grad(), self._tap.capturing():
                x = torch.zeros(1, channels, h, w, device=in_conv.weight.device)
                feats = estimator.extract_feat(x)
                source = x if self.appearance_source == 'image' else self._tap.pop()
                maps = self._probe_pose_maps(estimator, feats)
        finally:
            estimator.train(was_training)
        if source is None:
            raise ValueError(f'selfdis.appearance_source={self.appearance_source!r} was not run '
                             f'by the backbone\'s forward; pick a module on its forward path')
        if not torch.is_tensor(source):
            raise ValueError(f'selfdis.appearance_source={self.appearance_source!r} returns a '
                             f'{type(source).__name__}; set appearance_source_index to pick '
                             f'one tensor')
        p = self._pose_feature(feats)
        k, j = probe.check_shapes(self.input_size, p, source, self.appearance_source)
        shapes = probe.BranchShapes(channels, p.shape[1], source.shape[1], k, j,
                                    None if maps is None else maps.shape[1])
        self._build_networks(shapes)
        if self.discriminator is not None and \
                min(h, w) < self.discriminator.min_input_size:
            raise ValueError(
                f'the discriminator with num_layers={self.discriminator.num_layers} needs '
                f'inputs of at least {self.discriminator.min_input_size} pixels per side, '
                f'got (w={w}, h={h}); lower selfdis.discriminator.num_layers')
        if self.uses_pose_maps:
            # the pose decoder D_p, used (frozen) to draw heatmaps of p; not a submodule
            object.__setattr__(self, '_pose_head', estimator.head)
        # the codec that turns keypoints into the heatmaps a pose-map decoder draws
        object.__setattr__(self, '_codec', getattr(estimator.head, 'decoder', None))
        if self.pose_maps_from == 'labels' and not hasattr(self._codec, 'encode'):
            raise ValueError("selfdis.pose_maps_from='labels' encodes keypoints with the pose "
                             "head's codec, but the head has none (head.decoder)")
        self.to(in_conv.weight.device)
        self._bound = True

    def _probe_pose_maps(self, estimator: nn.Module, feats: Features) -> Optional[Tensor]:
        if not self.uses_pose_maps:
            return None
        head = getattr(estimator, 'head', None)
        maps = head(feats) if head is not None else None
        if not torch.is_tensor(maps) or maps.dim() != 4:
            raise ValueError(
                f'selfdis.decoder.type=PoseModulatedDecoder and gan_condition=\'pose\' draw '
                f'the pose from the pose head\'s heatmaps, but the head '
                f'{type(head).__name__} returns {type(maps).__name__}: use a heatmap head '
                f'(HeatmapHead) or the paper\'s ImageDecoder without gan_condition')
        return maps

    def _build_networks(self, shapes: probe.BranchShapes) -> None:
        """Build ``E_I``, ``D_I`` and ``D`` from their configs for the probed shapes."""
        widths = probe.default_widths(shapes.pose_channels, shapes.num_upsamples,
                                      shapes.source_channels)
        enc = dict(self.network_cfgs['encoder'])
        enc.setdefault('base_channels', widths['encoder'])
        enc.update(in_channels=shapes.source_channels, out_channels=self.appearance_channels,
                   num_downsamples=shapes.num_downsamples)
        self.appearance_encoder = MODELS.build(enc)

        dec = dict(self.network_cfgs['decoder'])
        dec.setdefault('base_channels', widths['decoder'])
        # + the opacity over the appearance image (selfdis.background)
        dec.update(out_channels=shapes.image_channels + (self.background is not None),
                   num_upsamples=shapes.num_upsamples)
        if dec['type'] in ('PoseModulatedDecoder', PoseModulatedDecoder):
            dec.update(pose_map_channels=shapes.pose_map_channels,
                       app_channels=self.appearance_channels)
            if dec.pop('with_pose_feature', False):
                dec['pose_feature_channels'] = shapes.pose_channels
            if self.background is not None:  # y's tones, y around the hole (optional)
                dec['app_channels'] += self.background.app_channels(shapes.image_channels)
                if self.background.context:
                    dec['context_channels'] = \
                        self.background.context_channels(shapes.image_channels)
        else:
            dec['in_channels'] = shapes.pose_channels + self.appearance_channels
        self.image_decoder = MODELS.build(dec)
        self._modulated = isinstance(self.image_decoder, PoseModulatedDecoder)

        self.discriminator = None
        if self.network_cfgs['discriminator'] is not None:
            disc = dict(self.network_cfgs['discriminator'])
            disc.setdefault('base_channels', widths['discriminator'])
            extra = 1 if self.gan_condition == 'pose' else 0  # see discriminator_input
            disc['in_channels'] = shapes.image_channels + extra
            self.discriminator = MODELS.build(disc)

    @staticmethod
    def default_widths(pose_channels: int, num_upsamples: int,
                       source_channels: int) -> Dict[str, int]:
        """See :func:`mmselfdis.models.heads.probe.default_widths`."""
        return probe.default_widths(pose_channels, num_upsamples, source_channels)

    @staticmethod
    def _build_grad_balance(cfg: OptConfigType, index: int) -> Optional[GradBalance]:
        if cfg is None:
            return None
        if not isinstance(cfg, dict):
            raise ValueError(f'selfdis.grad_balance must be a dict (mode, max_ratio) or None, '
                             f'got {cfg!r}')
        unknown = sorted(set(cfg) - {'mode', 'max_ratio'})
        if unknown:
            raise ValueError(f'selfdis.grad_balance: unknown keys {unknown}; it takes mode '
                             f"('norm', 'project', 'project_norm') and max_ratio")
        return GradBalance(index=index, **cfg)

    def _check_input_channels(self, module: nn.Module, args: tuple) -> None:
        x = args[0] if args else None
        if torch.is_tensor(x) and x.dim() == 4 and x.shape[1] != self.image_channels:
            raise ValueError(
                f'{x.shape[1]}-channel images reach a backbone that expects '
                f'{self.image_channels} channels: load the images with as many channels as the '
                f'backbone takes (LoadImage color_type=\'grayscale\' for 1, \'color\' for 3) '
                f'or set the backbone\'s in_channels')

    def _pose_feature(self, feats: Features) -> Tensor:
        if torch.is_tensor(feats):
            return feats
        return feats[self.pose_feature_index]

    # ------------------------------------------------------- image space helpers
    @staticmethod
    def to_model_space(img: Tensor, data_preprocessor: nn.Module) -> Tensor:
        """Image space (``0..255``, BGR/mono as loaded) → the model's normalised input.

        Args:
            img: Images as the data pipeline produces them.
            data_preprocessor: The estimator's :class:`PoseDataPreprocessor`.

        Returns:
            The normalised images (:meth:`ImageSpace.to_model`).

        Note:
            - img, return: ``(N, C, H, W)``
        """
        return ImageSpace.of(data_preprocessor, img.shape[1]).to_model(img)

    @staticmethod
    def to_image_space(x: Tensor, data_preprocessor: nn.Module) -> Tensor:
        """Inverse of :meth:`to_model_space` (float, not clamped).

        Args:
            x: Normalised images.
            data_preprocessor: The estimator's :class:`PoseDataPreprocessor`.

        Returns:
            Images in image space (:meth:`ImageSpace.to_image`).

        Note:
            - x, return: ``(N, C, H, W)``
        """
        return ImageSpace.of(data_preprocessor, x.shape[1]).to_image(x)

    # ------------------------------------------------------- encode and decode
    def encode(self, estimator: nn.Module, inputs: Tensor) -> Tuple[Tensor, Tensor]:
        """Normalised images → ``(p, a)``.

        Args:
            estimator: The pose estimator.
            inputs: Normalised images.

        Returns:
            The pose and appearance factors.

        Note:
            - inputs: ``(N, C, H, W)``
            - return: ``(N, C_p, h, w)`` and ``(N, C_a, h, w)``
        """
        with self._tap.capturing():
            feats = estimator.extract_feat(inputs)
            source = self._source(inputs)
        return self._pose_feature(feats), self.appearance_encoder(source)

    def decode(self, p: Tensor, a: Tensor, pose_maps: Optional[Tensor] = None,
               background: Optional[Tensor] = None,
               background_maps: Optional[Tensor] = None) -> Tensor:
        """``D_I([p, a])`` in normalised space.

        With a :class:`PoseModulatedDecoder` the heatmaps are ``pose_maps``
        when given (the labels' heatmaps, :meth:`label_maps`), else drawn from
        ``p`` by the estimator's pose head (frozen, its statistics untouched);
        with ``pose_maps_from='labels'`` they must be given.

        Args:
            p: Pose factor.
            a: Appearance factor.
            pose_maps: Heatmaps of the pose to draw, at the codec's heatmap
                size (a pose-map decoder only).
            background: With ``selfdis.background``: the normalised images
                ``a`` was encoded from (the hand is painted over them).
            background_maps: Their heatmaps (where their hands are), e.g. the
                pose model's reading of them.

        Returns:
            Normalised images.

        Note:
            - p: ``(N, C_p, h, w)``; a: ``(N, C_a, h, w)``
            - return: ``(N, C, H, W)``
        """
        if p.shape[0] != a.shape[0] or p.shape[-2:] != a.shape[-2:]:
            raise ValueError(f'p {tuple(p.shape)} and a {tuple(a.shape)} cannot be concatenated: '
                             f'they need the same batch size and spatial size')
        if pose_maps is not None:
            if not self._modulated:
                raise ValueError(f'pose_maps are drawn by a PoseModulatedDecoder; this branch '
                                 f'decodes [p, a] with {type(self.image_decoder).__name__}')
            maps = pose_maps.to(p.device, p.dtype)
        elif self._modulated and self.pose_maps_from == 'labels':
            raise ValueError("this generator draws the pose image's labelled keypoints "
                             "(selfdis.pose_maps_from='labels'): pass the pose images' "
                             "keypoints (mix(..., keypoints=, keypoints_visible=)) or their "
                             "heatmaps (decode(..., pose_maps=))")
        else:
            maps = self._pose_maps([p], trainable=False) if self._modulated else None
        if self.background is None:
            return self._decode(p, maps, a.to(p.dtype))
        if background is None or background_maps is None:
            raise ValueError('this generator paints the hand over the appearance image '
                             '(selfdis.background): pass background= (the images the '
                             'appearance was encoded from) and background_maps= (their '
                             'heatmaps)')
        # the inpainted region's extra margin and its fill's low-pass, like the paint's, are
        # for mixes, not for training
        fill_sigma, fill_margin = (0.0, 0.0) if self.training else (
            self.background.fill_sigma, self.background.fill_margin)
        bg_hand = self.hand_region(background_maps.to(p.device, p.dtype),
                                   margin=self.background.inpaint_margin + fill_margin)
        bg, hole = self.background.prepare(background.to(p.dtype), bg_hand,
                                           self.hand_region(maps), fill_sigma=fill_sigma)
        return self._decode(p, maps, a.to(p.dtype), bg=bg, hole=hole, bg_hand=bg_hand)

    def label_maps(self, keypoints, keypoints_visible=None) -> Tensor:
        """Keypoints in crop pixels → the heatmaps of the pose head's codec.

        :func:`~mmselfdis.models.networks.keypoint_heatmaps` with the codec of
        the estimator this branch is bound to.

        Args:
            keypoints: ``(N, K, 2)`` keypoints in the crop's pixels (after
                ``TopdownAffine``: ``transformed_keypoints``).
            keypoints_visible: ``(N, K)`` visibility (or ``(N, K, D)``, as
                MMPose may store it: the first value counts; default: all
                visible); keypoints with none are not drawn.

        Returns:
            ``(N, K, h, w)`` heatmaps (CPU, float).
        """
        if getattr(self, '_codec', None) is None:
            raise RuntimeError('label_maps() needs the branch bound to an estimator whose head '
                               'has a codec (head.decoder)')
        return keypoint_heatmaps(self._codec, keypoints, keypoints_visible)

    @staticmethod
    def sample_label_maps(data_samples: SampleList) -> Tensor:
        """The data samples' target heatmaps (``GenerateTarget``), stacked."""
        maps = [getattr(s.get('gt_fields'), 'heatmaps', None) for s in data_samples]
        if any(m is None for m in maps):
            raise ValueError("selfdis.pose_maps_from='labels' draws each image's target "
                             "heatmaps: put GenerateTarget with a heatmap codec in the "
                             "training pipeline")
        return torch.stack(maps)

    def _pose_maps(self, feats: Features, trainable: bool) -> Tensor:
        """``D_p(feats)``: the pose head's heatmaps; its running statistics are left alone."""
        return frozen_call(self._pose_head, feats, detach_params=not trainable)

    def _decode(self, p: Tensor, maps: Optional[Tensor], a: Tensor,
                frozen: bool = False, bg: Optional[Tensor] = None,
                hole: Optional[Tensor] = None, bg_hand: Optional[Tensor] = None) -> Tensor:
        """``D_I`` on ``(p, maps, a)`` (``D_I*`` with ``frozen``); painted over ``bg``
        outside ``hole`` with ``selfdis.background`` (``bg_hand``: where ``bg``'s own
        hand is, for ``tones``)."""
        if self.background is not None and (bg is None or hole is None):
            raise RuntimeError('selfdis.background: the decoder needs the appearance images and '
                               'the hole to paint')
        kwargs = {}
        if self._modulated:
            if self.background is not None:
                a, kwargs = self.background.decoder_inputs(a, bg, hole, bg_hand)
            args = (maps, a, p if self.image_decoder.pose_feature_channels else None)
        else:
            args = (torch.cat([p, a], 1), )
        out = frozen_call(self.image_decoder, *args, **kwargs) if frozen else \
            self.image_decoder(*args, **kwargs)
        if self.background is None:
            return out
        # the low-pass of the painted colour is for mixes, not for training
        sigma = 0.0 if self.training else self.background.paint_sigma
        return self.background.composite(out, bg, hole, sigma)

    # the painter's operations, under the names the losses and tests use
    composite = staticmethod(BackgroundPainter.composite)
    tones = staticmethod(BackgroundPainter.tones)

    def hand_region(self, maps: Tensor, margin: float = 0.0) -> Tensor:
        """Where the hand of heatmaps ``maps`` covers the crop (``selfdis.background``;
        :meth:`BackgroundPainter.hand_region` at ``input_size``, radii grown by ``margin``).

        Note:
            - maps: ``(N, K, h, w)``; return: ``(N, 1, H, W)`` at ``input_size``
        """
        painter = self.background or BackgroundPainter()
        w, h = self.input_size
        return painter.hand_region(maps, (h, w), margin=margin)

    def _source(self, inputs: Tensor) -> Tensor:
        if self.appearance_source == 'image':
            return inputs
        source = self._tap.pop()
        if source is None:
            raise RuntimeError(f'the appearance source {self.appearance_source!r} was not '
                               f'captured in this forward pass')
        return source

    def extra_repr(self) -> str:
        return (f'appearance_source={self.appearance_source!r}, mode={self.mode!r}, '
                f'mix_ratio={self.mix_ratio}, detach_pose_feature={self.detach_pose_feature}, '
                f'detach_pose_estimator={self.detach_pose_estimator}, '
                f'input_size={self.input_size}')
