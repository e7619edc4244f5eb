"""SynthHands: a procedural renderer of paired monochrome hand crops with exact keypoints.

Pure numpy/OpenCV (no torch, no MMPose): a top-level package of its own, so
``tools/make_synthhands.py`` and its worker processes import it without the
plugin (whose ``__init__`` loads torch and MMPose); inside the plugin it is also
``mmselfdis.datasets.synthhands``. The pieces:

* :mod:`.hand_model` - the articulated 3D hand (21 OneHand10K keypoints);
* :mod:`.poses` - poses from named grasp/gesture templates plus noise;
* :mod:`.appearance` - lighting, skin, sleeve, background and camera, with
  the families held out for the ``test_shift`` split;
* :mod:`.textures` - procedural backgrounds, skin textures and noise;
* :mod:`.sampling` - cheap scalar draws and parameter rounding;
* :mod:`.render` - :func:`render` ``(pose, appearance) -> (image, keypoints,
  visibility)`` and its batched parts;
* :mod:`.correlation` - pose families tied to appearance groups (the
  correlated benchmark and its ``test_combo`` split);
* :mod:`.writer` - the dataset writer behind ``tools/make_synthhands.py``.
"""
from .appearance import FAMILIES, HELD_OUT_FAMILIES, families_of, sample_appearance
from .correlation import Correlation
from .hand_model import KEYPOINT_NAMES, SKELETON
from .poses import POSE_TEMPLATES, sample_pose
from .render import PoseRender, render, render_geometries, render_geometry, shade, shade_batch
from .writer import (SPLITS, move_into_place, recover_interrupted_writes, remove_replaced,
                     write_dataset, writer_sibling)

__all__ = [
    'Correlation', 'FAMILIES', 'HELD_OUT_FAMILIES', 'KEYPOINT_NAMES', 'POSE_TEMPLATES',
    'SKELETON', 'SPLITS', 'PoseRender', 'families_of', 'move_into_place', 'recover_interrupted_writes',
    'remove_replaced', 'render', 'render_geometries', 'render_geometry', 'sample_appearance',
    'sample_pose', 'shade', 'shade_batch', 'write_dataset', 'writer_sibling'
]
