# Shared settings of the paper's Table 4 rows on the synthetic paired set
# (SynthHandDataset, 64x64 monochrome crops, 21 OneHand10K-order keypoints).
# On its own this file is row (1), the baseline pose estimator; every row file
# inherits it and changes only what differs.
#
# Model (paper §4.2): UNet-style encoder without skip connections (depth 4, two
# 3x3 conv + ReLU per block, 2x2 max-pool) and an ordinary MMPose HeatmapHead
# with 2x2 deconvolutions as the pose decoder D_p.
#
# Scale. The defaults are "CPU-small": narrow channels and a few short epochs,
# so every row trains on 2 CPU cores in minutes. Paper scale (§4.2): 75 epochs,
# batch 128, Adam with a fixed lr of 1e-3, full-width UNet (base 64 channels):
#   --cfg-options train_cfg.max_epochs=75 train_dataloader.batch_size=128 \
#       model.backbone.base_channels=64 model.head.in_channels=512 \
#       model.head.deconv_out_channels="[256,128,64,32]"
# (rows 4-6 then load epoch_75.pth of row 3: set load_from accordingly).
_base_ = ['mmpose::_base_/default_runtime.py']
custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)

max_epochs = 4  # paper: 75
batch_size = 32  # paper: 128
base_channels = 16  # paper: 64

train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3))  # fixed lr, no schedule (paper)
param_scheduler = []
auto_scale_lr = dict(base_batch_size=batch_size)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=1, save_last=True,
                    save_best='EPE', rule='less'))
randomness = dict(seed=0)

codec = dict(type='MSRAHeatmap', input_size=(64, 64), heatmap_size=(64, 64), sigma=2)

model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(type='PoseDataPreprocessor', mean=[127.5], std=[127.5]),
    backbone=dict(type='UNetEncoder', in_channels=1, base_channels=base_channels, depth=4),
    head=dict(
        type='HeatmapHead',
        in_channels=base_channels * 8,
        out_channels=21,
        deconv_out_channels=(base_channels * 4, base_channels * 2, base_channels,
                             base_channels),
        deconv_kernel_sizes=(2, 2, 2, 2),
        loss=dict(type='KeypointMSELoss', use_target_weight=True),
        decoder=codec),
    test_cfg=dict(flip_test=False))

# data: 64x64 crops; no random geometric augmentation (the paper uses none, and the
# paired baseline needs both members of a pair to keep the same pose)
dataset_type = 'SynthHandDataset'
data_mode = 'topdown'
data_root = 'data/synthhands/'

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='ToMonochrome'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='ToMonochrome'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs'),
]

train_dataloader = dict(
    batch_size=batch_size,
    num_workers=2,
    persistent_workers=True,
    collate_fn=dict(type='shared_pseudo_collate'),  # one shared-memory block per field
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        ann_file='annotations/train.json',
        data_prefix=dict(img=''),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    collate_fn=dict(type='shared_pseudo_collate'),  # one shared-memory block per field
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        ann_file='annotations/val.json',
        data_prefix=dict(img=''),
        test_mode=True,
        pipeline=val_pipeline))
# the appearance-shift split: --cfg-options test_dataloader.dataset.ann_file=annotations/test_shift.json
test_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    collate_fn=dict(type='shared_pseudo_collate'),  # one shared-memory block per field
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        ann_file='annotations/test.json',
        data_prefix=dict(img=''),
        test_mode=True,
        pipeline=val_pipeline))

# EPE is the paper's "MSE in pixels" (mean distance of predicted to true keypoints)
val_evaluator = [dict(type='EPE'), dict(type='PCKAccuracy', thr=0.2), dict(type='AUC')]
test_evaluator = val_evaluator
