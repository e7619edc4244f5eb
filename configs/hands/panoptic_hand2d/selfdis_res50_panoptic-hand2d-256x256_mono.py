# Self-disentanglement on monochrome CMU Panoptic hand: the monochrome baseline plus the snippet.
# Its checkpoint is the generator of selfdis-mix_res50_panoptic-hand2d-256x256_mono.py.
#   python tools/train.py configs/hands/panoptic_hand2d/selfdis_res50_panoptic-hand2d-256x256_mono.py
_base_ = ['./baseline_res50_panoptic-hand2d-256x256_mono.py']
custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)
model = dict(
    type='SelfDisPoseEstimator',
    selfdis=dict(type='SelfDisHead', appearance_source='backbone.layer2'))
