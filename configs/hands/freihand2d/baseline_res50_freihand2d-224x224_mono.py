# Baseline: monochrome FreiHAND (ToMonochrome, 1-channel ResNet-50).
#   python tools/train.py configs/hands/freihand2d/baseline_res50_freihand2d-224x224_mono.py
_base_ = ['./_base_/mono.py']
custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)
