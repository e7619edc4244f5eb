"""The auxiliary self-disentanglement branch (paper §3, Fig. 2)."""
import math
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmpose.registry import MODELS
from mmpose.utils.typing import Features, OptConfigType, OptMultiConfig, SampleList
from ..losses._weights import check_loss_weight
from ..networks import AppearanceEncoder, ImageDecoder, PatchDiscriminator
from ..utils import FeatureTap, frozen_call
from ..utils.grad_balance import GradBalance

__all__ = ['SelfDisHead']

_DEFAULT_LOSSES = dict(
    loss_img=dict(type='ImageL1Loss', loss_weight=1.0),
    loss_d=dict(type='GANLoss', gan_type='lsgan', loss_weight=0.5),
    loss_g=dict(type='GANLoss', gan_type='lsgan', loss_weight=0.05),
    loss_cycle_img=dict(type='ImageL1Loss', loss_weight=1.0),
    loss_dual_pose=dict(type='FeatureL1Loss', loss_weight=0.1),
    loss_dual_img=dict(type='FeatureL1Loss', loss_weight=0.1),
    loss_paired_img=dict(type='ImageL1Loss', loss_weight=1.0),
)
_DEFAULT_GRAD_BALANCE = dict(mode='norm', max_ratio=1.0)


def _log2_ratio(big: int, small: int) -> Optional[int]:
    """``k`` with ``big == small * 2**k`` (``k >= 0``), else ``None``."""
    if small <= 0 or big % small:
        return None
    ratio = big // small
    k = int(round(math.log2(ratio)))
    return k if 2**k == ratio else None


@MODELS.register_module()
class SelfDisHead(BaseModule):
    """Appearance encoder, image decoder, discriminator and the losses of eq. (2)–(7).

    The pose side of the paper (``E_p`` = the backbone (+ neck), ``D_p`` = the
    head) stays the user's MMPose model; this module adds everything else and
    is called once from :meth:`SelfDisPoseEstimator.loss`. It never owns the
    pose estimator: the estimator passes itself to :meth:`loss`, and
    :meth:`bind` (called by the estimator's constructor) sizes the
    sub-networks by probing the backbone once.

    One training step, in the order of the paper's Fig. 2 (``n`` images,
    ``m = round(mix_ratio * n)`` of them mixed; ``y`` is ``x`` rolled by one
    inside the batch, so no extra encoding is needed):

    (a) ``a = E_I(source)``; ``Î = D_I([p, a])`` → ``L_I``; GAN losses ``L_D``,
        ``L_G`` on the decoded images.
    (b) ``Î(xy) = D_I([p(x), a(y)])`` — decoded in the same ``D_I`` call as (a).
    (c) re-encode ``Î(xy)`` → ``p̂(x), â(y)``; ``Ĩ(x) = D_I*([p̂(x), a(x)])`` and
        ``Ĩ(y) = D_I*([p(y), â(y)])`` in one frozen ``D_I*`` call →
        ``L_cycle-img``; ``L_dual-pose = |p̂(x) - sg p(x)|``,
        ``L_dual-img = |â(y) - sg a(y)|``.
    (d) ``D_p*(p̂(x))`` against ``x``'s targets with the head's own loss →
        ``L_cycle-pose``.

    ``D_I*`` is always frozen; ``E_p`` and ``D_p*`` are frozen with
    ``detach_pose_estimator``. ``*`` marks modules applied with detached parameters
    (:func:`~mmselfdis.models.utils.frozen_call`): gradients reach their inputs,
    never their weights. Everything is one graph and one backward pass.

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
        encoder: Keyword arguments of :class:`AppearanceEncoder`; a missing
            ``base_channels`` comes from :meth:`default_widths`.
        decoder: Keyword arguments of :class:`ImageDecoder` (same).
        use_gan: Build the discriminator and compute ``L_D``/``L_G``.
        discriminator: Keyword arguments of :class:`PatchDiscriminator` (same).
        loss_img: ``L_I`` (``α1``), default ``ImageL1Loss(1.0)``.
        loss_d: ``L_D`` (``α2``), default ``GANLoss('lsgan', 0.5)``.
        loss_g: ``L_G`` (``α3``), default ``GANLoss('lsgan', 0.05)``.
        loss_cycle_img: ``L_cycle-img`` (``α4``), default ``ImageL1Loss(1.0)``.
        loss_dual_pose: ``L_dual-pose`` (``α5``), default ``FeatureL1Loss(0.1)``.
        loss_dual_img: ``L_dual-img`` (``α6``), default ``FeatureL1Loss(0.1)``.
        cycle_pose_weight: ``α7``, weight of ``L_cycle-pose`` (the head's own
            loss on ``D_p*(p̂(x))``).
        loss_paired_img: Swap reconstruction of ``mode='paired'``, default
            ``ImageL1Loss(1.0)``.
        grad_balance: Keyword arguments of
            :class:`~mmselfdis.models.utils.GradBalance`, which limits the
            image branch's gradient on the layers shared with the pose
            estimator (up to ``appearance_source``); default
            ``dict(mode='norm', max_ratio=1.0)``: at the shared feature the
            branch's gradient is scaled to at most the pose gradient's norm.
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
                 encoder: OptConfigType = None,
                 decoder: OptConfigType = None,
                 use_gan: bool = True,
                 discriminator: OptConfigType = None,
                 loss_img: OptConfigType = None,
                 loss_d: OptConfigType = None,
                 loss_g: OptConfigType = None,
                 loss_cycle_img: OptConfigType = None,
                 loss_dual_pose: OptConfigType = None,
                 loss_dual_img: OptConfigType = None,
                 cycle_pose_weight: float = 1.0,
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
        self.appearance_source = appearance_source
        self.pose_feature_index = pose_feature_index
        self.appearance_channels = int(appearance_channels)
        self.input_size = tuple(input_size) if input_size is not None else None
        self.mode = mode
        self.mix_ratio = float(mix_ratio)
        self.detach_pose_feature = bool(detach_pose_feature)
        self.detach_pose_estimator = bool(detach_pose_estimator)
        self.gan_on_mix = bool(gan_on_mix)
        self.encoder_cfg = dict(encoder or {})
        self.decoder_cfg = dict(decoder or {})
        self.discriminator_cfg = dict(discriminator or {}) if use_gan else None
        self.cycle_pose_weight = check_loss_weight(cycle_pose_weight, 'selfdis.cycle_pose_weight')

        given = dict(loss_img=loss_img, loss_d=loss_d, loss_g=loss_g,
                     loss_cycle_img=loss_cycle_img, loss_dual_pose=loss_dual_pose,
                     loss_dual_img=loss_dual_img, loss_paired_img=loss_paired_img)
        for name, cfg in given.items():
            cfg = dict(_DEFAULT_LOSSES[name] if cfg is None else cfg)
            if 'loss_weight' in cfg:
                check_loss_weight(cfg['loss_weight'], f'selfdis.{name}.loss_weight')
            setattr(self, name, MODELS.build(cfg))
        d_type = getattr(self.loss_d, 'gan_type', None)
        g_type = getattr(self.loss_g, 'gan_type', None)
        if d_type != g_type:
            raise ValueError(f'selfdis.loss_d and selfdis.loss_g must use the same gan_type, got '
                             f'{d_type!r} and {g_type!r}')

        self._tap = FeatureTap(appearance_source_index)
        self.grad_balance = self._build_grad_balance(grad_balance, appearance_source_index)
        self._bound = False
        self.image_channels: Optional[int] = None

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
        in_conv_name, in_conv = self._first_conv(backbone)
        channels = in_conv.in_channels
        pre = estimator.data_preprocessor
        if getattr(pre, '_enable_normalize', False):
            data_channels = int(pre.mean.shape[0])
            if data_channels != channels:
                fix = ('set the backbone\'s in_channels=1 (ResNet, HRNet and UNetEncoder '
                       'have it) or load the images as 3-channel '
                       "(LoadImage color_type='color') with a 3-value mean/std"
                       if data_channels == 1 else
                       'give the data preprocessor a 1-value mean/std and load the images as '
                       "monochrome (LoadImage color_type='grayscale')")
                raise ValueError(
                    f'the data preprocessor normalises {data_channels}-channel images (its mean '
                    f'has {data_channels} values) but the backbone\'s first convolution '
                    f'backbone.{in_conv_name} expects {channels} channels: {fix}')
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
            self._tap.attach(self._resolve_source(estimator))
            if self.grad_balance is not None:  # after the tap: the tap keeps the unsplit output
                self.grad_balance.attach(self._resolve_source(estimator))
        was_training = estimator.training
        estimator.eval()
        try:
            with torch.no_grad(), self._tap.capturing():
                probe = torch.zeros(1, channels, h, w, device=in_conv.weight.device)
                feats = estimator.extract_feat(probe)
                source = probe if self.appearance_source == 'image' else self._tap.pop()
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
        hp, wp = p.shape[-2:]
        k_h, k_w = _log2_ratio(h, hp), _log2_ratio(w, wp)
        if k_h is None or k_h != k_w:
            sugg = (wp * 2**max(k_w or 0, 1), hp * 2**max(k_w or 0, 1))
            raise ValueError(
                f'the image decoder cannot reach the input size (w={w}, h={h}) from the pose '
                f'feature of size (w={wp}, h={hp}): it up-samples ×2 per block, so the input '
                f'size must be the pose feature size times one power of two. Use an input size '
                f'that the backbone divides exactly, e.g. input_size={sugg} (set the codec\'s '
                f'input_size / selfdis.input_size accordingly)')
        hs, ws = source.shape[-2:]
        j_h, j_w = _log2_ratio(hs, hp), _log2_ratio(ws, wp)
        if j_h is None or j_h != j_w:
            raise ValueError(
                f'p and a cannot be concatenated: appearance_source='
                f'{self.appearance_source!r} gives a feature of size (w={ws}, h={hs}) but the '
                f'pose feature p is (w={wp}, h={hp}); the appearance encoder down-samples ×2 '
                f'per block, so the source must be p\'s size times a power of two. Choose an '
                f'earlier module (higher resolution) or \'image\'')
        src_channels = source.shape[1]
        enc_cfg, dec_cfg = dict(self.encoder_cfg), dict(self.decoder_cfg)
        widths = self.default_widths(p.shape[1], k_h, src_channels)
        enc_cfg.setdefault('base_channels', widths['encoder'])
        dec_cfg.setdefault('base_channels', widths['decoder'])
        self.appearance_encoder = AppearanceEncoder(src_channels, self.appearance_channels, j_h,
                                                    **enc_cfg)
        self.image_decoder = ImageDecoder(p.shape[1] + self.appearance_channels, channels, k_h,
                                          **dec_cfg)
        if self.discriminator_cfg is not None:
            disc_cfg = dict(self.discriminator_cfg)
            disc_cfg.setdefault('base_channels', widths['discriminator'])
            self.discriminator = PatchDiscriminator(channels, **disc_cfg)
            if min(h, w) < self.discriminator.min_input_size:
                raise ValueError(
                    f'the discriminator with num_layers={self.discriminator.num_layers} needs '
                    f'inputs of at least {self.discriminator.min_input_size} pixels per side, '
                    f'got (w={w}, h={h}); lower selfdis.discriminator.num_layers')
        else:
            self.discriminator = None
        self.to(in_conv.weight.device)
        self._bound = True

    @staticmethod
    def default_widths(pose_channels: int, num_upsamples: int,
                       source_channels: int) -> Dict[str, int]:
        """``base_channels`` of the sub-networks when the config leaves them out.

        The branch is sized after the pose network so that it stays a fraction of
        its cost: the image decoder halves ``C_p`` at every ×2 step, down to
        ``C_p / 2**k`` (8…64) at half the output resolution; the discriminator
        starts with as many channels (≤ 64); the appearance encoder at half the
        source's channels (16…64).

        Args:
            pose_channels: ``C_p``.
            num_upsamples: ``k``, the decoder's ×2 steps.
            source_channels: Channels of the appearance source.

        Returns:
            dict: ``encoder``, ``decoder`` and ``discriminator`` base channels.
        """
        decoder = max(8, min(64, pose_channels // 2**num_upsamples))
        return dict(
            encoder=max(16, min(64, source_channels // 2)),
            decoder=decoder,
            discriminator=max(16, decoder))

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

    @staticmethod
    def _first_conv(backbone: nn.Module) -> Tuple[str, nn.Conv2d]:
        for name, module in backbone.named_modules():
            if isinstance(module, nn.Conv2d):
                return name, module
        raise ValueError(f'{type(backbone).__name__} has no Conv2d; SelfDisHead needs a '
                         f'convolutional backbone to read the number of image channels from')

    def _resolve_source(self, estimator: nn.Module) -> nn.Module:
        path = self.appearance_source
        valid = [f'backbone.{n}' for n, _ in estimator.backbone.named_modules()
                 if n and n.count('.') < 2]
        if getattr(estimator, 'with_neck', False):
            valid += [f'neck.{n}' for n, _ in estimator.neck.named_modules()
                      if n and n.count('.') < 1]
        root = path.split('.', 1)[0]
        module = None
        if root in ('backbone', 'neck'):
            try:
                module = estimator.get_submodule(path)
            except AttributeError:
                module = None
        if module is None:
            raise ValueError(
                f'selfdis.appearance_source={path!r} names no module of the backbone (or '
                f'neck). Use \'image\' or one of: {", ".join(valid)}')
        return module

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
            The normalised images.

        Note:
            - img, return: ``(N, C, H, W)``
        """
        x = img.float()
        if getattr(data_preprocessor, '_channel_conversion', False) and x.shape[1] == 3:
            x = x[:, [2, 1, 0]]
        if getattr(data_preprocessor, '_enable_normalize', False):
            x = x.to(data_preprocessor.mean.device)
            x = (x - data_preprocessor.mean) / data_preprocessor.std
        return x

    @staticmethod
    def to_image_space(x: Tensor, data_preprocessor: nn.Module) -> Tensor:
        """Inverse of :meth:`to_model_space` (float, not clamped).

        Args:
            x: Normalised images.
            data_preprocessor: The estimator's :class:`PoseDataPreprocessor`.

        Returns:
            Images in image space.

        Note:
            - x, return: ``(N, C, H, W)``
        """
        x = x.float()
        if getattr(data_preprocessor, '_enable_normalize', False):
            x = x * data_preprocessor.std + data_preprocessor.mean
        if getattr(data_preprocessor, '_channel_conversion', False) and x.shape[1] == 3:
            x = x[:, [2, 1, 0]]
        return x

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

    def decode(self, p: Tensor, a: Tensor) -> Tensor:
        """``D_I([p, a])`` in normalised space.

        Args:
            p: Pose factor.
            a: Appearance factor.

        Returns:
            Normalised images.

        Note:
            - p: ``(N, C_p, h, w)``; a: ``(N, C_a, h, w)``
            - return: ``(N, C, H, W)``
        """
        if p.shape[0] != a.shape[0] or p.shape[-2:] != a.shape[-2:]:
            raise ValueError(f'p {tuple(p.shape)} and a {tuple(a.shape)} cannot be concatenated: '
                             f'they need the same batch size and spatial size')
        return self.image_decoder(torch.cat([p, a.to(p.dtype)], 1))

    def _source(self, inputs: Tensor) -> Tensor:
        if self.appearance_source == 'image':
            return inputs
        source = self._tap.pop()
        if source is None:
            raise RuntimeError(f'the appearance source {self.appearance_source!r} was not '
                               f'captured in this forward pass')
        return source

    # ------------------------------------------------------------------ losses
    def num_mixed(self, batch_size: int) -> int:
        """How many of ``batch_size`` images go through mix and cycle."""
        if self.mix_ratio <= 0 or batch_size < 1:
            return 0
        return min(batch_size, max(1, int(round(self.mix_ratio * batch_size))))

    def loss(self, inputs: Tensor, feats: Features, data_samples: SampleList,
             estimator: nn.Module, train_cfg: OptConfigType = None) -> Dict[str, Tensor]:
        """All losses of the branch for one batch (one graph, one backward).

        Args:
            inputs: The normalised batch the estimator just encoded.
            feats: The backbone (+ neck) outputs for ``inputs``.
            data_samples: The batch's data samples (targets for
                ``L_cycle-pose``; ``pose_id`` metainfo in ``mode='paired'``).
            estimator: The pose estimator (``E_p``, ``D_p``).
            train_cfg: The estimator's ``train_cfg`` (passed to the head).

        Returns:
            dict: ``loss_img``, ``loss_d``, ``loss_g``, ``loss_cycle_img``,
            ``loss_cycle_pose``, ``loss_dual_pose``, ``loss_dual_img`` (and
            ``loss_paired_img`` in ``mode='paired'``), each already weighted.

        Note:
            - inputs: ``(N, C, H, W)``
        """
        source = self._source(inputs)
        if self.grad_balance is not None:
            source = self.grad_balance.branch_input(source)
        p = self._pose_feature(feats)
        a = self.appearance_encoder(source)
        n = inputs.shape[0]
        if p.shape[-2:] != a.shape[-2:]:
            raise ValueError(f'p {tuple(p.shape)} and a {tuple(a.shape)} cannot be concatenated '
                             f'(spatial sizes differ): the inputs are not the size selfdis was '
                             f'built for (input_size={self.input_size})')
        a = a.to(p.dtype)
        p_rec = p.detach() if self.detach_pose_feature else p

        if self.mode == 'paired':
            partner = self._pair_partners(data_samples, inputs.device)
            dec_in = torch.cat([torch.cat([p_rec, a], 1),
                                torch.cat([p_rec.index_select(0, partner), a], 1)], 0)
            m = 0
        else:
            m = self.num_mixed(n)
            y_idx = (torch.arange(m, device=inputs.device) - 1) % n  # y = x rolled by one
            p_mix = p.detach() if (self.detach_pose_feature or self.detach_pose_estimator) else p
            a_y = a.index_select(0, y_idx)
            parts = [torch.cat([p_rec, a], 1)]
            if m:
                parts.append(torch.cat([p_mix[:m], a_y], 1))
            dec_in = torch.cat(parts, 0) if m else parts[0]
        fake = self.image_decoder(dec_in)
        if fake.shape[-2:] != inputs.shape[-2:]:
            raise ValueError(f'the image decoder produces {tuple(fake.shape[-2:])} images but '
                             f'the inputs are {tuple(inputs.shape[-2:])}: set selfdis.input_size '
                             f'(w, h) to the training crop size (now {self.input_size})')

        losses = dict(loss_img=self.loss_img(fake[:n], inputs))
        if self.mode == 'paired':
            losses['loss_paired_img'] = self.loss_paired_img(fake[n:], inputs)
        if self.discriminator is not None:
            judged = fake if (self.gan_on_mix or self.mode == 'paired') else fake[:n]
            losses.update(self._gan_losses(inputs, judged))
        if m:
            losses.update(self._cycle_losses(inputs, fake[n:], p, a, p_mix, y_idx,
                                             data_samples[:m], estimator, train_cfg))
        return losses

    def _gan_losses(self, real: Tensor, fake: Tensor) -> Dict[str, Tensor]:
        """``L_D`` on ``[real, fake.detach()]`` (one call), ``L_G`` through a frozen ``D``."""
        n = real.shape[0]
        logits = self.discriminator(torch.cat([real.to(fake.dtype), fake.detach()], 0))
        loss_d = self.loss_d(logits[:n], True, is_disc=True) + \
            self.loss_d(logits[n:], False, is_disc=True)
        loss_g = self.loss_g(frozen_call(self.discriminator, fake), True)
        return dict(loss_d=loss_d, loss_g=loss_g)

    def _cycle_losses(self, inputs: Tensor, mixed: Tensor, p: Tensor, a: Tensor, p_mix: Tensor,
                      y_idx: Tensor, samples_x: SampleList, estimator: nn.Module,
                      train_cfg: OptConfigType) -> Dict[str, Tensor]:
        """Steps (c) and (d) of Fig. 2 on the ``m`` mixed images."""
        m = mixed.shape[0]
        # (c) re-encode the mixes: E_p (frozen with detach_pose_estimator), E_I trainable.
        # BatchNorm statistics of the pose estimator are not updated by mixed images.
        feats_hat = frozen_call(estimator, mixed, method='extract_feat',
                                detach_params=self.detach_pose_estimator,
                                prefixes=('backbone', 'neck'))
        source_hat = mixed if self.appearance_source == 'image' else self._tap.pop()
        p_hat = self._pose_feature(feats_hat)
        a_hat = frozen_call(self.appearance_encoder, source_hat, detach_params=False).to(p.dtype)

        p_y = p_mix.index_select(0, y_idx)
        cyc = frozen_call(self.image_decoder,
                          torch.cat([torch.cat([p_hat, a[:m]], 1),
                                     torch.cat([p_y, a_hat], 1)], 0))
        losses = dict(
            loss_cycle_img=self.loss_cycle_img(cyc[:m], inputs[:m]) +
            self.loss_cycle_img(cyc[m:], inputs.index_select(0, y_idx)),
            loss_dual_pose=self.loss_dual_pose(p_hat, p[:m]),
            loss_dual_img=self.loss_dual_img(a_hat, a.index_select(0, y_idx)))
        # (d) the pose decoder D_p* (frozen with detach_pose_estimator) on p̂(x) against x's
        # targets, with the head's own loss; its BatchNorm statistics are left alone.
        head = getattr(estimator, 'head', None)
        if head is not None:
            cfg = dict(train_cfg or {})
            cfg['compute_acc'] = False
            head_losses = frozen_call(head, feats_hat, samples_x, method='loss',
                                      detach_params=self.detach_pose_estimator, train_cfg=cfg)
            cycle_pose = sum(v for k, v in head_losses.items() if k.startswith('loss'))
            losses['loss_cycle_pose'] = self.cycle_pose_weight * cycle_pose
        return losses

    def _pair_partners(self, data_samples: SampleList, device: torch.device) -> Tensor:
        """Index of each sample's pair partner (adjacent samples share a ``pose_id``)."""
        n = len(data_samples)
        hint = ("use sampler=dict(type='PosePairSampler') with an even batch size and add "
                "'pose_id' to PackPoseInputs meta_keys")
        if n % 2:
            raise ValueError(f"selfdis.mode='paired' needs an even batch, got {n}: {hint}")
        ids: List = []
        for sample in data_samples:
            if 'pose_id' not in sample.metainfo:
                raise ValueError(f"selfdis.mode='paired' needs pose_id in the data samples' "
                                 f'metainfo: {hint}')
            ids.append(sample.metainfo['pose_id'])
        for i in range(0, n, 2):
            if ids[i] != ids[i + 1]:
                raise ValueError(f"selfdis.mode='paired': samples {i} and {i + 1} of the batch "
                                 f'have pose_id {ids[i]!r} and {ids[i + 1]!r}, not a pair: {hint}')
        return torch.arange(n, device=device) ^ 1

    def extra_repr(self) -> str:
        return (f'appearance_source={self.appearance_source!r}, mode={self.mode!r}, '
                f'mix_ratio={self.mix_ratio}, detach_pose_feature={self.detach_pose_feature}, '
                f'detach_pose_estimator={self.detach_pose_estimator}, '
                f'input_size={self.input_size}')
