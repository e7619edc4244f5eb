# RHD + OneHand10K, RGB: trains on both datasets through MMPose's CombinedDataset
# (labels in the OneHand10K order, metainfo of OneHand10K) and validates/tests on the
# OneHand10K test photos, the real target domain. Model, schedule and pipelines are those
# of ../../onehand10k/_base_/rgb.py. RHD is about 4x larger than OneHand10K; add
# sample_ratio_factor=[a, b] to the CombinedDataset to rebalance.
_base_ = ['../../onehand10k/_base_/rgb.py', './datasets.py']
custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CombinedDataset',
        metainfo=dict(from_file='configs/_base_/datasets/onehand10k.py'),
        datasets=[{{_base_.rhd2d_train}}, {{_base_.onehand10k_train}}],
        pipeline={{_base_.train_pipeline}},
        test_mode=False))
