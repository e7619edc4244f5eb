# Baseline: a plain MMPose top-down heatmap model for 21-keypoint hands
# (OneHand10K / COCO-WholeBody-hand order), RGB 64x64 input, ResNet-18.
# It inherits MMPose's own OneHand10K config and changes only what differs:
# input size, backbone depth, a short schedule, and the data, which are the
# real OneHand10K samples in shared/data/mmpose-hand-samples (so it trains
# and evaluates in seconds on a CPU): shared/ beside the checkout, or the folder
# that the environment variable MMSELFDIS_HAND_SAMPLES names. Point `data_root`
# at a full OneHand10K copy for a real run (see docs/datasets.md).
_base_ = ['mmpose::hand_2d_keypoint/topdown_heatmap/onehand10k/'
          'td-hm_res50_8xb32-210e_onehand10k-256x256.py']
custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)

data_root = ('{{$MMSELFDIS_HAND_SAMPLES:{{ fileDirname }}/../../../shared/data/mmpose-hand-samples}}'
             '/onehand10k/')
ann_file = 'test_onehand10k.json'

train_cfg = dict(max_epochs=20, val_interval=10)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=5, start_factor=0.1, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=20, milestones=[15], gamma=0.1, by_epoch=True),
]
# NonFiniteLossOptimWrapper: a NaN/Inf loss stops the run with its name before any
# parameter is updated with it (action='skip' skips such steps instead).
optim_wrapper = dict(type='NonFiniteLossOptimWrapper', optimizer=dict(type='Adam', lr=1e-3))
auto_scale_lr = dict(base_batch_size=4)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=5),
    checkpoint=dict(type='CheckpointHook', interval=10, save_best='AUC', rule='greater'))
randomness = dict(seed=0)

codec = dict(type='MSRAHeatmap', input_size=(64, 64), heatmap_size=(32, 32), sigma=1.5)
model = dict(
    backbone=dict(type='ResNet', depth=18, init_cfg=None),
    head=dict(
        in_channels=512,
        deconv_out_channels=(64, 64, 64, 64),
        deconv_kernel_sizes=(4, 4, 4, 4),
        decoder=codec))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform', rotate_factor=30, scale_factor=(0.8, 1.2)),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs'),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root, ann_file=ann_file, data_prefix=dict(img=''),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root, ann_file=ann_file, data_prefix=dict(img=''),
        pipeline=val_pipeline))
test_dataloader = val_dataloader

# ExactResumeHook: a resumed run (also from a mid-epoch checkpoint) continues
# exactly as an uninterrupted one.
custom_hooks = [
    dict(type='SyncBuffersHook'),
    dict(type='ExactResumeHook'),
]
