# Baseline: monochrome OneHand10K (ToMonochrome, 1-channel ResNet-50).
#   python tools/train.py configs/hands/onehand10k/baseline_res50_onehand10k-256x256_mono.py
_base_ = ['./_base_/mono.py']
custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)
