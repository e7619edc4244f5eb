# Baseline: MMPose's ResNet-50 FreiHAND model as it is (RGB).
#   python tools/train.py configs/hands/freihand2d/baseline_res50_freihand2d-224x224_rgb.py
_base_ = ['./_base_/rgb.py']
custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)
