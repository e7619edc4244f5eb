# Table 4, row (5): row (4) without pose estimator detach: the pose estimator (E_p and
# D_p) also learns from the mixed images through the cycle.
_base_ = ['./t4-4_selfdis-resume_unet_synthhands-mono-64x64.py']
custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)
model = dict(selfdis=dict(detach_pose_estimator=False))
