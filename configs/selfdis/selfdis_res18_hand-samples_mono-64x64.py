# The snippet applied to the project's monochrome baseline (ResNet-18, 64x64, the real
# OneHand10K samples): trains in seconds on a CPU, used by the end-to-end tests.
_base_ = ['../baseline/td-hm_res18_hand-samples_mono-64x64.py']

custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)
model = dict(
    type='SelfDisPoseEstimator',
    selfdis=dict(type='SelfDisHead', appearance_source='backbone.layer2'))
