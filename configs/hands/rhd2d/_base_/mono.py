# RHD, monochrome (the paper's setting on a real RGB dataset): every image becomes one
# grey channel right after loading, the backbone takes 1-channel input (its first conv is
# then trained from scratch; the rest still starts from ImageNet) and the data preprocessor
# normalises one channel. Everything else is the RGB config.
_base_ = ['./rgb.py']
custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)

model = dict(
    data_preprocessor=dict(mean=[127.5], std=[127.5], bgr_to_rgb=False),
    backbone=dict(in_channels=1))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='ToMonochrome'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform', rotate_factor=180, scale_factor=(0.7, 1.3)),
    dict(type='TopdownAffine', input_size={{_base_.codec.input_size}}),
    dict(type='GenerateTarget', encoder={{_base_.codec}}),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='ToMonochrome'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size={{_base_.codec.input_size}}),
    dict(type='PackPoseInputs'),
]
appearance_crop = [
    dict(type='LoadImage'),
    dict(type='ToMonochrome'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size={{_base_.codec.input_size}}),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = val_dataloader
