"""Inference helpers: load a trained generator and mix pose with appearance."""
from .batch_mix_reconstruct import BatchMixReconstruct
from .generator import (GeneratorInfo, generator_info, load_generator, mix_images,
                        set_worker_threads)
from .pipeline import (RANDOM_TRANSFORMS, crop_pipeline, insert_after_affine, insert_after_load,
                       transform_names)

__all__ = [
    'BatchMixReconstruct', 'GeneratorInfo', 'generator_info', 'load_generator', 'mix_images',
    'set_worker_threads', 'RANDOM_TRANSFORMS', 'crop_pipeline', 'insert_after_affine',
    'insert_after_load',
    'transform_names'
]
