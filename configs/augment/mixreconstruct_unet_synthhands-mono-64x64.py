# Table 4 row (1), the baseline pose estimator, trained with mixed images (paper §4.5):
# MixReconstruct replaces the image of a share `mix_ratio` of the training samples by
# the sample's pose rendered with another sample's appearance, through a frozen
# generator (a self-disentanglement checkpoint). Labels stay the pose sample's.
#   python tools/train.py configs/selfdis/t4-3_selfdis_unet_synthhands-mono-64x64.py
#   python tools/train.py configs/augment/mixreconstruct_unet_synthhands-mono-64x64.py
# The path is copied into the pipeline when this file is read, so override it with
#   --cfg-options train_dataloader.dataset.pipeline.4.checkpoint=PATH
# (or set generator_checkpoint in a child config). See docs/augmentation.md.
_base_ = ['../selfdis/t4-1_baseline_unet_synthhands-mono-64x64.py']
custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)

generator_checkpoint = 'work_dirs/t4-3_selfdis_unet_synthhands-mono-64x64/epoch_4.pth'
mix_ratio = 0.5
input_size = (64, 64)  # the base's codec input_size

# the pipeline up to TopdownAffine: how an appearance source is cropped
crop_pipeline = [
    dict(type='LoadImage'),
    dict(type='ToMonochrome'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=input_size),
]
train_pipeline = crop_pipeline + [
    dict(type='MixReconstruct', checkpoint=generator_checkpoint, config=None, prob=mix_ratio,
         pre_transform=crop_pipeline, device='cpu', appearance_policy='other_pose'),
    dict(type='GenerateTarget', encoder={{_base_.codec}}),
    # `mixed` and `mix_source` travel into each PoseDataSample's metainfo
    dict(type='PackPoseInputs',
         meta_keys=('id', 'img_id', 'img_path', 'category_id', 'crowd_index', 'ori_shape',
                    'img_shape', 'input_size', 'input_center', 'input_scale', 'flip',
                    'flip_direction', 'flip_indices', 'raw_ann_info', 'dataset_name',
                    'mixed', 'mix_source')),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
