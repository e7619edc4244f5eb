# Table 4, row (1): the baseline pose estimator (paper §3.1), trained with L_p only.
_base_ = ['./_base_/unet_synthhands-mono-64x64.py']
custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)
