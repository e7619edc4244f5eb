"""mmselfdis: self-disentanglement of pose and appearance for MMPose.

Importing the package registers every component into MMPose's registries
(``custom_imports = dict(imports=['mmselfdis'], allow_failed_imports=False)``).
"""
import importlib.util

from .version import __version__


def _check_dependencies() -> None:
    """Name what is missing instead of failing deep inside an import."""
    missing = [n for n in ('torch', 'mmengine', 'mmcv', 'mmdet', 'mmpose')
               if importlib.util.find_spec(n) is None]
    if missing:
        raise ImportError(
            f'mmselfdis needs {", ".join(missing)}, not installed in this environment. Run '
            f'`bash tools/bootstrap.sh` (sets up .venv with everything) or install them '
            f'yourself (see README: "Already have torch + mmcv").')
    if importlib.util.find_spec('mmcv._ext') is None:
        raise ImportError(
            'mmselfdis needs the full mmcv with compiled ops (mmpose.models imports mmcv.ops); '
            'this mmcv has no mmcv._ext (mmcv-lite?). Install mmcv 2.1.0 built with ops: '
            '`bash tools/bootstrap.sh` builds and caches it.')


_check_dependencies()

from . import utils  # noqa: E402,F401  (first: makes MMEngine checkpoints loadable)
from . import datasets, engine, evaluation, models  # noqa: E402,F401
from . import apis  # noqa: E402,F401
from . import visualization  # noqa: E402,F401

__all__ = ['__version__']
