# Table 4, row (2): pose estimator + image reconstruction (the AutoEncoder of Table 2,
# paper §3.2): L_p + L_I + GAN, no mix and no cycle. The appearance encoder shares the
# first three UNet blocks ("before the last down-sampling layer", §4.2).
_base_ = ['./_base_/unet_synthhands-mono-64x64.py']
custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)
model = dict(
    type='SelfDisPoseEstimator',
    selfdis=dict(type='SelfDisHead', appearance_source='backbone.stages.2', mix_ratio=0.0))
