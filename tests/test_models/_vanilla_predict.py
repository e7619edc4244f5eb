"""Predict with a model built from a config by vanilla MMPose (mmselfdis is never imported).

Usage: python _vanilla_predict.py CONFIG CHECKPOINT INPUTS OUT

Also importable: :func:`predict_outputs` runs the same prediction on any model,
so the test compares like with like.
"""
import sys

import numpy as np
import torch


def make_samples(n, size, num_kpts):
    from mmengine.structures import InstanceData
    from mmpose.structures import PoseDataSample
    samples = []
    for _ in range(n):
        s = PoseDataSample()
        s.gt_instances = InstanceData(bboxes=np.array([[0, 0, size, size]], dtype=np.float32),
                                      bbox_scores=np.ones(1, dtype=np.float32))
        s.set_metainfo(dict(input_size=(size, size),
                            input_center=np.array([size / 2, size / 2]),
                            input_scale=np.array([size, size], dtype=np.float32),
                            flip_indices=list(range(num_kpts))))
        samples.append(s)
    return samples


def predict_outputs(model, inputs, num_kpts=21):
    model.eval()
    with torch.no_grad():
        heatmaps = model(inputs, None, mode='tensor')
        results = model(inputs, make_samples(inputs.shape[0], inputs.shape[-1], num_kpts),
                        mode='predict')
    return dict(
        heatmaps=heatmaps,
        keypoints=torch.from_numpy(np.stack([r.pred_instances.keypoints for r in results])),
        scores=torch.from_numpy(np.stack([r.pred_instances.keypoint_scores for r in results])))


def main(config, checkpoint, inputs_path, out_path):
    from mmengine.config import Config
    from mmengine.runner import load_checkpoint
    from mmpose.registry import MODELS
    from mmpose.utils import register_all_modules

    register_all_modules()
    cfg = Config.fromfile(config)
    model = MODELS.build(cfg.model)
    load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    out = predict_outputs(model, torch.load(inputs_path, weights_only=True))
    out['type'] = type(model).__name__
    out['plugin_imported'] = any((m == 'mmselfdis' or m.startswith('mmselfdis.'))
                                 and mod is not None for m, mod in sys.modules.items())
    torch.save(out, out_path)


if __name__ == '__main__':
    sys.modules['mmselfdis'] = None  # any attempt to import the plugin fails loudly
    main(*sys.argv[1:5])
