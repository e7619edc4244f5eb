# Self-disentanglement on monochrome COCO-WholeBody-hand: the monochrome baseline plus the snippet.
# Its checkpoint is the generator of selfdis-mix_res50_coco-wholebody-hand-256x256_mono.py.
#   python tools/train.py configs/hands/coco_wholebody_hand/selfdis_res50_coco-wholebody-hand-256x256_mono.py
_base_ = ['./baseline_res50_coco-wholebody-hand-256x256_mono.py']
custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)
model = dict(
    type='SelfDisPoseEstimator',
    selfdis=dict(type='SelfDisHead', appearance_source='backbone.layer2'))
