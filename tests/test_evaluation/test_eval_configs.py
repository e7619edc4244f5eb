"""configs/eval: each adds the metric and its hooks to a self-disentanglement config, no more."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from mmpose.registry import HOOKS, METRICS
from tests.conftest import REPO

CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', 'eval', '*.py')))
ADDED_HOOKS = {'DisentanglementMetricHook', 'SwapGridHook'}


def _base_of(path: str) -> str:
    name = osp.basename(path).replace('_disent.py', '.py')
    return osp.join(REPO, 'configs', 'selfdis', name)


def test_there_are_eval_configs():
    assert len(CONFIGS) >= 4


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_eval_config_adds_metric_and_keeps_base_hooks(path):
    cfg = Config.fromfile(path)
    base = Config.fromfile(_base_of(path))
    assert cfg.custom_imports == dict(imports=['mmselfdis'], allow_failed_imports=False)
    types = [m['type'] for m in cfg.test_evaluator]
    assert 'DisentanglementMetric' in types
    for metric in cfg.test_evaluator:
        METRICS.build(metric)
    hooks = [h['type'] for h in cfg.custom_hooks]
    base_hooks = [h['type'] for h in base.get('custom_hooks', [])]
    assert [h for h in hooks if h not in ADDED_HOOKS] == base_hooks  # nothing of the base lost
    assert ADDED_HOOKS <= set(hooks)
    for hook in cfg.custom_hooks:
        assert HOOKS.get(hook['type']) is not None
    # everything else is the base config's
    assert cfg.model == base.model and cfg.train_dataloader == base.train_dataloader
