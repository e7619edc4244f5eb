# A label-exact conventional arm: Table 4 row (1) with MixStyle (Zhou et al. ICLR 2021) after
# the UNet encoder's first two blocks: in training, per batch with probability 0.5, the
# feature statistics of each sample are mixed with another sample's. See docs/augmentation.md.
_base_ = ['../selfdis/t4-1_baseline_unet_synthhands-mono-64x64.py']
custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='MixStyleBackbone',
        backbone={{_base_.model.backbone}},
        after=('stages.0', 'stages.1'),
        mixstyle=dict(p=0.5, alpha=0.1)))
