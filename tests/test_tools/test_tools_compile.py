"""Every script in tools/ is valid Python (a tool without a test of its own still parses)."""
import glob
import os.path as osp
import py_compile

import pytest

from tests.conftest import REPO

TOOLS = sorted(glob.glob(osp.join(REPO, 'tools', '*.py')))


@pytest.mark.parametrize('path', TOOLS, ids=osp.basename)
def test_tool_compiles(path, tmp_path):
    py_compile.compile(path, cfile=str(tmp_path / 'tool.pyc'), doraise=True)
