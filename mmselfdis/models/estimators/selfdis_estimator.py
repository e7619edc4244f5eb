"""Top-down pose estimator with the self-disentanglement branch."""
from typing import Any, Optional, Tuple

import torch
from torch import Tensor

from mmpose.models.pose_estimators import TopdownPoseEstimator
from mmpose.registry import MODELS
from mmpose.utils.typing import ConfigType, OptConfigType, OptMultiConfig, SampleList

__all__ = ['SelfDisPoseEstimator']


@MODELS.register_module()
class SelfDisPoseEstimator(TopdownPoseEstimator):
    """A :class:`TopdownPoseEstimator` trained with self-disentanglement.

    ``backbone``, ``neck``, ``head``, ``data_preprocessor``, ``train_cfg`` and
    ``test_cfg`` keep their MMPose meaning and are used unchanged; ``selfdis``
    adds the auxiliary branch (:class:`SelfDisHead`: appearance encoder, image
    decoder, discriminator and the losses of paper eq. (2)–(7)). Only
    :meth:`loss` differs from the base class, by one call; :meth:`predict`
    is inherited, so the branch costs nothing at test time and
    ``tools/export.py`` can drop it.

    Args:
        backbone: The backbone config (``E_p``).
        neck: The neck config. Defaults to ``None``.
        head: The head config (``D_p``, its loss is ``L_p``).
        selfdis: The :class:`SelfDisHead` config. Defaults to
            ``dict(type='SelfDisHead')``.
        train_cfg: The runtime config for training.
        test_cfg: The runtime config for testing.
        data_preprocessor: The data preprocessor config.
        init_cfg: The initialisation config.
        metainfo: Dataset meta information overriding the batch's.
    """

    def __init__(self,
                 backbone: ConfigType,
                 neck: OptConfigType = None,
                 head: OptConfigType = None,
                 selfdis: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None,
                 metainfo: Optional[dict] = None):
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg,
            metainfo=metainfo)
        self.selfdis = MODELS.build(selfdis if selfdis is not None else dict(type='SelfDisHead'))
        self.selfdis.bind(self)

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        """Calculate losses from a batch of inputs and data samples.

        Args:
            inputs (Tensor): Inputs with shape (N, C, H, W).
            data_samples (List[:obj:`PoseDataSample`]): The batch
                data samples.

        Returns:
            dict: A dictionary of losses: the head's (``L_p``) and the
            branch's (``loss_img``, ``loss_d``, ``loss_g``, ``loss_cycle_*``,
            ``loss_dual_*``).
        """
        feats = self.extract_feat(inputs)

        losses = dict()

        if self.with_head:
            losses.update(
                self.head.loss(feats, data_samples, train_cfg=self.train_cfg))
        losses.update(
            self.selfdis.loss(inputs, feats, data_samples, estimator=self,
                              train_cfg=self.train_cfg))

        return losses

    # ------------------------------------------------------------ public helpers
    def encode(self, img: Tensor) -> Tuple[Tensor, Tensor]:
        """Images (image space) → pose and appearance factors ``(p, a)``.

        Args:
            img: Images as the data pipeline delivers them (``0..255``, BGR or
                monochrome, same channels as the training inputs).

        Returns:
            tuple: ``p`` and ``a``.

        Note:
            - img: ``(N, C, H, W)`` at the training crop size
            - return: ``(N, C_p, h, w)`` and ``(N, C_a, h, w)``
        """
        x = self.selfdis.to_model_space(img, self.data_preprocessor)
        return self.selfdis.encode(self, x)

    def decode(self, p: Tensor, a: Tensor, pose_maps: Optional[Tensor] = None,
               background: Optional[Tensor] = None,
               background_maps: Optional[Tensor] = None) -> Tensor:
        """Pose and appearance factors → images (image space, float, not clamped).

        Args:
            p: Pose factor.
            a: Appearance factor.
            pose_maps: Heatmaps of the pose to draw (a pose-map decoder; see
                :meth:`SelfDisHead.decode`); needed with
                ``pose_maps_from='labels'``.
            background: The images ``a`` was encoded from (image space); a
                generator that paints the hand over them
                (``selfdis.background``) needs them. Their hands are where
                ``background_maps`` (heatmaps, e.g. :meth:`SelfDisHead.label_maps`
                of their keypoints) say, else where the pose model finds them.

        Returns:
            Images in the input's space (``0..255``, BGR or monochrome).

        Note:
            - p: ``(N, C_p, h, w)``; a: ``(N, C_a, h, w)``; background: ``(N, C, H, W)``
            - return: ``(N, C, H, W)``
        """
        bg = bg_maps = None
        if self.selfdis.background is not None and background is not None:
            bg = self.selfdis.to_model_space(background.to(p.device).float(),
                                             self.data_preprocessor)
            if background_maps is not None:
                bg_maps = background_maps.to(p.device)
            else:
                bg_maps = self.selfdis._pose_maps([self.selfdis.encode(self, bg)[0]],
                                                  trainable=False)
        return self.selfdis.to_image_space(
            self.selfdis.decode(p, a, pose_maps, background=bg, background_maps=bg_maps),
            self.data_preprocessor)

    @property
    def draws_labels(self) -> bool:
        """Whether mixing needs the pose images' keypoints (``pose_maps_from='labels'``)."""
        return self.selfdis.pose_maps_from == 'labels'

    def mix(self, img_pose: Tensor, img_app: Tensor, keypoints: Optional[Any] = None,
            keypoints_visible: Optional[Any] = None,
            pose_maps: Optional[Tensor] = None, app_keypoints: Optional[Any] = None,
            app_keypoints_visible: Optional[Any] = None) -> Tensor:
        """Images with the pose of ``img_pose`` and the appearance of ``img_app``.

        ``D_I([p(img_pose), a(img_app)])`` with both encoded in one call. Runs
        in the model's current mode and grad mode (wrap it in
        ``torch.no_grad()`` and call ``eval()`` for inference).

        Args:
            img_pose: Images giving the pose (image space).
            img_app: Images giving the appearance (image space); a batch of
                one is used for every pose image.
            keypoints: ``(N, K, 2)`` keypoints of ``img_pose`` in crop
                pixels. A generator trained with ``pose_maps_from='labels'``
                draws them (and needs them); others read the pose from
                ``img_pose`` and ignore them.
            keypoints_visible: ``(N, K)`` visibility of ``keypoints``.
            pose_maps: Instead of ``keypoints``: their heatmaps in the pose
                head's codec (e.g. the data samples' ``gt_fields.heatmaps``).
            app_keypoints: ``(N, K, 2)`` (or ``(1, K, 2)``) keypoints of
                ``img_app`` in its crop pixels, with ``app_keypoints_visible``:
                a generator that paints over the appearance image
                (``selfdis.background``) cuts its hand out where they are;
                without them, where the pose model finds it.

        Returns:
            The mixed images in image space (float, not clamped).

        Note:
            - img_pose: ``(N, C, H, W)``; img_app: ``(N, C, H, W)`` or ``(1, C, H, W)``
            - return: ``(N, C, H, W)``
        """
        n = img_pose.shape[0]
        if img_app.shape[0] not in (1, n) or img_app.shape[1:] != img_pose.shape[1:]:
            raise ValueError(f'img_app {tuple(img_app.shape)} must match img_pose '
                             f'{tuple(img_pose.shape)} (or be a batch of one)')
        maps = None
        if self.draws_labels:
            if pose_maps is not None:
                maps = pose_maps
            elif keypoints is not None:
                maps = self.selfdis.label_maps(keypoints, keypoints_visible)
            else:
                raise ValueError("this generator draws the pose images' labelled keypoints "
                                 "(selfdis.pose_maps_from='labels'): pass keypoints (N, K, 2) "
                                 "in crop pixels and keypoints_visible (N, K)")
            if maps.shape[0] != n:
                raise ValueError(f'{maps.shape[0]} keypoint sets for {n} pose images')
        p, a = self.encode(torch.cat([img_pose, img_app], 0))
        a_app = a[n:].expand(n, -1, -1, -1) if img_app.shape[0] == 1 else a[n:]
        if self.selfdis.background is None:
            return self.decode(p[:n], a_app, maps)
        # painted over the appearance images; their hands where their keypoints say, else
        # where the pose model finds them (in the codes just encoded)
        if app_keypoints is not None:
            app_maps = self.selfdis.label_maps(app_keypoints, app_keypoints_visible)
        else:
            app_maps = self.selfdis._pose_maps([p[n:]], trainable=False)
        return self.decode(p[:n], a_app, maps, background=img_app.expand(n, -1, -1, -1),
                           background_maps=app_maps.expand(n, -1, -1, -1))
