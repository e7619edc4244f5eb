# Baseline across datasets (RGB): MMPose's ResNet-50 hand model trained on RHD + OneHand10K.
#   python tools/train.py configs/hands/combined/baseline_res50_rhd2d-onehand10k-256x256_rgb.py
_base_ = ['./_base_/rgb.py']
custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)
