"""tools/synthesize.py: an offline mixed training set that MMPose datasets read."""
import json
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest

from mmselfdis.utils import ConfigError
from tests.conftest import run_tool
from ._fixtures import MIX_META, heatmap_codec, load_tool, synth_dataset


@pytest.fixture(scope='module')
def synthesized(train_config, tiny_generator, tmp_path_factory):
    out = tmp_path_factory.mktemp('syn') / 'mixed'
    load_tool('synthesize').main([train_config, tiny_generator, str(out), '--mixes-per-image',
                                  '1', '--seed', '0', '--quiet'])
    return str(out)


def _topdown(codec=True):
    steps = [dict(type='LoadImage'), dict(type='ToMonochrome'),
             dict(type='GetBBoxCenterScale', padding=1.0),
             dict(type='TopdownAffine', input_size=(64, 64))]
    if codec:
        steps.append(dict(type='GenerateTarget', encoder=heatmap_codec()))
    return steps + [dict(type='PackPoseInputs', meta_keys=MIX_META)]


def test_output_loads_in_mmpose_datasets_with_source_labels(synthesized, tiny_synth):
    src = synth_dataset(tiny_synth, [])
    n = len(src)
    coco = json.load(open(osp.join(synthesized, 'annotations', 'train.json')))
    anns = coco['annotations']
    assert len(anns) == 2 * n and sum(a['mixed'] for a in anns) == n
    assert coco['categories'][0]['keypoints'][0] == 'wrist'
    for dataset_type in ('SynthHandDataset', 'OneHand10KDataset'):
        ds = synth_dataset(synthesized, _topdown(), dataset_type=dataset_type,
                           ann='train.json')
        assert len(ds) == 2 * n
        item = ds[n]  # the first mix
        assert item['inputs'].shape == (1, 64, 64)
        assert item['data_samples'].gt_fields.heatmaps.shape[0] == 21
    # a mix carries the pose source's keypoints in crop coordinates (the crop is the box,
    # so GetBBoxCenterScale(padding=1.0) + TopdownAffine leave them where they are)
    crops = synth_dataset(tiny_synth, [dict(type='LoadImage'), dict(type='ToMonochrome'),
                                       dict(type='GetBBoxCenterScale'),
                                       dict(type='TopdownAffine', input_size=(64, 64))])
    by_path = {crops.get_data_info(i)['img_path']: i for i in range(n)}
    ds = synth_dataset(synthesized, _topdown(codec=False), ann='train.json')
    for k in (n, n + 1, 2 * n - 1):
        ann = anns[k]
        pose_idx = by_path[ann['pose_source']['img_path']]
        expected = crops.prepare_data(pose_idx)['transformed_keypoints'][0]
        got = np.array(ann['keypoints'], np.float32).reshape(-1, 3)
        vis = got[:, 2] > 0
        np.testing.assert_allclose(got[vis, :2], expected[vis], atol=1e-2)
        assert ann['appearance_source']['img_path'] != ann['pose_source']['img_path']
        np.testing.assert_allclose(ds[k]['data_samples'].gt_instances.keypoints[0][vis],
                                   expected[vis], atol=1e-2)
        assert ann['pose_id'] == crops.get_data_info(pose_idx)['pose_id']


def test_refuses_to_overwrite_without_force(synthesized, train_config, tiny_generator):
    tool = load_tool('synthesize')
    before = open(osp.join(synthesized, 'annotations', 'train.json')).read()
    with pytest.raises(ConfigError, match='--force'):
        tool.main([train_config, tiny_generator, synthesized, '--quiet'])
    assert open(osp.join(synthesized, 'annotations', 'train.json')).read() == before
    proc = run_tool('tools/synthesize.py', train_config, tiny_generator, synthesized,
                    check=False)
    assert proc.returncode == 2 and '--force' in proc.stderr


def test_ratio_and_force(train_config, tiny_generator, tiny_synth, tmp_path):
    tool = load_tool('synthesize')
    out = tmp_path / 'r'
    (out / 'old').mkdir(parents=True)
    n = len(synth_dataset(tiny_synth, []))
    tool.main([train_config, tiny_generator, str(out), '--ratio', '0.25', '--force', '--quiet'])
    assert not (out / 'old').exists()
    anns = json.load(open(out / 'annotations' / 'train.json'))['annotations']
    assert sum(a['mixed'] for a in anns) == round(0.25 * n / 0.75)
    assert sum(not a['mixed'] for a in anns) == n
    assert not list(tmp_path.glob('.r.tmp-*'))


def test_killed_force_run_gets_the_old_output_back(train_config, tiny_generator, tmp_path):
    """A --force run killed between moving OUT_DIR aside and moving the new one in."""
    dead = subprocess.Popen([sys.executable, '-c', 'pass'])
    dead.wait()
    out = tmp_path / 'mixed'
    aside = tmp_path / f'.mixed.old-{dead.pid}'
    (aside / 'annotations').mkdir(parents=True)
    (aside / 'annotations' / 'train.json').write_text('users mixes')
    proc = run_tool('tools/synthesize.py', train_config, tiny_generator, out, '--quiet',
                    check=False)
    assert proc.returncode == 2 and 'pass --force to replace it' in proc.stderr
    assert f'restored {out} from {aside}' in proc.stdout
    assert (out / 'annotations' / 'train.json').read_text() == 'users mixes'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['mixed']
