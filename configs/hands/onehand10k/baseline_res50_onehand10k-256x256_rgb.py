# Baseline: MMPose's ResNet-50 OneHand10K model as it is (RGB).
#   python tools/train.py configs/hands/onehand10k/baseline_res50_onehand10k-256x256_rgb.py
_base_ = ['./_base_/rgb.py']
custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)
