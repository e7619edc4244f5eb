"""Batch augments for ``PoseDataPreprocessor.batch_augments`` and the image-space mapping."""
from .batch_mix_reconstruct import BatchMixReconstruct
from .image_space import ImageSpace

__all__ = ['BatchMixReconstruct', 'ImageSpace']
