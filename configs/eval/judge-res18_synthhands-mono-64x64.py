# A second judge of another architecture: ResNet-18 at half width (stem and base 32
# channels) with MMPose's three-deconvolution heatmap head (16x16 heatmaps), trained on
# the demo's real training renders like the default judge (tools/train_judge.py copies
# this model; nothing else of the config is used). The default judge has the pose
# model's own architecture, so a pattern that the cycle-pose loss teaches the generator
# to draw for the frozen pose model may transfer to it (adversarial patterns transfer
# between networks of one architecture much more than across architectures); this
# judge shares neither weights nor architecture with the generator.
_base_ = ['../demo/selfdis-demo_unet_synthhands-mono-64x64.py']

model = dict(
    backbone=dict(_delete_=True, type='ResNet', depth=18, in_channels=1, stem_channels=32,
                  base_channels=32, out_indices=(3, )),
    head=dict(in_channels=256, deconv_out_channels=(64, 64, 64),
              deconv_kernel_sizes=(4, 4, 4)))
