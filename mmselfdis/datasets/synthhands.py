"""The SynthHands renderer under the plugin's name: everything of :mod:`synthhands`.

The renderer is its own top-level package, :mod:`synthhands` (numpy and OpenCV
only), so that ``tools/make_synthhands.py`` and its worker processes import it
without the plugin's ``__init__`` (which loads torch and MMPose to register
components). Inside the plugin it is also reachable as
``mmselfdis.datasets.synthhands``; its submodules are ``synthhands.render``,
``synthhands.writer`` and so on.
"""
from synthhands import *  # noqa: F401,F403
from synthhands import __all__  # noqa: F401
