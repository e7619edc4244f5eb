# Self-disentanglement on RGB OneHand10K: the RGB baseline plus the snippet.
# Its checkpoint is the generator of selfdis-mix_res50_onehand10k-256x256_rgb.py.
#   python tools/train.py configs/hands/onehand10k/selfdis_res50_onehand10k-256x256_rgb.py
_base_ = ['./baseline_res50_onehand10k-256x256_rgb.py']
custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)
model = dict(
    type='SelfDisPoseEstimator',
    selfdis=dict(type='SelfDisHead', appearance_source='backbone.layer2'))
