# RHD (Rendered Hand Pose), RGB: MMPose's own ResNet-50 heatmap config, unchanged
# (Rhd2DDataset and its metainfo, data_root 'data/rhd/', 256x256 input, 210-epoch schedule,
# PCK/AUC/EPE). The baseline, selfdis and selfdis-mix configs of this folder start here.
# They train and mix within RHD, so they keep RHD's own keypoint order (each finger
# tip-first); configs/hands/combined/ remaps it to the OneHand10K order to mix with photos.
_base_ = ['mmpose::hand_2d_keypoint/topdown_heatmap/rhd2d/'
          'td-hm_res50_8xb64-210e_rhd2d-256x256.py']
custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)

# How MixReconstruct crops an appearance source: the train pipeline up to TopdownAffine
# without random augmentation (only the image of the source is used).
appearance_crop = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size={{_base_.codec.input_size}}),
]
