# Baseline: MMPose's ResNet-50 CMU Panoptic hand model as it is (RGB).
#   python tools/train.py configs/hands/panoptic_hand2d/baseline_res50_panoptic-hand2d-256x256_rgb.py
_base_ = ['./_base_/rgb.py']
custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)
