# Baseline: monochrome RHD (ToMonochrome, 1-channel ResNet-50).
#   python tools/train.py configs/hands/rhd2d/baseline_res50_rhd2d-256x256_mono.py
_base_ = ['./_base_/mono.py']
custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)
