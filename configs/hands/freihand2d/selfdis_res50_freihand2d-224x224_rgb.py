# Self-disentanglement on RGB FreiHAND: the RGB baseline plus the snippet.
# Its checkpoint is the generator of selfdis-mix_res50_freihand2d-224x224_rgb.py.
#   python tools/train.py configs/hands/freihand2d/selfdis_res50_freihand2d-224x224_rgb.py
_base_ = ['./baseline_res50_freihand2d-224x224_rgb.py']
custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)
model = dict(
    type='SelfDisPoseEstimator',
    selfdis=dict(type='SelfDisHead', appearance_source='backbone.layer2'))
