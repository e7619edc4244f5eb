# Table 4 row (1) trained on an offline mixed set written by tools/synthesize.py:
#   python tools/synthesize.py configs/selfdis/t4-1_baseline_unet_synthhands-mono-64x64.py \
#       work_dirs/t4-3_selfdis_unet_synthhands-mono-64x64/epoch_4.pth data/synthhands-mixed
# The crops are already at the input size and their bbox is the crop, so
# GetBBoxCenterScale uses padding=1.0 (the crop as it is). Validation and test stay on
# the original SynthHands splits. See docs/augmentation.md.
_base_ = ['../selfdis/t4-1_baseline_unet_synthhands-mono-64x64.py']
custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)

input_size = (64, 64)  # the base's codec input_size
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='ToMonochrome'),
    dict(type='GetBBoxCenterScale', padding=1.0),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='GenerateTarget', encoder={{_base_.codec}}),
    dict(type='PackPoseInputs'),
]
train_dataloader = dict(
    dataset=dict(data_root='data/synthhands-mixed/', ann_file='annotations/train.json',
                 pipeline=train_pipeline))
