# the paired-data baseline [9] of Tables 2-3, evaluated with the disentanglement metrics
# (docs/metrics.md): `tools/test.py THIS_CONFIG CKPT` prints PCK/AUC/EPE and the
# disent/* numbers; trained with this config, SwapGridHook logs the swap grid
# through the visualizer every 200 iterations.
_base_ = ['../selfdis/paired-baseline_unet_synthhands-mono-64x64.py']
custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)

test_evaluator = [
    dict(type='EPE'),
    dict(type='PCKAccuracy', thr=0.2),
    dict(type='AUC'),
    dict(type='DisentanglementMetric'),
]
custom_hooks = [
    dict(type='SyncBuffersHook'),
    dict(type='DisentanglementMetricHook'),  # hands the model to DisentanglementMetric
    dict(type='SwapGridHook', interval=200, num_pose=6, num_appearance=6),
]
