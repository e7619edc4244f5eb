"""Pose estimators."""
from .selfdis_estimator import SelfDisPoseEstimator

__all__ = ['SelfDisPoseEstimator']
