"""configs/augment: every file parses, imports the plugin and builds with a generator."""
import glob
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmpose.registry import DATASETS, MODELS
from tests.conftest import REPO

BASE = osp.join(REPO, 'configs', 'selfdis', 't4-1_baseline_unet_synthhands-mono-64x64.py')
AUG = osp.join(REPO, 'configs', 'augment')
ARMS = ('mixreconstruct', 'mixreconstruct-judged', 'batchmix', 'jitter', 'amplitude', 'mixstyle',
        'ratio-study', 'synthesized')
SHARED = ('val_dataloader', 'test_dataloader', 'val_evaluator', 'test_evaluator',
          'optim_wrapper', 'param_scheduler', 'train_cfg')


def _arm(name):
    return Config.fromfile(osp.join(AUG, f'{name}_unet_synthhands-mono-64x64.py'))


def test_every_config_is_an_arm():
    assert sorted(osp.basename(c) for c in glob.glob(osp.join(AUG, '*.py'))) == sorted(
        f'{name}_unet_synthhands-mono-64x64.py' for name in ARMS)


@pytest.mark.parametrize('name', ARMS)
def test_arm_is_table4_row1_with_other_training_images(name):
    """Every arm trains the model of Table 4 row (1) with its budget and evaluation;
    only what it exists for differs: the images it trains on."""
    cfg, base = _arm(name), Config.fromfile(BASE)
    assert cfg.custom_imports == dict(imports=['mmselfdis'], allow_failed_imports=False)
    model, base_model = cfg.model.to_dict(), base.model.to_dict()
    augments = model['data_preprocessor'].pop('batch_augments', None)
    if name == 'mixstyle':  # the base's backbone, wrapped: statistics mixed after two stages
        wrapped = model.pop('backbone')
        assert wrapped['type'] == 'MixStyleBackbone'
        assert wrapped['backbone'] == base_model.pop('backbone')
        assert wrapped['mixstyle']['p'] > 0
    assert model == base_model
    for key in SHARED:
        assert cfg.get(key) == base.get(key), key
    steps = cfg.train_dataloader.dataset.pipeline
    base_steps = base.train_dataloader.dataset.pipeline
    crop = base_steps[:[s.type for s in base_steps].index('TopdownAffine') + 1]

    if name == 'batchmix':  # mixing on the device; mean/std undo this preprocessor's
        pre = cfg.model.data_preprocessor
        assert [a['type'] for a in augments] == ['BatchMixReconstruct']
        assert (augments[0]['mean'], augments[0]['std']) == (pre.mean, pre.std)
    else:
        assert augments is None
    if name.startswith('mixreconstruct'):  # mixed right after the crop; sources cropped alike
        mix = steps[len(crop)]
        assert mix.type == 'MixReconstruct' and mix.pre_transform == crop
        assert steps[:len(crop)] == crop
        assert [s.type for s in steps[len(crop) + 1:]] == [s.type for s in base_steps[len(crop):]]
        if name == 'mixreconstruct-judged':  # a judge gates the mixes; the hook schedules them
            assert mix.judge is not None and mix.judge_mode == 'drop' and mix.judge_min_pck > 0
            assert 'MixRatioHook' in [h['type'] for h in cfg.custom_hooks]
    elif name == 'amplitude':  # label-exact Fourier amplitude mixing right after the crop
        mix = steps[len(crop)]
        assert mix.type == 'AmplitudeMix' and mix.pre_transform == crop
        assert steps[:len(crop)] == crop and steps[len(crop) + 1:] == base_steps[len(crop):]
    elif name == 'jitter':  # conventional appearance augmentation right after the crop
        assert steps == crop + [dict(type='AppearanceJitter')] + base_steps[len(crop):]
    elif name == 'synthesized':  # offline mixed crops: the crop is the box
        assert [s.type for s in steps] == [s.type for s in base_steps]
        assert [s for s in steps if s.type == 'GetBBoxCenterScale'][0].padding == 1.0
        assert cfg.train_dataloader.dataset.data_root != base.train_dataloader.dataset.data_root
    else:  # batchmix, mixstyle, ratio-study: the base's images
        assert steps == base_steps
        assert cfg.train_dataloader.dataset.data_root == base.train_dataloader.dataset.data_root


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
