# The conventional-augmentation arm: Table 4 row (1) trained with AppearanceJitter
# (brightness/contrast/gamma, blur, sensor noise, background and patch cut-paste from
# other samples outside the hand), the strongest appearance augmentation MMPose offers,
# made to work on one grey channel. See docs/augmentation.md.
_base_ = ['../selfdis/t4-1_baseline_unet_synthhands-mono-64x64.py']
custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)

input_size = (64, 64)  # the base's codec input_size
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='ToMonochrome'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='AppearanceJitter'),
    dict(type='GenerateTarget', encoder={{_base_.codec}}),
    dict(type='PackPoseInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
