# Baseline: MMPose's ResNet-50 COCO-WholeBody-hand model as it is (RGB).
#   python tools/train.py configs/hands/coco_wholebody_hand/baseline_res50_coco-wholebody-hand-256x256_rgb.py
_base_ = ['./_base_/rgb.py']
custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)
