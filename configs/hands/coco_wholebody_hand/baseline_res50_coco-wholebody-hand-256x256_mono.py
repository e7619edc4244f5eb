# Baseline: monochrome COCO-WholeBody-hand (ToMonochrome, 1-channel ResNet-50).
#   python tools/train.py configs/hands/coco_wholebody_hand/baseline_res50_coco-wholebody-hand-256x256_mono.py
_base_ = ['./_base_/mono.py']
custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)
