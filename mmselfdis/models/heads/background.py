"""Painting the hand over the appearance image (``SelfDisHead(background=...)``)."""
from typing import Dict, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from torch import Tensor

from ..networks import hand_region, soft_argmax
from ..utils.blur import gaussian_blur

__all__ = ['BackgroundPainter']

HOLE_BETA = 20.0  # soft-argmax of the heatmaps whose hands are cut out (as LimbMaps)


class BackgroundPainter:
    """The options and image operations of a decoder that paints over the appearance image.

    The decoder outputs an extra opacity channel ``α``; an image decoded with
    the appearance of ``y`` is ``α · paint + (1 − α) · y`` with ``α`` forced
    to 1 in a hole cut out of ``y`` (:meth:`composite`); holes are the hand
    regions of heatmaps (:meth:`hand_region`, capsules around the bones and
    the forearm). Optionally the decoder also sees ``y`` around the hole
    (``context``) and ``y``'s brightness statistics (``tones``); the head
    sizes the decoder with :meth:`app_channels` and :meth:`context_channels`
    and passes its inputs through :meth:`decoder_inputs`.

    Args:
        radius: Bone radius, a fraction of the crop side.
        arm_radius: Forearm radius, a fraction of the side.
        arm_length: Forearm length in wrist-to-knuckle lengths.
        context: The decoder's modulations also see ``y`` with the hole
            blanked out, and the hole, at every scale.
        tones: The decoder's appearance code also holds :meth:`tones` of
            ``y`` (where its own hand is, and the rest).
        inpaint: ``y``'s own hand is removed before painting by classical
            inpainting from ``y``'s own pixels (:meth:`prefill`, OpenCV's
            Telea method; not learnt, no gradient inside the region), and the
            hole is only where the hand is drawn: the decoder paints the hand,
            not the scene behind ``y``'s hand.
        paint_sigma: When mixing (the branch in eval mode: every mix of a
            loaded generator, the metric, the swap grids), the painted
            colour is low-passed by a Gaussian of this standard deviation in
            pixels of the crop before it is composited (0: off). Training is
            unchanged. The texture a generator paints on a hand it has not
            seen is not the true one at any pixel; a pixel-aligned measure
            counts it as error (docs/results.md, "A low-pass on the painted
            hand").
        fill_sigma: With ``inpaint``, when mixing (eval mode, as
            ``paint_sigma``), the inpainted fill where ``y``'s hand was is
            low-passed by a Gaussian of this standard deviation in pixels
            (0: off); the rest of ``y`` and the painted hand are unchanged.
            Classical inpainting continues the edges around the region into
            it as streaks that the true scene does not have (docs/results.md,
            "Smoothing the inpainted fill").
        fill_margin: With ``inpaint``, when mixing (eval mode, as
            ``paint_sigma``), the region of ``y``'s own hand that is inpainted
            away is grown by this fraction of the crop side (added to
            ``radius`` and ``arm_radius``; 0: off); the hole the decoder
            paints is unchanged. Inpainting fills the region from its
            boundary; where that still lies on ``y``'s hand's edge or forearm
            (outside the capsules), their dark is carried into the fill
            (docs/results.md, "Growing the inpainted region").
        inpaint_margin: With ``inpaint``, in training and when mixing, the
            region of an image's own hand that is inpainted away is grown by
            this fraction of the crop side (added to both radii; when mixing
            ``fill_margin`` adds to it; 0: off); the hole where the decoder
            must paint stays the drawn hand's region. The capsules miss the
            rims of the rendered hand (the palm's sides, the backs of bent
            fingers: 10 % of its pixels at ``radius=0.07``; ``tools/
            paired_ceiling.py``'s ``x_hand_in_hole``): a reconstruction over
            an image whose own hand is inpainted only inside them keeps those
            rims, so the decoder learns never to paint them, and a mix shows
            ``y``'s rims and none of ``x``'s. With the margin the rims are
            gone from what the decoder paints over, and it paints them with
            its opacity; the scene outside the hand stays ``y``'s pixels
            (docs/results.md, "The hand's rims").
    """

    KEYS = ('radius', 'arm_radius', 'arm_length', 'context', 'tones', 'inpaint', 'paint_sigma',
            'fill_sigma', 'fill_margin', 'inpaint_margin')

    def __init__(self, radius: float = 0.07, arm_radius: float = 0.1, arm_length: float = 2.5,
                 context: bool = False, tones: bool = False, inpaint: bool = False,
                 paint_sigma: float = 0.0, fill_sigma: float = 0.0,
                 fill_margin: float = 0.0, inpaint_margin: float = 0.0) -> None:
        self.region_options = dict(radius=radius, arm_radius=arm_radius,
                                   arm_length=arm_length)
        self.context = bool(context)
        self.with_tones = bool(tones)
        self.inpaint = bool(inpaint)
        if self.inpaint and self.with_tones:
            raise ValueError('selfdis.background: tones and inpaint are not combined (the '
                             'tones would be read from the inpainted image); choose one')
        self.paint_sigma = float(paint_sigma)
        if not self.paint_sigma >= 0:
            raise ValueError(f'selfdis.background.paint_sigma must be >= 0 (pixels; 0 = off), '
                             f'got {paint_sigma!r}')
        self.fill_sigma = float(fill_sigma)
        if not self.fill_sigma >= 0:
            raise ValueError(f'selfdis.background.fill_sigma must be >= 0 (pixels; 0 = off), '
                             f'got {fill_sigma!r}')
        if self.fill_sigma and not self.inpaint:
            raise ValueError('selfdis.background.fill_sigma smooths the inpainted fill: it needs '
                             'inpaint=True')
        self.fill_margin = self._margin('fill_margin', fill_margin)
        self.inpaint_margin = self._margin('inpaint_margin', inpaint_margin)

    def _margin(self, name: str, value: float) -> float:
        """A margin that grows the inpainted region: in ``[0, 0.5)``, and only with inpaint."""
        margin = float(value)
        if not 0 <= margin < 0.5:
            raise ValueError(f'selfdis.background.{name} must be in [0, 0.5) (a fraction of the '
                             f'crop side; 0 = off), got {value!r}')
        if margin and not self.inpaint:
            raise ValueError(f'selfdis.background.{name} grows the inpainted region: it needs '
                             f'inpaint=True')
        return margin

    @classmethod
    def from_cfg(cls, cfg: Optional[dict]) -> Optional['BackgroundPainter']:
        """``None`` for ``None``; else the painter of a ``selfdis.background`` dict."""
        if cfg is None:
            return None
        if not isinstance(cfg, dict) or set(cfg) - set(cls.KEYS):
            raise ValueError(f'selfdis.background must be None or a dict with keys from '
                             f'{cls.KEYS} (hand_region options, context, tones, inpaint, '
                             f'paint_sigma, fill_sigma, fill_margin, inpaint_margin), got '
                             f'{cfg!r}')
        return cls(**cfg)

    # ------------------------------------------------------------ decoder sizes
    def app_channels(self, image_channels: int) -> int:
        """Channels :meth:`decoder_inputs` adds to the appearance code."""
        return 4 * image_channels if self.with_tones else 0

    def context_channels(self, image_channels: int) -> int:
        """Channels of the decoder's context maps (0: none)."""
        return image_channels + 1 if self.context else 0

    # ---------------------------------------------------------------- operations
    def hand_region(self, maps: Tensor, size: Sequence[int], margin: float = 0.0) -> Tensor:
        """Where the hand of heatmaps ``maps`` covers a crop of ``size`` ``(h, w)``;
        ``margin`` (a fraction of the side) is added to both radii.

        Note:
            - maps: ``(N, K, h, w)``; return: ``(N, 1, H, W)``
        """
        points, conf = soft_argmax(maps, HOLE_BETA)
        options = dict(self.region_options)
        if margin:
            options['radius'] += margin
            options['arm_radius'] += margin
        return hand_region(points.to(maps.dtype), conf.to(maps.dtype), size, **options)

    def prepare(self, bg: Tensor, bg_hand: Tensor, drawn: Tensor,
                clean: Optional[Tensor] = None,
                fill_sigma: float = 0.0) -> Tuple[Tensor, Tensor]:
        """The image to paint over and the hole, for a hand drawn at ``drawn`` over ``bg``
        whose own hand is at ``bg_hand``.

        Without ``inpaint``: ``bg`` as it is, and both hands' regions as the hole; with
        it: ``bg`` with its own hand inpainted away (:meth:`prefill`; ``clean`` when that
        was computed already; its fill low-passed with ``fill_sigma`` > 0), and the drawn
        hand's region as the hole.

        Note:
            - bg, clean: ``(N, C, H, W)``; bg_hand, drawn, the hole: ``(N, 1, H, W)``
        """
        if self.inpaint:
            if clean is None:
                clean = self.prefill(bg, bg_hand, sigma=fill_sigma)
            return clean, drawn
        return bg, torch.maximum(bg_hand, drawn)

    @staticmethod
    def prefill(img: Tensor, region: Tensor, radius: float = 3.0,
                sigma: float = 0.0) -> Tensor:
        """``img`` with ``region > 0.5`` filled by OpenCV's inpainting (Telea) from the
        pixels around it, per image and channel.

        The filled values are constants (no gradient); elsewhere ``img`` passes
        through unchanged, gradient included. Each image and channel is mapped to
        ``0..255`` for the inpainting and back, so the result does not depend on the
        scale of the values (image or normalised space). ``sigma > 0``: the fill is
        low-passed by a Gaussian of that standard deviation (pixels) after inpainting.

        Note:
            - img: ``(N, C, H, W)``; region: ``(N, 1, H, W)``; return: like ``img``
        """
        mask = (region > 0.5).to(img.dtype)
        src = img.detach().float().cpu().numpy()
        masks = mask[:, 0].detach().cpu().numpy().astype(np.uint8)
        fill = src.copy()
        for i in range(src.shape[0]):
            if not masks[i].any():
                continue
            for c in range(src.shape[1]):
                # OpenCV's inpainting depends on the values' scale: run it on 0..255 (each
                # image and channel mapped there and back), the scale it is made for
                lo, hi = float(src[i, c].min()), float(src[i, c].max())
                span = max(hi - lo, 1e-6) / 255.0
                filled = cv2.inpaint(np.ascontiguousarray((src[i, c] - lo) / span), masks[i],
                                     radius, cv2.INPAINT_TELEA)
                if sigma > 0:
                    filled = cv2.GaussianBlur(filled, (0, 0), sigma)
                fill[i, c] = filled * span + lo
        fill = torch.from_numpy(fill).to(img.device, img.dtype)
        return img * (1 - mask) + fill * mask

    def decoder_inputs(self, a: Tensor, bg: Tensor, hole: Tensor,
                       bg_hand: Optional[Tensor]) -> Tuple[Tensor, Dict[str, Tensor]]:
        """The appearance code (with ``tones``) and the decoder's keyword inputs (``context``).

        Args:
            a: Appearance code ``(N, C_a, h, w)``.
            bg: The appearance images, normalised ``(N, C, H, W)``.
            hole: Where the decoder must paint ``(N, 1, H, W)``.
            bg_hand: Where ``bg``'s own hands are ``(N, 1, H, W)`` (for ``tones``).
        """
        kwargs = {}
        if self.with_tones:
            if bg_hand is None:
                raise RuntimeError('selfdis.background.tones: the decoder needs where the '
                                   'appearance images\' hands are')
            a = torch.cat([a, self.tones(bg, bg_hand).expand(-1, -1, *a.shape[-2:])], 1)
        if self.context:
            kwargs['context'] = torch.cat([bg * (1 - hole), hole], 1)
        return a, kwargs

    @staticmethod
    def composite(out: Tensor, bg: Tensor, hole: Tensor, sigma: float = 0.0) -> Tensor:
        """``α · paint + (1 − α) · bg`` with ``α = hole + (1 − hole) · σ(out's last channel)``.

        ``sigma > 0``: ``paint`` low-passed first (:func:`gaussian_blur`).

        Note:
            - out: ``(N, C + 1, H, W)``; bg: ``(N, C, H, W)``; hole: ``(N, 1, H, W)``
            - return: ``(N, C, H, W)``
        """
        paint, alpha = out[:, :-1], torch.sigmoid(out[:, -1:])
        if sigma > 0:
            paint = gaussian_blur(paint, sigma)
        alpha = hole + (1 - hole) * alpha
        return alpha * paint + (1 - alpha) * bg

    @staticmethod
    def tones(img: Tensor, hand: Tensor, eps: float = 1e-3) -> Tensor:
        """Per channel the mean and standard deviation of ``img`` over ``hand`` and over
        the rest (soft masks: weighted), ``[mean_hand, std_hand, mean_rest, std_rest]``.

        Masked averages: they say how bright the hand and the scene are, not where
        the hand is.

        Note:
            - img: ``(N, C, H, W)``; hand: ``(N, 1, H, W)`` in ``[0, 1]``
            - return: ``(N, 4 C, 1, 1)``
        """
        out = []
        for w in (hand, 1 - hand):
            area = w.sum((2, 3), keepdim=True).clamp(min=eps)
            mean = (img * w).sum((2, 3), keepdim=True) / area
            var = ((img - mean)**2 * w).sum((2, 3), keepdim=True) / area
            out += [mean, (var + eps).sqrt()]
        return torch.cat(out, 1)

    def __repr__(self) -> str:
        return (f'BackgroundPainter({self.region_options}, context={self.context}, '
                f'tones={self.with_tones}, inpaint={self.inpaint}, '
                f'paint_sigma={self.paint_sigma}, fill_sigma={self.fill_sigma}, '
                f'fill_margin={self.fill_margin}, inpaint_margin={self.inpaint_margin})')
