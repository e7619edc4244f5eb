# Self-disentanglement on RGB COCO-WholeBody-hand: the RGB baseline plus the snippet.
# Its checkpoint is the generator of selfdis-mix_res50_coco-wholebody-hand-256x256_rgb.py.
#   python tools/train.py configs/hands/coco_wholebody_hand/selfdis_res50_coco-wholebody-hand-256x256_rgb.py
_base_ = ['./baseline_res50_coco-wholebody-hand-256x256_rgb.py']
custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)
model = dict(
    type='SelfDisPoseEstimator',
    selfdis=dict(type='SelfDisHead', appearance_source='backbone.layer2'))
