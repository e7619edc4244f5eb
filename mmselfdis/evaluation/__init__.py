"""Disentanglement metrics (registered in ``mmpose.registry.METRICS``) and their judge.

The hook that binds the model to the metric is
:class:`mmselfdis.engine.hooks.DisentanglementMetricHook`; the true renders of
SynthHands pairs are :func:`mmselfdis.visualization.render_truth`.
"""
from . import functional, judge
from .judge import (JudgeError, ensure_judge, find_judge, judge_config, load_judge,
                    predict_crop_keypoints, set_judge)
from .metrics import DisentanglementMetric

__all__ = ['functional', 'judge', 'DisentanglementMetric', 'JudgeError', 'ensure_judge',
           'find_judge', 'judge_config', 'load_judge', 'predict_crop_keypoints', 'set_judge']
