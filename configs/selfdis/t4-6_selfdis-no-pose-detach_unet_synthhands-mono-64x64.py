# Table 4, row (6): row (5) without pose detach: the image losses also reach the pose
# path through the pose feature p.
_base_ = ['./t4-5_selfdis-no-estimator-detach_unet_synthhands-mono-64x64.py']
custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)
model = dict(selfdis=dict(detach_pose_feature=False))
