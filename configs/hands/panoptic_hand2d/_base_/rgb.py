# CMU Panoptic HandDB, RGB. MMPose 1.x ships the PanopticHand2DDataset class and its
# metainfo but no training config, so this one takes MMPose's OneHand10K ResNet-50 config
# (same 21 keypoints, 256x256 input, schedule and model) and swaps in the dataset with the
# settings of MMPose's former Panoptic config: data_root 'data/panoptic/', the input box is
# the tight keypoint box enlarged 1.76x (2.2x in the paper, times 0.8), +-90 deg rotation,
# and PCKh@0.7 (normalised by the annotation's head_size, i.e. the hand box) with AUC/EPE.
# PanopticHand2DDataset (MMPose 1.3.2) passes head_size on as a plain float, which
# PackPoseInputs cannot pack (instance fields need a length), so mmcv's ToTensor turns it
# into a 1-element tensor just before packing; PCKAccuracy reads it unchanged.
_base_ = ['mmpose::hand_2d_keypoint/topdown_heatmap/onehand10k/'
          'td-hm_res50_8xb32-210e_onehand10k-256x256.py']
custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)

dataset_type = 'PanopticHand2DDataset'
data_root = 'data/panoptic/'

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding=1.76),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform', shift_factor=0.16, shift_prob=0.3,
         rotate_factor=90, scale_factor=(0.7, 1.3)),
    dict(type='TopdownAffine', input_size={{_base_.codec.input_size}}),
    dict(type='GenerateTarget', encoder={{_base_.codec}}),
    dict(type='ToTensor', keys=['head_size']),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding=1.76),
    dict(type='TopdownAffine', input_size={{_base_.codec.input_size}}),
    dict(type='ToTensor', keys=['head_size']),
    dict(type='PackPoseInputs'),
]
# How MixReconstruct crops an appearance source: the train pipeline up to TopdownAffine
# without random augmentation (only the image of the source is used).
appearance_crop = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding=1.76),
    dict(type='TopdownAffine', input_size={{_base_.codec.input_size}}),
]

train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/panoptic_train.json',
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/panoptic_test.json',
        pipeline=val_pipeline))
test_dataloader = val_dataloader

val_evaluator = [
    dict(type='PCKAccuracy', thr=0.7, norm_item='head'),
    dict(type='AUC'),
    dict(type='EPE'),
]
test_evaluator = val_evaluator
