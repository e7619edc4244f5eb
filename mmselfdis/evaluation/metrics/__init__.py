from .disentanglement_metric import (DisentanglementMetric, DisentanglementMetricHook,
                                     check_mixing_model, load_pose_estimator, render_truth)

__all__ = ['DisentanglementMetric', 'DisentanglementMetricHook', 'check_mixing_model',
           'load_pose_estimator', 'render_truth']
