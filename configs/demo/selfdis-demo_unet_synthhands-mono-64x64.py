# The end-to-end demo's model (tools/demo.py): Table 4 row (3), self-disentanglement,
# sized to train on 2 CPU cores in about a quarter of an hour, evaluated with the
# disentanglement metrics (docs/metrics.md).
#
# Differences from the paper's model (§4.2), each to learn within the budget
# (docs/config.md, "How the demo departs from the paper"; A/B in docs/results.md):
# - BatchNorm after every encoder convolution;
# - 16x16 heatmaps (the usual 1/4 of the input size) instead of 64x64: two 2x2
#   deconvolutions in the pose decoder instead of four;
# - a coarse appearance code (selfdis.encoder.pool_grid=2): the appearance feature
#   averaged over each quarter of the crop and repeated over it, so it can say
#   where the light and the background change but not where the fingers are;
# - the pose enters the image decoder as limb maps at every scale, down to the
#   full resolution (PoseModulatedDecoder(pose_encoding='limbs', full_resolution=True):
#   SPADE-style), and the appearance code modulates the same layers (AdaIN-style),
#   instead of the concatenation [p, a];
# - the limbs drawn are the pose image's labelled keypoints (pose_maps_from='labels'),
#   not the pose model's reading of it, so a mix shows the keypoints it is labelled
#   with; the cycle still reads each mix with the frozen pose model;
# - the reconstruction loss counts the hand's pixels five times (foreground_weight=4);
# - the cycle-pose loss is the L1 of the paper's eq. (6) on the heatmaps
#   (KeypointL1Loss) instead of the head's MSE, weighted to matter next to the
#   image terms;
# - the discriminator sees each image with the heatmaps of the pose it should
#   show (gan_condition='pose'), so a mix that copies y is not "real" to it.
_base_ = ['../eval/t4-3_selfdis_unet_synthhands-mono-64x64_disent.py']
custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)

# 14 epochs: the full-resolution limb decoder costs about 2.2x the CPU time per step of
# the heatmap decoder that trained 28 epochs in the same quarter of an hour (docs/results.md)
max_epochs = 14
train_cfg = dict(max_epochs=max_epochs, val_interval=10**6)  # evaluated once, by tools/test.py
default_hooks = dict(
    logger=dict(interval=25),
    checkpoint=dict(interval=1, max_keep_ckpts=1, save_last=True, save_best=None))

codec = dict(type='MSRAHeatmap', input_size=(64, 64), heatmap_size=(16, 16), sigma=2)
model = dict(
    backbone=dict(norm_cfg=dict(type='BN')),
    head=dict(deconv_out_channels=(64, 32), deconv_kernel_sizes=(2, 2), decoder=codec),
    selfdis=dict(
        encoder=dict(pool_grid=2),
        decoder=dict(type='PoseModulatedDecoder', pose_encoding='limbs', full_resolution=True,
                     limb_cfg=dict(with_keypoints=False, max_size=32)),
        pose_maps_from='labels',
        foreground_weight=4.0,
        gan_condition='pose',
        loss_cycle_pose=dict(type='KeypointL1Loss', use_target_weight=True, loss_weight=10.0),
        # The demo is about the generator; its figures in docs/results.md were measured with
        # the plain sum of the losses on the shared layers (the head's default caps the image
        # branch's gradient there, for the pose model's sake: docs/reproduce.md).
        grad_balance=None))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='ToMonochrome'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
# channels-last convolutions: more iterations per minute on CPUs (docs/results.md)
custom_hooks = [
    dict(type='SyncBuffersHook'),
    dict(type='DisentanglementMetricHook'),
    dict(type='SwapGridHook', interval=200, num_pose=6, num_appearance=6),
    dict(type='ChannelsLastHook'),
]
