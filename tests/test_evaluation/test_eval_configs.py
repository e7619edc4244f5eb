"""configs/eval: each adds the metric and its hooks to a self-disentanglement config, no more."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmpose.registry import HOOKS, METRICS, MODELS
from tests.conftest import REPO

CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', 'eval', '*.py')))
ADDED_HOOKS = {'DisentanglementMetricHook', 'SwapGridHook'}


def _base_of(path: str) -> str:
    name = osp.basename(path).replace('_disent.py', '.py')
    return osp.join(REPO, 'configs', 'selfdis', name)


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_eval_config_model_can_mix(path):
    """The metric judges the model's own mixes: the config must build a model that mixes."""
    cfg = Config.fromfile(path)
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    model = MODELS.build(cfg.model)
    assert callable(getattr(model, 'mix', None)) and model.selfdis is not None


def test_every_selfdis_config_with_an_eval_variant_exists():
    assert CONFIGS, 'configs/eval holds no config'
    missing = [osp.basename(p) for p in CONFIGS if not osp.isfile(_base_of(p))]
    assert not missing, f'eval configs without their configs/selfdis base: {missing}'


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
