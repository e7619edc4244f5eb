from .disentanglement_metric import DisentanglementMetric, from_crop, to_crop

__all__ = ['DisentanglementMetric', 'from_crop', 'to_crop']
