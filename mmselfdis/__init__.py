"""mmselfdis: self-disentanglement of pose and appearance for MMPose.

Importing the package registers every component into MMPose's registries
(``custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)``).
"""
from .version import __version__
from . import utils  # noqa: F401  (first: makes MMEngine checkpoints loadable)
from . import datasets, engine, evaluation, models  # noqa: F401

__all__ = ['__version__']
