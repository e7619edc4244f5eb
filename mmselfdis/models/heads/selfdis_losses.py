"""The training objective of the self-disentanglement branch (paper §3, eq. (2)–(7), Fig. 2)."""
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmpose.registry import MODELS
from mmpose.utils.typing import Features, OptConfigType, SampleList
from ..losses._weights import check_loss_weight
from ..utils import frozen_call, gaussian_blur, random_turns

__all__ = ['SelfDisLosses']

_DEFAULT_LOSSES = dict(
    loss_img=dict(type='ImageL1Loss', loss_weight=1.0),
    loss_d=dict(type='GANLoss', gan_type='lsgan', loss_weight=0.5),
    loss_g=dict(type='GANLoss', gan_type='lsgan', loss_weight=0.05),
    loss_cycle_img=dict(type='ImageL1Loss', loss_weight=1.0),
    loss_dual_pose=dict(type='FeatureL1Loss', loss_weight=0.1),
    loss_dual_img=dict(type='FeatureL1Loss', loss_weight=0.1),
    loss_paired_img=dict(type='ImageL1Loss', loss_weight=1.0),
)
# Optional terms: off unless configured.
_OPTIONAL_LOSSES = ('loss_cycle_pose', 'loss_feat_match', 'loss_img_ssim')


class SelfDisLosses:
    """The losses of :class:`~mmselfdis.models.heads.SelfDisHead` for one batch.

    One training step, in the order of the paper's Fig. 2 (``n`` images,
    ``m = round(mix_ratio * n)`` of them mixed; ``y`` is ``x`` rolled by one
    inside the batch, so no extra encoding is needed):

    (a) ``a = E_I(source)``; ``Î = D_I([p, a])`` → ``L_I``; GAN losses ``L_D``,
        ``L_G`` on the decoded images (with ``appearance_turn``: ``Î`` is
        decoded with ``E_I`` of the source turned, ``a`` serves (b)–(d)).
    (b) ``Î(xy) = D_I([p(x), a(y)])`` — decoded in the same ``D_I`` call as (a).
    (c) re-encode ``Î(xy)`` → ``p̂(x), â(y)``; ``Ĩ(x) = D_I*([p̂(x), a(x)])`` and
        ``Ĩ(y) = D_I*([p(y), â(y)])`` in one frozen ``D_I*`` call →
        ``L_cycle-img``; ``L_dual-pose = |p̂(x) - sg p(x)|``,
        ``L_dual-img = |â(y) - sg a(y)|``.
    (d) ``D_p*(p̂(x))`` against ``x``'s targets with the head's own loss (or
        with ``loss_cycle_pose``, e.g. the L1 of eq. 6) → ``L_cycle-pose``.

    ``D_I*`` is always frozen; ``E_p`` and ``D_p*`` are frozen with
    ``detach_pose_estimator``. ``*`` marks modules applied with detached parameters
    (:func:`~mmselfdis.models.utils.frozen_call`): gradients reach their inputs,
    never their weights. Everything is one graph and one backward pass.


    A mixin of :class:`SelfDisHead`: it computes the terms from the head's
    networks (``appearance_encoder``, ``image_decoder``, ``discriminator``),
    its options and its decoding helpers (``_decode``, ``_pose_maps``,
    ``hand_region``); the head holds and builds all of them. Each term is a
    registered loss module (:mod:`mmselfdis.models.losses`) built by
    :meth:`_build_losses`; ``tests/test_models/test_selfdis_losses.py``
    recomputes every term from its formula, on the images it must compare.
    """

    def _build_losses(self, use_gan: bool, **given: OptConfigType) -> None:
        """Build each ``loss_*`` module from its config (the default when ``None``; a config
        without ``type`` updates the default, e.g. ``dict(loss_weight=1.0)``)."""
        for name, cfg in given.items():
            if cfg is None and name in _OPTIONAL_LOSSES:
                setattr(self, name, None)
                continue
            cfg = dict(_DEFAULT_LOSSES[name] if cfg is None else cfg)
            if 'type' not in cfg:
                if name not in _DEFAULT_LOSSES:
                    raise ValueError(f'selfdis.{name} has no default to update: give its type, '
                                     f'e.g. {name}=dict(type=..., loss_weight=...), got {cfg}')
                cfg = {**_DEFAULT_LOSSES[name], **cfg}
            if 'loss_weight' in cfg:
                check_loss_weight(cfg['loss_weight'], f'selfdis.{name}.loss_weight')
            setattr(self, name, MODELS.build(cfg))
        d_type = getattr(self.loss_d, 'gan_type', None)
        g_type = getattr(self.loss_g, 'gan_type', None)
        if d_type != g_type:
            raise ValueError(f'selfdis.loss_d and selfdis.loss_g must use the same gan_type, got '
                             f'{d_type!r} and {g_type!r}')
        if self.loss_feat_match is not None and not use_gan:
            raise ValueError('selfdis.loss_feat_match needs the discriminator: set use_gan=True '
                             'or drop loss_feat_match')

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
            ``loss_paired_img`` in ``mode='paired'``, ``loss_feat_match``, ``loss_img_ssim`` when
            configured), each already weighted.

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
        # the reconstructions' code: with appearance_turn read from the source turned, so it
        # does not lie where the hand lies
        a_rec = a if not self.appearance_turn else \
            self.appearance_encoder(random_turns(source)[0]).to(p.dtype)
        p_rec = p.detach() if self.detach_pose_feature else p
        maps_rec = None
        if self.pose_maps_from == 'labels':
            maps_rec = self.sample_label_maps(data_samples).to(inputs.device, p.dtype)
        elif self.uses_pose_maps:
            feats_rec = [feats] if torch.is_tensor(feats) else list(feats)
            if self.detach_pose_feature:
                feats_rec = [f.detach() for f in feats_rec]
            maps_rec = self._pose_maps(feats_rec, trainable=not self.detach_pose_feature)
        frozen_pose = self.detach_pose_feature or self.detach_pose_estimator
        p_mix = p.detach() if frozen_pose else p
        maps_mix = None if maps_rec is None else (maps_rec.detach() if frozen_pose else maps_rec)

        m = 0
        y_idx = None
        if self.mode == 'paired':
            partner = self._pair_partners(data_samples, inputs.device)
            dec_p = torch.cat([p_rec, p_rec.index_select(0, partner)], 0)
            dec_a = torch.cat([a_rec, a], 0)
            dec_maps = None if maps_rec is None else \
                torch.cat([maps_rec, maps_rec.index_select(0, partner)], 0)
        else:
            m = self.num_mixed(n)
            y_idx = (torch.arange(m, device=inputs.device) - 1) % n  # y = x rolled by one
            dec_p = torch.cat([p_rec, p_mix[:m]], 0)
            dec_a = torch.cat([a_rec, a.index_select(0, y_idx)], 0)
            dec_maps = None if maps_rec is None else torch.cat([maps_rec, maps_mix[:m]], 0)
        bg = hole = hands = bg_hand = x_clean = own = None
        if self.background is not None:
            hands = self.hand_region(maps_rec.detach())
            # the region of each image's own hand that is inpainted away (grown by
            # inpaint_margin: the capsules miss the hand's rims)
            own = hands if not self.background.inpaint_margin else self.hand_region(
                maps_rec.detach(), margin=self.background.inpaint_margin)
            # a reconstruction: its own hand and another image's hand cut out of itself (the
            # decoder also learns to fill a hole where it draws no hand); a mix: y's and x's
            # (with background.inpaint: its own hand inpainted away and painted again; a mix:
            # y's hand inpainted away, x's painted)
            x_in = inputs.to(p.dtype)
            if self.background.inpaint:
                # each image with its own hand inpainted, once a step: the reconstructions,
                # the mixes (y) and the cycle (x) use it
                x_clean = self.background.prefill(x_in, own)
                rec_bg, rec_hole = x_clean, hands
            else:
                other = torch.roll(hands, 2, 0) if n > 2 else torch.zeros_like(hands)
                rec_bg, rec_hole = x_in, torch.maximum(hands, other)
            mix_bg, mix_hole = self.background.prepare(
                x_in.index_select(0, y_idx), hands.index_select(0, y_idx), hands[:m],
                clean=None if x_clean is None else x_clean.index_select(0, y_idx))
            bg, hole = torch.cat([rec_bg, mix_bg], 0), torch.cat([rec_hole, mix_hole], 0)
            bg_hand = torch.cat([hands, hands.index_select(0, y_idx)], 0)
        fake = self._decode(dec_p, dec_maps, dec_a, bg=bg, hole=hole, bg_hand=bg_hand)
        if fake.shape[-2:] != inputs.shape[-2:]:
            raise ValueError(f'the image decoder produces {tuple(fake.shape[-2:])} images but '
                             f'the inputs are {tuple(inputs.shape[-2:])}: set selfdis.input_size '
                             f'(w, h) to the training crop size (now {self.input_size})')

        weight = None
        if self.foreground_weight:
            weight = 1 + self.foreground_weight * self.hand_mask(maps_rec.detach(),
                                                                 inputs.shape[-2:])
            losses = dict(loss_img=self.loss_img(fake[:n], inputs, weight))
        else:
            losses = dict(loss_img=self.loss_img(fake[:n], inputs))
        if self.loss_img_ssim is not None:
            losses['loss_img_ssim'] = self.loss_img_ssim(
                self.to_image_space(fake[:n], estimator.data_preprocessor),
                self.to_image_space(inputs, estimator.data_preprocessor), weight)
        if self.mode == 'paired':
            losses['loss_paired_img'] = self.loss_paired_img(fake[n:], inputs)
        if self.discriminator is not None:
            k = fake.shape[0] if (self.gan_on_mix or self.mode == 'paired') else n
            cond = None if dec_maps is None or self.gan_condition != 'pose' else \
                dec_maps.detach()
            losses.update(self._gan_losses(inputs, fake[:k], n,
                                           None if cond is None else cond[:n],
                                           None if cond is None else cond[:k]))
        if m:
            losses.update(self._cycle_losses(inputs, fake[n:], p, a, p_mix, maps_mix, y_idx,
                                             data_samples[:m], estimator, train_cfg, hands,
                                             x_clean, own))
        return losses

    def hand_mask(self, maps: Tensor, size: Sequence[int]) -> Tensor:
        """A soft mask of the hand from its heatmaps, at ``size``, in ``[0, 1]``.

        The image decoder's limbs (``pose_encoding='limbs'``) or the heatmaps'
        maximum over the keypoints, resized.

        Note:
            - maps: ``(N, K, h, w)``; return: ``(N, 1, H, W)``
        """
        limbs = getattr(self.image_decoder, 'limb_maps', None)
        if limbs is not None:
            return limbs(maps, size).amax(1, keepdim=True).clamp(0, 1)
        return F.interpolate(maps.amax(1, keepdim=True), size=tuple(size), mode='bilinear',
                             align_corners=False).clamp(0, 1)

    def discriminator_input(self, img: Tensor, cond: Optional[Tensor]) -> Tensor:
        """What the discriminator sees: the image, with its pose map if conditioned.

        The pose map is the maximum over the keypoints' heatmaps (where the hand
        should be), resized to the image: one channel, so the condition costs
        the discriminator's first layer little.

        Args:
            img: Images in normalised space.
            cond: Heatmaps of the pose each image should show, or ``None``.

        Returns:
            The discriminator's input.

        Note:
            - img: ``(N, C, H, W)``; cond: ``(N, K, h, w)``
            - return: ``(N, C (+ 1), H, W)``
        """
        if cond is None:
            return img
        pose_map = F.interpolate(cond.amax(1, keepdim=True).to(img.dtype), size=img.shape[-2:],
                                 mode='bilinear', align_corners=False)
        return torch.cat([img, pose_map], 1)

    def _gan_losses(self, real: Tensor, fake: Tensor, num_rec: int, cond_real: Optional[Tensor],
                    cond_fake: Optional[Tensor]) -> Dict[str, Tensor]:
        """``L_D`` on ``[real, fake.detach()]`` (one call), ``L_G`` through a frozen ``D``.

        The first ``num_rec`` fakes are the reconstructions of ``real`` (the
        feature-matching pairs).
        """
        n = real.shape[0]
        real_in = self.discriminator_input(real.to(fake.dtype), cond_real)
        fake_in = self.discriminator_input(fake, cond_fake)
        with_fm = self.loss_feat_match is not None
        out = self.discriminator(torch.cat([real_in, fake_in.detach()], 0),
                                 **(dict(return_features=True) if with_fm else {}))
        logits = out[0] if with_fm else out
        loss_d = self.loss_d(logits[:n], True, is_disc=True) + \
            self.loss_d(logits[n:], False, is_disc=True)
        out_g = frozen_call(self.discriminator, fake_in,
                            **(dict(return_features=True) if with_fm else {}))
        losses = dict(loss_d=loss_d, loss_g=self.loss_g(out_g[0] if with_fm else out_g, True))
        if with_fm:
            losses['loss_feat_match'] = self.loss_feat_match(
                [f[:num_rec] for f in out_g[1]], [f[:n] for f in out[1]])
        return losses

    def _cycle_losses(self, inputs: Tensor, mixed: Tensor, p: Tensor, a: Tensor, p_mix: Tensor,
                      maps_mix: Optional[Tensor], y_idx: Tensor, samples_x: SampleList,
                      estimator: nn.Module, train_cfg: OptConfigType,
                      hands: Optional[Tensor] = None,
                      x_clean: Optional[Tensor] = None,
                      own: Optional[Tensor] = None) -> Dict[str, Tensor]:
        """Steps (c) and (d) of Fig. 2 on the ``m`` mixed images (``hands``: the batch's
        hand regions, with ``selfdis.background``; ``x_clean``: the batch with its hands
        inpainted, with ``background.inpaint``; ``own``: the regions inpainted there,
        ``hands`` grown by ``background.inpaint_margin``)."""
        m = mixed.shape[0]
        # (c) re-encode the mixes: E_p (frozen with detach_pose_estimator), E_I trainable.
        # BatchNorm statistics of the pose estimator are not updated by mixed images.
        def extract(img: Tensor):
            return frozen_call(estimator, img, method='extract_feat',
                               detach_params=self.detach_pose_estimator,
                               prefixes=('backbone', 'neck'))

        if self.cycle_pose_sigma > 0:
            # the pose path reads the mix low-passed, the appearance path as it is
            source_hat = mixed
            if self.appearance_source != 'image':
                extract(mixed)
                source_hat = self._tap.pop()
            feats_hat = extract(gaussian_blur(mixed, self.cycle_pose_sigma))
            self._tap.pop()
        else:
            feats_hat = extract(mixed)
            source_hat = mixed if self.appearance_source == 'image' else self._tap.pop()
        p_hat = self._pose_feature(feats_hat)
        a_hat = frozen_call(self.appearance_encoder, source_hat, detach_params=False).to(p.dtype)
        maps_hat = None
        if self.uses_pose_maps or self.loss_cycle_pose is not None:
            maps_hat = frozen_call(estimator.head, feats_hat,
                                   detach_params=self.detach_pose_estimator)

        # Ĩ(x) = D_I*(p̂(x), a(x)) and Ĩ(y) = D_I*(p(y), â(y)) in one frozen call
        bg = hole = bg_hand = None
        if self.background is not None:
            # Ĩ(x) over x (x's hand and the mix's reading of it cut out), Ĩ(y) over the mix
            # (the mix's hand, x's, and y's cut out)
            hands_hat = self.hand_region(maps_hat.detach())
            hands_y = hands.index_select(0, y_idx)
            bg_hand = torch.cat([hands[:m], hands[:m]], 0)  # x's hand, and the mix shows it
            bg_x, hole_x = self.background.prepare(
                inputs[:m].to(p.dtype), hands[:m], hands_hat,
                clean=None if x_clean is None else x_clean[:m])
            bg_mix, hole_mix = self.background.prepare(
                mixed.to(p.dtype), (hands if own is None else own)[:m], hands_y)
            bg, hole = torch.cat([bg_x, bg_mix], 0), torch.cat([hole_x, hole_mix], 0)
        cyc = self._decode(
            torch.cat([p_hat, p_mix.index_select(0, y_idx)], 0),
            None if maps_mix is None else torch.cat([maps_hat, maps_mix.index_select(0, y_idx)]),
            torch.cat([a[:m], a_hat], 0), frozen=True, bg=bg, hole=hole, bg_hand=bg_hand)
        losses = dict(
            loss_cycle_img=self.loss_cycle_img(cyc[:m], inputs[:m]) +
            self.loss_cycle_img(cyc[m:], inputs.index_select(0, y_idx)),
            loss_dual_pose=self.loss_dual_pose(p_hat, p[:m]),
            loss_dual_img=self.loss_dual_img(a_hat, a.index_select(0, y_idx)))
        # (d) the pose decoder D_p* (frozen with detach_pose_estimator) on p̂(x) against x's
        # targets; its BatchNorm statistics are left alone.
        if self.loss_cycle_pose is not None:
            targets = torch.stack([s.gt_fields.heatmaps for s in samples_x]).to(maps_hat)
            weights = torch.cat([s.gt_instance_labels.keypoint_weights for s in samples_x])
            losses['loss_cycle_pose'] = self.loss_cycle_pose(maps_hat, targets,
                                                             weights.to(maps_hat))
            return losses
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
