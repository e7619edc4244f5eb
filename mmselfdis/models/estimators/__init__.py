"""Pose estimators."""
from .mix_consistency import MixConsistencyEstimator
from .selfdis_estimator import SelfDisPoseEstimator

__all__ = ['SelfDisPoseEstimator', 'MixConsistencyEstimator']
