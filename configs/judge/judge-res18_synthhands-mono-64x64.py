# A judge of another architecture than the pose model's: ResNet-18 at half width (stem
# and base 32 channels) with MMPose's three-deconvolution heatmap head (16x16 heatmaps),
# a plain TopdownPoseEstimator on the demo's SynthHands data. Train it on the real
# training renders only, like the default judge, and pass it with --judge:
#   python tools/train_judge.py configs/judge/judge-res18_synthhands-mono-64x64.py \
#       --data-root <a copy of the data's folder: the judge is cached in <root>/judge/>
# The default judge has the pose model's own architecture, so a pattern that the
# cycle-pose loss teaches the generator to draw for the frozen pose model might transfer
# to it (adversarial patterns transfer between networks of one architecture far more
# than across architectures); this judge shares neither weights nor architecture with
# the generator (docs/results.md: both judges read the demo's mixes).
_base_ = ['../demo/selfdis-demo_unet_synthhands-mono-64x64.py']

model = dict(
    _delete_=True,
    type='TopdownPoseEstimator',
    data_preprocessor=dict(type='PoseDataPreprocessor', mean=[127.5], std=[127.5]),
    backbone=dict(type='ResNet', depth=18, in_channels=1, stem_channels=32, base_channels=32,
                  out_indices=(3, )),
    head=dict(type='HeatmapHead', in_channels=256, out_channels=21,
              deconv_out_channels=(64, 64, 64), deconv_kernel_sizes=(4, 4, 4),
              loss=dict(type='KeypointMSELoss', use_target_weight=True),
              decoder={{_base_.codec}}),
    test_cfg=dict(flip_test=False))
custom_hooks = []
test_evaluator = [dict(type='EPE'), dict(type='PCKAccuracy', thr=0.2), dict(type='AUC')]
val_evaluator = test_evaluator
