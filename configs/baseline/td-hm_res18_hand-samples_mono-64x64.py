# The monochrome variant of the baseline (the paper's setting): images are
# converted to one grey channel right after loading, the backbone takes
# 1-channel input and the data preprocessor normalises one channel.
_base_ = ['./td-hm_res18_hand-samples_rgb-64x64.py']

model = dict(
    data_preprocessor=dict(mean=[127.5], std=[127.5], bgr_to_rgb=False),
    backbone=dict(in_channels=1))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='ToMonochrome'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform', rotate_factor=30, scale_factor=(0.8, 1.2)),
    dict(type='TopdownAffine', input_size=(64, 64)),
    dict(type='GenerateTarget', encoder={{_base_.codec}}),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='ToMonochrome'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=(64, 64)),
    dict(type='PackPoseInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = val_dataloader
