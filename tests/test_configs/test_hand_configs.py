"""configs/hands: every dataset x {baseline, selfdis, selfdis-mix} x {rgb, mono} config.

Each config is checked for what it must change (and nothing else), then trained one step and
validated on tiny data: the real OneHand10K / FreiHAND samples, or files in the RHD, CMU
Panoptic and COCO-WholeBody formats written around the sample images. One config runs
through tools/train.py end to end.
"""
import copy
import functools
import glob
import json
import math
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

from tests.conftest import run_tool
from tests.test_configs._hand_data import (CONFIGS, FOLDERS, FREIHAND, FREIHAND_JSON, HANDS,
                                           ONEHAND10K, ONEHAND10K_JSON, RHD_FROM_OH, as_cli,
                                           dataset_options, family_of, folder_of, load_json,
                                           mode_of, tiny_options, write_generator, write_rhd)

CUSTOM_IMPORTS = dict(imports=['mmselfdis'], allow_failed_imports=False)
MMPOSE = 'hand_2d_keypoint/topdown_heatmap/'
# MMPose's own config each folder starts from, its dataset class and default data_root
SOURCES = {
    'onehand10k': ('onehand10k/td-hm_res50_8xb32-210e_onehand10k-256x256.py',
                   'OneHand10KDataset', 'data/onehand10k/', (256, 256)),
    'freihand2d': ('freihand2d/td-hm_res50_8xb64-100e_freihand2d-224x224.py',
                   'FreiHandDataset', 'data/freihand/', (224, 224)),
    'rhd2d': ('rhd2d/td-hm_res50_8xb64-210e_rhd2d-256x256.py', 'Rhd2DDataset', 'data/rhd/',
              (256, 256)),
    'coco_wholebody_hand': (
        'coco_wholebody_hand/td-hm_res50_8xb32-210e_coco-wholebody-hand-256x256.py',
        'CocoWholeBodyHandDataset', 'data/coco/', (256, 256)),
    'panoptic_hand2d': ('onehand10k/td-hm_res50_8xb32-210e_onehand10k-256x256.py',
                        'PanopticHand2DDataset', 'data/panoptic/', (256, 256)),
    'combined': ('onehand10k/td-hm_res50_8xb32-210e_onehand10k-256x256.py',
                 'CombinedDataset', None, (256, 256)),
}
ADDED_KEYS = {'custom_imports', 'appearance_crop'}
MIX_INDEX = {'rgb': 5, 'mono': 6}  # the index docs/datasets.md gives for the checkpoint


@functools.lru_cache(maxsize=None)
def _load(path):
    return Config.fromfile(path)


def mmpose_cfg(rel):
    """One of MMPose's own configs (``mmpose::`` + rel)."""
    import mmpose
    return Config.fromfile(osp.join(osp.dirname(mmpose.__file__), '.mim', 'configs', rel))


def plain(obj):
    """A config value without the ``_scope_`` marks MMEngine adds to inherited dicts."""
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items() if k != '_scope_'}
    if isinstance(obj, (list, tuple)):
        return type(obj)(plain(v) for v in obj)
    return obj


def cfg_of(path):
    return copy.deepcopy(_load(path))


def sibling(path, family):
    """The config of another family for the same dataset and colour mode."""
    return osp.join(osp.dirname(path), f'{family}_' + osp.basename(path).split('_', 1)[1])


def pipelines(cfg):
    out = {'train': cfg.train_dataloader.dataset.pipeline,
           'val': cfg.val_dataloader.dataset.pipeline,
           'test': cfg.test_dataloader.dataset.pipeline,
           'appearance_crop': cfg.appearance_crop}
    mix = [t for t in out['train'] if t['type'] == 'MixReconstruct']
    if mix:
        out['mix.pre_transform'] = mix[0]['pre_transform']
    return out


def without(pipeline, type_):
    return [t for t in pipeline if t['type'] != type_]


# ---------------------------------------------------------------- layout and contents
def test_every_dataset_has_all_six_configs():
    names = {folder: sorted(osp.basename(p) for p in CONFIGS if folder_of(p) == folder)
             for folder in FOLDERS}
    assert sorted({folder_of(p) for p in CONFIGS}) == sorted(FOLDERS)
    assert names['freihand2d'] == [
        'baseline_res50_freihand2d-224x224_mono.py', 'baseline_res50_freihand2d-224x224_rgb.py',
        'selfdis-mix_res50_freihand2d-224x224_mono.py',
        'selfdis-mix_res50_freihand2d-224x224_rgb.py',
        'selfdis_res50_freihand2d-224x224_mono.py', 'selfdis_res50_freihand2d-224x224_rgb.py']
    for folder, files in names.items():
        assert len(files) == 6, (folder, files)
        assert {(family_of(f), mode_of(f)) for f in files} == {
            (fam, mode) for fam in ('baseline', 'selfdis', 'selfdis-mix')
            for mode in ('rgb', 'mono')}, folder
    assert len(CONFIGS) == 36


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_contents(path):
    cfg = cfg_of(path)
    folder, family, mode = folder_of(path), family_of(path), mode_of(path)
    assert cfg.custom_imports == CUSTOM_IMPORTS
    assert 'custom_imports = dict(' in open(path).read()

    # input size: MMPose's for the dataset, named in the file name
    size = SOURCES[folder][3]
    assert cfg.codec.input_size == size and f'-{size[0]}x{size[1]}_' in osp.basename(path)
    assert cfg.model.backbone.depth == 50 and cfg.model.head.out_channels == 21

    # dataset class and MMPose's default data_root
    train, val = cfg.train_dataloader.dataset, cfg.val_dataloader.dataset
    if folder == 'combined':
        assert train.type == 'CombinedDataset'
        assert train.metainfo == dict(from_file='configs/_base_/datasets/onehand10k.py')
        assert [(d.type, d.data_root) for d in train.datasets] == [
            ('Rhd2DDataset', 'data/rhd/'), ('OneHand10KDataset', 'data/onehand10k/')]
        for d in train.datasets:
            assert [t['type'] for t in d.pipeline] == ['KeypointConverter']
        assert (val.type, val.data_root) == ('OneHand10KDataset', 'data/onehand10k/')
    else:
        _, dataset_type, data_root, _ = SOURCES[folder]
        for split in (train, val, cfg.test_dataloader.dataset):
            assert (split.type, split.data_root) == (dataset_type, data_root)

    # model: the snippet on top of MMPose's estimator
    if family == 'baseline':
        assert cfg.model.type == 'TopdownPoseEstimator' and 'selfdis' not in cfg.model
    else:
        assert cfg.model.type == 'SelfDisPoseEstimator'
        assert cfg.model.selfdis == dict(type='SelfDisHead', appearance_source='backbone.layer2')

    # colour
    pre = cfg.model.data_preprocessor
    for name, pipe in pipelines(cfg).items():
        types = [t['type'] for t in pipe]
        if mode == 'mono':
            assert types[:2] == ['LoadImage', 'ToMonochrome'], (name, types)
        else:
            assert 'ToMonochrome' not in types and types[0] == 'LoadImage', (name, types)
    if mode == 'mono':
        assert cfg.model.backbone.in_channels == 1
        assert (pre.mean, pre.std, pre.bgr_to_rgb) == ([127.5], [127.5], False)
    else:
        assert cfg.model.backbone.get('in_channels', 3) == 3
        assert len(pre.mean) == 3 and pre.bgr_to_rgb is True

    # MixReconstruct: right after TopdownAffine, before GenerateTarget, at the documented index
    types = [t['type'] for t in cfg.train_dataloader.dataset.pipeline]
    if family == 'selfdis-mix':
        i = MIX_INDEX[mode]
        assert types[i - 1:i + 2] == ['TopdownAffine', 'MixReconstruct', 'GenerateTarget']
        mix = cfg.train_dataloader.dataset.pipeline[i]
        generator = sibling(path, 'selfdis')
        assert osp.isfile(generator)
        assert mix.checkpoint == cfg.generator_checkpoint == (
            f'work_dirs/{osp.basename(generator)[:-3]}/epoch_{cfg.train_cfg.max_epochs}.pth')
        assert mix.prob == 0.5 and mix.pre_transform == cfg.appearance_crop
        assert mix.pre_transform[-1] == dict(type='TopdownAffine', input_size=size)
    else:
        assert 'MixReconstruct' not in types


def _diff_keys(a, b):
    a, b = plain(a), plain(b)
    return {k for k in set(a) | set(b) if a.get(k) != b.get(k)}


@pytest.mark.parametrize(
    'folder', [f for f in FOLDERS if f not in ('panoptic_hand2d', 'combined')])
def test_rgb_baseline_is_mmpose_config(folder):
    """The RGB baselines add the plugin import and the appearance crop, nothing else."""
    ours = cfg_of(osp.join(HANDS, folder, '_base_', 'rgb.py'))
    theirs = mmpose_cfg(MMPOSE + SOURCES[folder][0])
    assert _diff_keys(ours.to_dict(), theirs.to_dict()) == ADDED_KEYS


def test_panoptic_changes_only_dataset_and_metric():
    ours = plain(cfg_of(osp.join(HANDS, 'panoptic_hand2d', '_base_', 'rgb.py')).to_dict())
    theirs = plain(mmpose_cfg(MMPOSE + SOURCES['panoptic_hand2d'][0]).to_dict())
    assert _diff_keys(ours, theirs) == ADDED_KEYS | {
        'dataset_type', 'data_root', 'train_pipeline', 'val_pipeline', 'train_dataloader',
        'val_dataloader', 'test_dataloader', 'val_evaluator', 'test_evaluator'}
    assert ours['val_evaluator'][0] == dict(type='PCKAccuracy', thr=0.7, norm_item='head')
    assert ours['train_dataloader']['dataset']['ann_file'] == 'annotations/panoptic_train.json'
    assert ours['test_dataloader']['dataset']['ann_file'] == 'annotations/panoptic_test.json'
    assert ours['train_pipeline'][1] == dict(type='GetBBoxCenterScale', padding=1.76)
    # apart from the dataset, its pipelines keep MMPose's steps and the batch/sampler settings
    for split in ('train_dataloader', 'val_dataloader'):
        assert _diff_keys(ours[split]['dataset'], theirs[split]['dataset']) == {
            'type', 'data_root', 'ann_file', 'pipeline'}
        assert _diff_keys(ours[split], theirs[split]) == {'dataset'}


@pytest.mark.parametrize('folder', FOLDERS)
def test_variants_change_only_what_differs(folder):
    paths = {(family_of(p), mode_of(p)): p for p in CONFIGS if folder_of(p) == folder}
    cfgs = {k: plain(cfg_of(p).to_dict()) for k, p in paths.items()}
    for mode in ('rgb', 'mono'):
        base, sd, mix = (cfgs[(f, mode)] for f in ('baseline', 'selfdis', 'selfdis-mix'))
        assert _diff_keys(base, sd) == {'model'}
        assert _diff_keys(base['model'], sd['model']) == {'type', 'selfdis'}
        assert _diff_keys(sd, mix) == {'generator_checkpoint', 'train_pipeline',
                                       'train_dataloader'}
        assert without(mix['train_pipeline'], 'MixReconstruct') == sd['train_pipeline']
        # (a CombinedDataset holds the pipeline on the wrapper, like a plain dataset)
        assert mix['train_dataloader']['dataset']['pipeline'] == mix['train_pipeline']
    rgb, mono = cfgs[('baseline', 'rgb')], cfgs[('baseline', 'mono')]
    assert _diff_keys(rgb, mono) >= {'model', 'train_pipeline', 'val_pipeline'}
    assert _diff_keys(rgb['model'], mono['model']) == {'backbone', 'data_preprocessor'}
    assert _diff_keys(rgb['model']['backbone'], mono['model']['backbone']) == {'in_channels'}
    for key in ('train_pipeline', 'val_pipeline', 'appearance_crop'):
        assert without(mono[key], 'ToMonochrome') == rgb[key], key
    for key in ('optim_wrapper', 'param_scheduler', 'train_cfg', 'val_evaluator', 'codec'):
        assert rgb[key] == mono[key], key


# ---------------------------------------------------------------- full-size models
def test_full_size_selfdis_model_builds():
    """ResNet-50 at FreiHAND's 224x224 (7x7 pose features): the decoder reaches the input.

    The 256x256 ResNet-50 build is tested with configs/selfdis in tests/test_models.
    """
    path = osp.join(HANDS, 'freihand2d', 'selfdis_res50_freihand2d-224x224_rgb.py')
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS
    init_default_scope('mmpose')
    model = MODELS.build(cfg_of(path).model)
    assert model.backbone.conv1.in_channels == 3 and model.selfdis.image_channels == 3
    assert model.selfdis.input_size == (224, 224)


# ---------------------------------------------------------------- one step on tiny data
@pytest.fixture(scope='module')
def generators(tmp_path_factory, samples_dir):
    root = tmp_path_factory.mktemp('generators')
    return {mode: write_generator(mode, root / f'generator_{mode}.pth')
            for mode in ('rgb', 'mono')}


def tiny_cfg(path, tmp_path, generators=None, prob=None):
    """The config shrunk and pointed at tiny data, as --cfg-options would do it."""
    cfg = cfg_of(path)
    cfg.merge_from_dict(tiny_options(cfg))
    cfg.merge_from_dict(dataset_options(folder_of(path), tmp_path))
    if family_of(path) == 'selfdis-mix':
        key = f'train_dataloader.dataset.pipeline.{MIX_INDEX[mode_of(path)]}'
        cfg.merge_from_dict({f'{key}.checkpoint': generators[mode_of(path)]})
        if prob is not None:
            cfg.merge_from_dict({f'{key}.prob': prob})
    return cfg


def train_step_and_validate(cfg):
    """One optimiser step on a training batch, then the full validation loop."""
    from mmengine.evaluator import Evaluator
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner
    from mmpose.registry import MODELS

    init_default_scope('mmpose')
    torch.manual_seed(0)
    np.random.seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    train_loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    model.train()
    before = {k: v.detach().clone() for k, v in model.head.named_parameters()}
    log_vars = model.train_step(next(iter(train_loader)), optim_wrapper)
    changed = any(not torch.equal(before[k], v) for k, v in model.head.named_parameters())

    val_loader = Runner.build_dataloader(cfg.val_dataloader, seed=0)
    evaluator = Evaluator(cfg.val_evaluator)
    evaluator.dataset_meta = val_loader.dataset.metainfo
    model.eval()
    with torch.no_grad():
        for batch in val_loader:
            evaluator.process(model.val_step(batch), batch)
    metrics = evaluator.evaluate(len(val_loader.dataset))
    return model, train_loader, log_vars, changed, metrics


def build_and_load(cfg):
    """The model and the train/val datasets of a config; one sample through each pipeline."""
    from mmengine.registry import init_default_scope
    from mmpose.registry import DATASETS, MODELS

    init_default_scope('mmpose')
    np.random.seed(0)
    model = MODELS.build(cfg.model)
    train_set = DATASETS.build(cfg.train_dataloader.dataset)
    val_set = DATASETS.build(cfg.val_dataloader.dataset)
    return model, train_set, val_set, train_set[0], val_set[0]


def n_train_samples(folder):
    # combined: the RHD-format FreiHAND file + the OneHand10K samples
    return {'freihand2d': 8, 'combined': 8 + 4}.get(folder, 4)


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_builds_on_tiny_data(path, tmp_path, samples_dir, generators):
    """Every config: model, datasets and both pipelines on real images (mixing forced on)."""
    family, mode, folder = family_of(path), mode_of(path), folder_of(path)
    channels = 1 if mode == 'mono' else 3
    cfg = tiny_cfg(path, tmp_path, generators, prob=1.0)
    model, train_set, val_set, train_sample, val_sample = build_and_load(cfg)

    assert type(model).__name__ == ('TopdownPoseEstimator' if family == 'baseline'
                                    else 'SelfDisPoseEstimator')
    assert model.backbone.conv1.in_channels == channels
    assert len(train_set) == n_train_samples(folder)
    assert len(val_set) == (8 if folder == 'freihand2d' else 4)
    assert tuple(train_sample['inputs'].shape) == (channels, 64, 64)
    assert tuple(val_sample['inputs'].shape) == (channels, 64, 64)
    target = train_sample['data_samples'].gt_fields.heatmaps
    assert tuple(target.shape) == (21, 16, 16) and float(target.max()) > 0.5
    assert train_sample['data_samples'].gt_instances.keypoints.shape == (1, 21, 2)
    if family == 'selfdis-mix':
        mix = train_set.pipeline.transforms[MIX_INDEX[mode]]
        assert type(mix).__name__ == 'MixReconstruct' and mix.prob == 1.0
        assert mix._generator is not None, 'MixReconstruct did not run its generator'


# Every config trains one step and validates (on the real samples or a tiny file in its
# format); onehand10k's mono selfdis also goes through tools/train.py below.
TRAINED = CONFIGS


@pytest.mark.parametrize('path', TRAINED, ids=osp.basename)
def test_train_step_and_validation(path, tmp_path, samples_dir, generators):
    family, folder = family_of(path), folder_of(path)
    cfg = tiny_cfg(path, tmp_path, generators)
    model, loader, log_vars, changed, metrics = train_step_and_validate(cfg)

    assert changed, 'the optimiser step did not update the pose head'
    assert all(math.isfinite(float(v)) for v in log_vars.values()), log_vars
    expected = {'loss', 'loss_kpt', 'acc_pose'}
    if family != 'baseline':
        expected |= {'loss_img', 'loss_d', 'loss_g', 'loss_cycle_img', 'loss_dual_pose',
                     'loss_dual_img', 'loss_cycle_pose'}
    assert set(log_vars) == expected
    pck = 'PCKh' if folder == 'panoptic_hand2d' else 'PCK'
    assert set(metrics) == {pck, 'AUC', 'EPE'}
    assert 0 <= metrics[pck] <= 1 and 0 <= metrics['AUC'] <= 1
    assert 0 < metrics['EPE'] < 1000
    assert len(loader.dataset) == n_train_samples(folder)


# ---------------------------------------------------------------- keypoint orders
def test_rhd_order_round_trip(tmp_path, samples_dir):
    """OneHand10K -> an RHD-format copy -> Rhd2DDataset + KeypointConverter == the original."""
    from mmengine.registry import init_default_scope
    from mmpose.datasets import OneHand10KDataset, Rhd2DDataset
    init_default_scope('mmpose')
    orders = Config.fromfile(osp.join(HANDS, '_base_', 'keypoint_orders.py'))
    # the same mapping as MMPose's own multi-dataset hand config
    hand5 = mmpose_cfg('hand_2d_keypoint/rtmpose/hand5/rtmpose-m_8xb256-210e_hand5-256x256.py')
    assert orders.rhd2d_to_onehand10k == hand5.dataset_rhd.pipeline[0].mapping
    assert orders.onehand10k_identity == [(i, i) for i in range(21)]

    rhd_json = write_rhd(ONEHAND10K_JSON, tmp_path / 'rhd.json')
    src = load_json(ONEHAND10K_JSON)['annotations'][0]['keypoints']
    written = load_json(rhd_json)['annotations'][0]['keypoints']
    assert written[3:6] == src[12:15]  # RHD index 1 is the thumb tip (OneHand10K index 4)
    assert written[12:15] == src[3:6]  # RHD index 4 is the thumb base
    assert written[0:3] == src[0:3]  # the wrist stays first

    converter = dict(type='KeypointConverter', num_keypoints=21,
                     mapping=orders.rhd2d_to_onehand10k)
    rhd = Rhd2DDataset(ann_file=rhd_json, data_prefix=dict(img=ONEHAND10K),
                       pipeline=[converter])
    original = OneHand10KDataset(ann_file=ONEHAND10K_JSON, data_root=ONEHAND10K,
                                 data_prefix=dict(img=''), pipeline=[])
    raw = Rhd2DDataset(ann_file=rhd_json, data_prefix=dict(img=ONEHAND10K), pipeline=[])
    assert len(rhd) == len(original) == 4
    assert rhd.metainfo['keypoint_id2name'][1] == 'thumb4'  # MMPose's RHD metainfo: tip first
    for i in range(4):
        back, ref = rhd[i], original[i]
        assert back['img_path'] == ref['img_path']
        np.testing.assert_array_equal(back['keypoints'], ref['keypoints'])
        np.testing.assert_array_equal(back['keypoints_visible'][..., 0],
                                      ref['keypoints_visible'])
        # and the unconverted file really is in another order
        np.testing.assert_array_equal(raw[i]['keypoints'][0, RHD_FROM_OH],
                                      ref['keypoints'][0])
        assert not np.array_equal(raw[i]['keypoints'], ref['keypoints'])


def test_cross_dataset_mixing(tmp_path, samples_dir, generators):
    """RHD-format poses + OneHand10K photos in one CombinedDataset, mixed across datasets."""
    from mmengine.registry import init_default_scope
    from mmpose.registry import DATASETS

    from mmselfdis.datasets.transforms import MIX_META_KEYS
    init_default_scope('mmpose')
    path = osp.join(HANDS, 'combined', 'selfdis-mix_res50_rhd2d-onehand10k-256x256_mono.py')
    cfg = tiny_cfg(path, tmp_path, generators, prob=1.0)
    pack = cfg.train_dataloader.dataset.pipeline[-1]
    assert pack.type == 'PackPoseInputs'
    pack.meta_keys = ('id', 'img_id', 'img_path', 'input_size', 'flip') + MIX_META_KEYS
    dataset = DATASETS.build(cfg.train_dataloader.dataset)

    # labels of both sources in the OneHand10K order, exactly those of the original files
    originals = [load_json(FREIHAND_JSON), load_json(ONEHAND10K_JSON)]
    assert dataset.lens == [8, 4]
    by_path = {}
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        assert info['keypoints'].shape == (1, 21, 2)
        by_path[info['img_path']] = info['keypoints'][0]
    assert len(by_path) == 12
    for d, root in ((originals[0], FREIHAND), (originals[1], ONEHAND10K)):
        img = {im['id']: im['file_name'] for im in d['images']}
        for ann in d['annotations']:
            want = np.array(ann['keypoints'], dtype=np.float32).reshape(21, 3)[:, :2]
            np.testing.assert_array_equal(by_path[osp.join(root, img[ann['image_id']])], want)

    # every sample mixed; RHD poses got OneHand10K appearances (and the reverse)
    np.random.seed(0)
    pairs = []
    for i in range(len(dataset)):
        sample = dataset[i]['data_samples']
        assert sample.metainfo['mixed'] is True
        pose_src = FREIHAND if FREIHAND in sample.metainfo['img_path'] else ONEHAND10K
        app_src = (FREIHAND if FREIHAND in sample.metainfo['mix_source']['img_path']
                   else ONEHAND10K)
        pairs.append((pose_src, app_src))
    assert (FREIHAND, ONEHAND10K) in pairs and (ONEHAND10K, FREIHAND) in pairs
    assert len(pairs) == 12

    # appearances from the OneHand10K photos only (appearance_pool, docs/datasets.md)
    mix = cfg.train_dataloader.dataset.pipeline[MIX_INDEX['mono']]
    assert mix.type == 'MixReconstruct'
    mix.appearance_pool = dict(cfg.onehand10k_train, data_root=ONEHAND10K,
                               ann_file='test_onehand10k.json')
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    sources = [dataset[i]['data_samples'].metainfo['mix_source']['img_path'] for i in range(8)]
    assert all(src.startswith(ONEHAND10K) for src in sources), sources


# ---------------------------------------------------------------- tools/train.py end to end
def test_train_cli_onehand10k_mono_selfdis(tmp_path, samples_dir):
    """tools/train.py on the real OneHand10K samples: 2 iterations, validation, checkpoint."""
    path = osp.join(HANDS, 'onehand10k', 'selfdis_res50_onehand10k-256x256_mono.py')
    cfg = cfg_of(path)
    opts = {**tiny_options(cfg), **dataset_options('onehand10k', tmp_path)}
    work = tmp_path / 'work'
    run_tool('tools/train.py', path, '--work-dir', work, '--cfg-options', *as_cli(opts))
    ckpt = torch.load(work / 'epoch_1.pth', weights_only=True)
    assert ckpt['meta']['iter'] == 2  # 4 samples, batch 2, 1 epoch
    assert ckpt['state_dict']['backbone.conv1.weight'].shape == (16, 1, 7, 7)
    assert any(k.startswith('selfdis.image_decoder.') for k in ckpt['state_dict'])
    scalars = glob.glob(str(work / '*' / 'vis_data' / 'scalars.json'))
    rows = [json.loads(line) for line in open(scalars[0]) if line.strip()]
    train_rows = [r for r in rows if 'loss_img' in r]
    assert [r['iter'] for r in train_rows] == [1, 2]
    val = [r for r in rows if 'AUC' in r]
    assert len(val) == 1 and {'PCK', 'AUC', 'EPE'} <= set(val[0])
    assert osp.isfile(work / 'best_AUC_epoch_1.pth')
