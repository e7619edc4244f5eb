# Base pose config of the augmentation-ratio study (paper §4.5, docs/augmentation.md):
# Table 4 row (1), the baseline UNet pose estimator on SynthHands, trained without
# augmentation. tools/ratio_study.py adds MixReconstruct(prob=r) and/or AppearanceJitter
# right after TopdownAffine for each arm; every arm shares budget and seed.
#   python tools/ratio_study.py configs/augment/ratio-study_unet_synthhands-mono-64x64.py \
#       --preset cpu-small --work-dir work_dirs/ratio_study
_base_ = ['../selfdis/t4-1_baseline_unet_synthhands-mono-64x64.py']
custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)
randomness = dict(seed=0)
