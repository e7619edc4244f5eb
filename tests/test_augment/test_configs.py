"""configs/augment: every file parses, imports the plugin and builds with a generator."""
import glob
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmpose.registry import DATASETS, MODELS
from tests.conftest import REPO

CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', 'augment', '*.py')))


def test_there_are_configs():
    names = {osp.basename(c) for c in CONFIGS}
    assert {'mixreconstruct_unet_synthhands-mono-64x64.py',
            'batchmix_unet_synthhands-mono-64x64.py', 'jitter_unet_synthhands-mono-64x64.py',
            'ratio-study_unet_synthhands-mono-64x64.py'} <= names


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_imports_the_plugin(path):
    cfg = Config.fromfile(path)
    assert cfg.custom_imports == dict(imports=['mmselfdis'], allow_failed_imports=False)


def test_mixreconstruct_config_builds_and_marks(tiny_synth, tiny_generator):
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'augment',
                                   'mixreconstruct_unet_synthhands-mono-64x64.py'))
    ds_cfg = cfg.train_dataloader.dataset
    ds_cfg.data_root = tiny_synth + '/'
    ds_cfg.pipeline[4].checkpoint = tiny_generator
    ds_cfg.pipeline[4].prob = 1.0
    init_default_scope('mmpose')
    out = DATASETS.build(ds_cfg)[0]
    meta = out['data_samples'].metainfo
    assert meta['mixed'] is True and meta['mix_source']['img_path'] != meta['img_path']


def test_jitter_config_builds(tiny_synth):
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'augment',
                                   'jitter_unet_synthhands-mono-64x64.py'))
    cfg.train_dataloader.dataset.data_root = tiny_synth + '/'
    init_default_scope('mmpose')
    np.random.seed(0)
    assert DATASETS.build(cfg.train_dataloader.dataset)[0]['inputs'].shape == (1, 64, 64)


def test_batchmix_config_builds(tiny_generator):
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'augment',
                                   'batchmix_unet_synthhands-mono-64x64.py'))
    cfg.model.data_preprocessor.batch_augments[0].checkpoint = tiny_generator
    init_default_scope('mmpose')
    model = MODELS.build(cfg.model)
    aug = model.data_preprocessor.batch_augments[0]
    assert type(aug).__name__ == 'BatchMixReconstruct' and aug.prob == 0.5
    assert not any('generator' in k for k in model.state_dict())
