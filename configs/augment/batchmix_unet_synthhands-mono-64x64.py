# Mixed images made on the training device, a batch at a time: BatchMixReconstruct in
# PoseDataPreprocessor.batch_augments gives each sample, with probability `mix_ratio`,
# the appearance of another sample of the batch. The generator is not part of the
# trained model (not in its state_dict, parameters or optimizer). mean/std are those of
# this preprocessor, so the augment can undo the normalisation. See docs/augmentation.md.
_base_ = ['../selfdis/t4-1_baseline_unet_synthhands-mono-64x64.py']
custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)

generator_checkpoint = 'work_dirs/t4-3_selfdis_unet_synthhands-mono-64x64/epoch_4.pth'
mix_ratio = 0.5

model = dict(
    data_preprocessor=dict(
        type='PoseDataPreprocessor', mean=[127.5], std=[127.5],
        batch_augments=[
            dict(type='BatchMixReconstruct', checkpoint=generator_checkpoint, prob=mix_ratio,
                 mean=[127.5], std=[127.5], bgr_to_rgb=False),
        ]))
