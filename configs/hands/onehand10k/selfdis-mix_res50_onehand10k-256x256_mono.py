# Self-disentanglement + MixReconstruct on monochrome OneHand10K: half of the training crops are
# re-rendered by a frozen generator with the appearance of another sample of the dataset,
# keeping their own keypoints. Train the generator first, then this config:
#   python tools/train.py configs/hands/onehand10k/selfdis_res50_onehand10k-256x256_mono.py
#   python tools/train.py configs/hands/onehand10k/selfdis-mix_res50_onehand10k-256x256_mono.py
# Another generator: edit `generator_checkpoint` or add
#   --cfg-options train_dataloader.dataset.pipeline.6.checkpoint=PATH
generator_checkpoint = 'work_dirs/selfdis_res50_onehand10k-256x256_mono/epoch_210.pth'

_base_ = ['./selfdis_res50_onehand10k-256x256_mono.py']
custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='ToMonochrome'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform', rotate_factor=180, scale_factor=(0.7, 1.3)),
    dict(type='TopdownAffine', input_size={{_base_.codec.input_size}}),
    dict(type='MixReconstruct', checkpoint=generator_checkpoint, prob=0.5,
         pre_transform={{_base_.appearance_crop}}),
    dict(type='GenerateTarget', encoder={{_base_.codec}}),
    dict(type='PackPoseInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
