# The two training sets of the cross-dataset configs: RHD's renders and OneHand10K's photos.
# Each sub-pipeline starts with MMPose's KeypointConverter, so every sample reaches the shared
# pipeline (and MixReconstruct) in the OneHand10K keypoint order: RHD's tip-first fingers are
# reversed, OneHand10K goes through the identity (same keypoint arrays for both sources).
_base_ = ['../../_base_/keypoint_orders.py']

rhd2d_train = dict(
    type='Rhd2DDataset',
    data_root='data/rhd/',
    data_mode='topdown',
    ann_file='annotations/rhd_train.json',
    data_prefix=dict(img=''),
    pipeline=[
        dict(type='KeypointConverter', num_keypoints=21,
             mapping={{_base_.rhd2d_to_onehand10k}}),
    ])
onehand10k_train = dict(
    type='OneHand10KDataset',
    data_root='data/onehand10k/',
    data_mode='topdown',
    ann_file='annotations/onehand10k_train.json',
    data_prefix=dict(img=''),
    pipeline=[
        dict(type='KeypointConverter', num_keypoints=21,
             mapping={{_base_.onehand10k_identity}}),
    ])
