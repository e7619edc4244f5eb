"""The mapping between image space and the model's normalised space.

(The ``BatchMixReconstruct`` batch augment runs a trained generator and lives in
:mod:`mmselfdis.apis`.)
"""
from .image_space import ImageSpace

__all__ = ['ImageSpace']
