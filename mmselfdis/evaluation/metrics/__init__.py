from .disentanglement_metric import (HAND21_LEVELS, DisentanglementMetric, from_crop,
                                     hand21_level, to_crop)

__all__ = ['DisentanglementMetric', 'HAND21_LEVELS', 'from_crop', 'hand21_level', 'to_crop']
