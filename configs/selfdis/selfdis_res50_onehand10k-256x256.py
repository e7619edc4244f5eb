# Self-disentanglement added to MMPose's own OneHand10K ResNet-50 config: the snippet
# below is all a user adds to an existing MMPose top-down config.
_base_ = ['mmpose::hand_2d_keypoint/topdown_heatmap/onehand10k/'
          'td-hm_res50_8xb32-210e_onehand10k-256x256.py']

# --- self-disentanglement snippet ---
custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)
model = dict(
    type='SelfDisPoseEstimator',
    selfdis=dict(type='SelfDisHead', appearance_source='backbone.layer2'))
# --- end of snippet ---
