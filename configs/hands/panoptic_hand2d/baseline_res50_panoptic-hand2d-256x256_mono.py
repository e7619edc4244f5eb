# Baseline: monochrome CMU Panoptic hand (ToMonochrome, 1-channel ResNet-50).
#   python tools/train.py configs/hands/panoptic_hand2d/baseline_res50_panoptic-hand2d-256x256_mono.py
_base_ = ['./_base_/mono.py']
custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)
