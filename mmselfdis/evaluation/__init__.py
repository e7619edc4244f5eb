"""Disentanglement metrics (registered in ``mmpose.registry.METRICS``) and their hook."""
from . import functional
from .metrics import (DisentanglementMetric, DisentanglementMetricHook, check_mixing_model,
                      load_pose_estimator, render_truth)

__all__ = ['functional', 'DisentanglementMetric', 'DisentanglementMetricHook',
           'check_mixing_model', 'load_pose_estimator', 'render_truth']
