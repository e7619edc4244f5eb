# Label-safe mixing: MixReconstruct whose mixes an independent judge checks (a plain pose model
# trained on the real training images, e.g. by tools/train_judge.py into <data_root>/judge/):
# a mix on which the judge finds fewer than half of x's keypoints (PCK@0.2) is dropped and the
# real sample kept. MixRatioHook trains the first epoch on real images only, mixes in epochs
# 2-3 and ends with one real-only epoch; it logs how many mixes the judge dropped.
# See docs/augmentation.md ("Label-safe mixing").
_base_ = ['./mixreconstruct_unet_synthhands-mono-64x64.py']

judge = dict(config='data/synthhands/judge/config.py',
             checkpoint='data/synthhands/judge/judge.pth')
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='ToMonochrome'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size={{_base_.input_size}}),
    dict(type='MixReconstruct', checkpoint={{_base_.generator_checkpoint}}, config=None,
         prob={{_base_.mix_ratio}}, pre_transform={{_base_.crop_pipeline}}, device='cpu',
         appearance_policy='other_pose', judge=judge, judge_min_pck=0.5, judge_mode='drop'),
    dict(type='GenerateTarget', encoder={{_base_.codec}}),
    # the mix marks, including the judge's verdict (MIX_META_KEYS), for MixRatioHook's counts
    dict(type='PackPoseInputs',
         meta_keys=('id', 'img_id', 'img_path', 'category_id', 'crowd_index', 'ori_shape',
                    'img_shape', 'input_size', 'input_center', 'input_scale', 'flip',
                    'flip_direction', 'flip_indices', 'raw_ann_info', 'dataset_name',
                    'mixed', 'mix_source', 'mix_dropped', 'mix_judge_pck')),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
custom_hooks = [dict(type='SyncBuffersHook'),  # the base's (default_runtime)
                dict(type='MixRatioHook', start=1, real_only_last=1)]
