# FreiHAND, RGB: MMPose's own ResNet-50 heatmap config, unchanged (FreiHandDataset and its
# metainfo, data_root 'data/freihand/', 224x224 input -- FreiHAND's native image size --,
# box padding 0.8, 100-epoch schedule, separate val/test splits, PCK/AUC/EPE). The baseline,
# selfdis and selfdis-mix configs of this folder start here.
_base_ = ['mmpose::hand_2d_keypoint/topdown_heatmap/freihand2d/'
          'td-hm_res50_8xb64-100e_freihand2d-224x224.py']
custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)

# How MixReconstruct crops an appearance source: the train pipeline up to TopdownAffine
# without random augmentation (only the image of the source is used).
appearance_crop = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding=0.8),
    dict(type='TopdownAffine', input_size={{_base_.codec.input_size}}),
]
