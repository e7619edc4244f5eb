# A label-exact conventional arm: Table 4 row (1) trained with AmplitudeMix (FACT, Xu et al.
# CVPR 2021): half of the crops get the Fourier amplitude of another crop mixed in (weight
# U(0, 1)), their phase (structure, keypoints) kept. See docs/augmentation.md.
_base_ = ['../selfdis/t4-1_baseline_unet_synthhands-mono-64x64.py']
custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)

input_size = (64, 64)  # the base's codec input_size
crop_pipeline = [
    dict(type='LoadImage'),
    dict(type='ToMonochrome'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=input_size),
]
train_pipeline = crop_pipeline + [
    dict(type='AmplitudeMix', prob=0.5, pre_transform=crop_pipeline, alpha=1.0, ratio=1.0),
    dict(type='GenerateTarget', encoder={{_base_.codec}}),
    dict(type='PackPoseInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
