# OneHand10K, RGB: MMPose's own ResNet-50 heatmap config, unchanged (OneHand10KDataset and
# its metainfo, data_root 'data/onehand10k/', 256x256 input, pipelines, 210-epoch schedule,
# PCK/AUC/EPE). The baseline, selfdis and selfdis-mix configs of this folder start here.
_base_ = ['mmpose::hand_2d_keypoint/topdown_heatmap/onehand10k/'
          'td-hm_res50_8xb32-210e_onehand10k-256x256.py']
custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)

# How MixReconstruct crops an appearance source: the train pipeline up to TopdownAffine
# without random augmentation (only the image of the source is used).
appearance_crop = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size={{_base_.codec.input_size}}),
]
