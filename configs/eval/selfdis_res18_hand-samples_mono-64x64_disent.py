# The ResNet-18 self-disentanglement config on the real OneHand10K samples, evaluated
# with the disentanglement metrics (docs/metrics.md). Four images only: the numbers
# check the plumbing, they say nothing about the model.
_base_ = ['../selfdis/selfdis_res18_hand-samples_mono-64x64.py']
custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)

test_evaluator = [
    dict(type='EPE'),
    dict(type='PCKAccuracy', thr=0.2),
    dict(type='AUC'),
    dict(type='DisentanglementMetric'),
]
custom_hooks = [
    dict(type='SyncBuffersHook'),
    dict(type='ExactResumeHook'),
    dict(type='DisentanglementMetricHook'),  # hands the model to DisentanglementMetric
    dict(type='SwapGridHook', interval=10, num_pose=4, num_appearance=4),
]
