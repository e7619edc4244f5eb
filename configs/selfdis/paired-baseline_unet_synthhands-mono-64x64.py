# The paired-data baseline [9] of Tables 2-3: disentanglement supervised with pairs of the
# same pose in different appearances. PosePairSampler puts the two members of a pair next
# to each other (batch size must be even); SelfDisHead(mode='paired') swaps p inside each
# pair and reconstructs each image from its partner's pose and its own appearance (L1),
# besides the plain reconstruction and the GAN. No cycle.
_base_ = ['./_base_/unet_synthhands-mono-64x64.py']
custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)
model = dict(
    type='SelfDisPoseEstimator',
    selfdis=dict(type='SelfDisHead', appearance_source='backbone.stages.2', mode='paired'))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='ToMonochrome'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size={{_base_.codec.input_size}}),
    dict(type='GenerateTarget', encoder={{_base_.codec}}),
    dict(type='PackPoseInputs',
         meta_keys=('id', 'img_id', 'img_path', 'category_id', 'crowd_index', 'ori_shape',
                    'img_shape', 'input_size', 'input_center', 'input_scale', 'flip',
                    'flip_direction', 'flip_indices', 'raw_ann_info', 'dataset_name',
                    'pose_id')),
]
train_dataloader = dict(
    sampler=dict(_delete_=True, type='PosePairSampler', shuffle=True),
    dataset=dict(pipeline=train_pipeline))
