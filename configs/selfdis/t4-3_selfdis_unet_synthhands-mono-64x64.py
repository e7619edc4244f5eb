# Table 4, row (3): self-disentanglement (paper §3.1-3.5), with pose detach and pose
# estimator detach (the decoders inside the cycle are frozen).
_base_ = ['./_base_/unet_synthhands-mono-64x64.py']
custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)
model = dict(
    type='SelfDisPoseEstimator',
    selfdis=dict(type='SelfDisHead', appearance_source='backbone.stages.2'))
