# The demo's default model (tools/demo.py, command A): the background demo config - the hand
# painted over the appearance image, whose own hand is inpainted away, no cycle-pose marks -
# with the three changes that together met the paired goals at the pose image's crop in all
# three training seeds measured (docs/results.md, "Growing the inpainted region"):
# - an SSIM term beside L_I at weight 0.3 (ImageSSIMLoss; at 1.0 the judge's ratio fell);
# - when mixing, the inpainted fill where the appearance image's hand was is low-passed
#   (fill_sigma=2 pixels: Telea's streaks across the hole);
# - when mixing, that region is grown by 0.01 of the crop side (fill_margin; picked on the
#   val split): inpainting from a boundary that still lies on the hand's edge or its
#   forearm carries their dark into the fill.
# The last two act only when the branch is in eval mode (mixes); training is the background
# demo's plus the SSIM term. The weights are averaged over training (MMEngine's EMAHook,
# momentum 0.01: a horizon of ~100 of the 880 iterations; docs/results.md, "Averaging the
# weights"): the checkpoint's state_dict holds the average, which tools/test.py, the swap
# grids, mixing and tools/export.py use; its ema_state_dict holds the trained weights.
# It trains 10 epochs, not the demo config's 14: over 3 seeds the four quality goals moved by
# less than their spread (the pose model's EPE +0.24 px, every seed), and command A took
# 16 min 55 s instead of 25 min 24 s on the slower 2-core machine (docs/results.md, "Ten
# epochs instead of fourteen"); `tools/demo.py --epochs 14` trains the earlier length.
# The metric gives each mix the appearance image cropped where the pose image was
# (appearance_crop='pose'): the true render is that image except where the two hands are, so a
# mix given y's own crop cannot reach the paired goals (docs/metrics.md).
# It also reports the judge's PCK by place along the finger (finger_levels: PCK_mix@tip ...),
# which says where the mixes lose the pose (docs/results.md, "Where the mixes lose the pose").
# As augmentation the cycle-pose marks helped (background demo config's comment): the ratio
# study keeps its own painter.
# Since 2026-12-03 (night), two more changes, 3 training seeds each (docs/results.md, "The
# hand's rims" and "Where the painted hand's tone comes from"):
# - each image's own hand is inpainted over its capsules grown by 0.03 of the side
#   (inpaint_margin), in training and when mixing, while the hole the decoder must paint stays
#   the capsules: the decoder paints the hand's rims, y's rims no longer show;
# - one global appearance code (encoder.pool_grid=1) instead of the base's 2x2 grid: with the
#   grid the decoder read the hand's look at the hand's place in the code, which in a mix is
#   y's hand's place, not x's.
_base_ = ['./selfdis-demo-background_unet_synthhands-mono-64x64.py']
custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)

model = dict(selfdis=dict(
    background=dict(fill_sigma=2.0, fill_margin=0.01, inpaint_margin=0.03),
    encoder=dict(pool_grid=1),
    loss_img_ssim=dict(type='ImageSSIMLoss', loss_weight=0.3)))

max_epochs = 10  # the base's variable too, so the run's dumped config says one length
train_cfg = dict(max_epochs=max_epochs)

# the base's hooks, then the average
custom_hooks = _base_.custom_hooks + [
    dict(type='EMAHook', ema_type='ExponentialMovingAverage', momentum=0.01,
         update_buffers=True),
]

test_evaluator = [
    dict(type='EPE'),
    dict(type='PCKAccuracy', thr=0.2),
    dict(type='AUC'),
    dict(type='DisentanglementMetric', appearance_crop='pose', finger_levels=True),
]
