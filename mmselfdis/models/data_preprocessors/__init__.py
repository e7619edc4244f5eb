"""Batch augments for ``PoseDataPreprocessor.batch_augments``."""
from .batch_mix_reconstruct import BatchMixReconstruct

__all__ = ['BatchMixReconstruct']
