"""SynthHands: the renderer, the dataset writer, its CLI and the MMPose dataset class."""
import json
import os
import os.path as osp
from collections import defaultdict

import cv2
import numpy as np
import pytest

from synthhands import (HELD_OUT_FAMILIES, POSE_TEMPLATES, families_of, render, render_geometries,
                        render_geometry, sample_appearance, sample_pose, write_dataset)
from synthhands.hand_model import FINGER_JOINTS, FINGERS, JOINT_LIMITS, KEYPOINT_NAMES
from synthhands.poses import template_angles
from synthhands.writer import plan_splits
from tests.conftest import run_tool

QUAT_PALM_VIEW = [0.0, 1.0, 0.0, 0.0]  # 180 deg about x: fingers up, palm towards the camera
QUAT_BACK_VIEW = [0.0, 0.0, 0.0, 1.0]  # 180 deg about z: fingers up, back of the hand


def _pose(template: str, rotation, side: str = 'right') -> dict:
    return {
        'template': template, 'blend': None, 'side': side, 'angles': template_angles(template),
        'wrist': {'flex': 0.0, 'dev': 0.0},
        'shape': {'finger_length': 1.0, 'palm_width': 1.0, 'thickness': 1.0},
        'rotation': list(rotation), 'distance': 450.0,
        'crop': {'margin': 1.25, 'jitter': [0.0, 0.0]}
    }


def _load(root, split):
    with open(osp.join(root, 'annotations', f'{split}.json')) as f:
        return json.load(f)


def _tree_bytes(root):
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = osp.join(dirpath, name)
            with open(path, 'rb') as f:
                out[osp.relpath(path, root)] = f.read()
    return out


@pytest.fixture(scope='module')
def dataset_root(tmp_path_factory):
    """A tiny dataset: 24 poses x 3 appearances, every split non-empty."""
    root = str(tmp_path_factory.mktemp('synthhands') / 'ds')
    stats = write_dataset(root, num_poses=24, appearances=3, seed=7, workers=1, val_frac=0.125,
                          test_frac=0.125, shift_frac=0.25, progress=False)
    assert stats['images'] == 72
    return root


# --------------------------------------------------------------------------- renderer


def test_visible_keypoints_lie_on_the_hand():
    poses = [sample_pose(np.random.default_rng([11, i])) for i in range(40)]
    visible = occluded = 0
    for geom in render_geometries(poses, size=128):
        hand, body = geom.hand_mask, geom.body_mask
        px = np.round(geom.keypoints).astype(int)
        assert np.all((px >= 0) & (px < 128)), 'keypoints must lie inside the crop'
        x0, y0, w, h = geom.bbox
        assert np.all((geom.keypoints >= (x0 - 1e-6, y0 - 1e-6))
                      & (geom.keypoints <= (x0 + w + 1e-6, y0 + h + 1e-6)))
        for k in np.flatnonzero(geom.visibility):
            x, y = px[k]
            # The wrist sits on the hand/forearm junction; every other keypoint on the hand.
            mask = body if k == 0 else hand
            assert mask[y, x], f'visible keypoint {KEYPOINT_NAMES[k]} at {(x, y)} is off the hand'
        visible += int(geom.visibility.sum())
        occluded += int((~geom.visibility).sum())
    # Self-occlusion happens, but most keypoints are visible.
    assert visible > 0.5 * (visible + occluded) and occluded > 0.05 * (visible + occluded)


def test_keypoints_follow_the_pixel_centre_convention_across_sizes():
    pose = sample_pose(np.random.default_rng(3))
    kp64 = render_geometry(pose, 64).keypoints
    kp96 = render_geometry(pose, 96).keypoints
    np.testing.assert_allclose(kp96, (kp64 + 0.5) * 1.5 - 0.5, atol=1e-9)


def test_depth_test_follows_the_view_of_a_fist():
    mcp, pip, tips = [5, 9, 13, 17], [6, 10, 14, 18], [8, 12, 16, 20]
    open_palm = render_geometry(_pose('open_palm', QUAT_PALM_VIEW), 128)
    assert open_palm.visibility.all(), 'an open palm facing the camera shows all keypoints'
    # From behind: the knuckles show, the curled fingers are hidden behind the hand.
    fist_back = render_geometry(_pose('fist', QUAT_BACK_VIEW), 128)
    assert fist_back.visibility[mcp].all() and not fist_back.visibility[pip + tips].any()
    # From the palm side: the curled fingers cover their knuckles and hide their tips.
    fist_front = render_geometry(_pose('fist', QUAT_PALM_VIEW), 128)
    assert fist_front.visibility[pip].sum() >= 3 and not fist_front.visibility[mcp + tips].any()


def test_left_hand_is_the_mirror_of_the_right_hand():
    right = render_geometry(_pose('point', QUAT_PALM_VIEW, 'right'), 64)
    left = render_geometry(_pose('point', QUAT_PALM_VIEW, 'left'), 64)
    # Mirroring the hand's x axis mirrors the crop about its vertical centre line.
    np.testing.assert_allclose(left.keypoints[:, 0], 63 - right.keypoints[:, 0], atol=1e-6)
    np.testing.assert_allclose(left.keypoints[:, 1], right.keypoints[:, 1], atol=1e-6)


def test_sampled_poses_respect_anatomical_limits_and_templates():
    names = set()
    for i in range(200):
        pose = sample_pose(np.random.default_rng([5, i]))
        names.add(pose['template'])
        for finger in FINGERS:
            for value, joint in zip(pose['angles'][finger], FINGER_JOINTS[finger]):
                lo, hi = JOINT_LIMITS[finger][joint]
                assert lo <= value <= hi, (finger, joint, value)
    assert {'fist', 'point', 'open_palm', 'pinch', 'victory', 'thumbs_up'} <= set(POSE_TEMPLATES)
    assert len(names) >= 12, f'templates drawn: {sorted(names)}'


def test_render_rgb_and_size():
    pose = sample_pose(np.random.default_rng(1))
    app = sample_appearance(np.random.default_rng(2))
    img, kps, vis = render(pose, app, size=96, rgb=True)
    assert img.shape == (96, 96, 3) and img.dtype == np.uint8
    assert kps.shape == (21, 2) and vis.shape == (21, ) and vis.dtype == bool
    grey, _, _ = render(pose, app, size=96)
    assert grey.shape == (96, 96)
    # The grey image is the luma of the colour scene (same geometry, lighting and noise draws).
    luma = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(int)
    assert np.abs(luma - grey.astype(int)).mean() < 12


def test_appearance_families_are_split_by_held_out():
    held = {factor: set(names) for factor, names in HELD_OUT_FAMILIES.items()}
    for i in range(300):
        seen = families_of(sample_appearance(np.random.default_rng([9, i]), held_out=False))
        assert all(seen[f] not in held[f] for f in held), seen
        shifted = families_of(sample_appearance(np.random.default_rng([9, i]), held_out=True))
        assert all(shifted[f] in held[f] for f in held), shifted


# --------------------------------------------------------------------------- dataset files


def test_pairs_share_keypoints_and_differ_in_appearance(dataset_root):
    coco = _load(dataset_root, 'train')
    groups = defaultdict(list)
    for ann in coco['annotations']:
        groups[ann['pose_id']].append(ann)
    assert groups and all(len(g) == 3 for g in groups.values())
    files = {img['id']: img['file_name'] for img in coco['images']}
    for anns in groups.values():
        assert all(a['keypoints'] == anns[0]['keypoints'] for a in anns)
        assert all(a['bbox'] == anns[0]['bbox'] and a['pose'] == anns[0]['pose'] for a in anns)
        assert len({a['appearance_id'] for a in anns}) == 3
        imgs = [cv2.imread(osp.join(dataset_root, files[a['image_id']]), cv2.IMREAD_UNCHANGED)
                for a in anns]
        assert imgs[0].shape == (64, 64)
        for other in imgs[1:]:
            assert np.abs(imgs[0].astype(int) - other.astype(int)).mean() > 4


def test_render_reproduces_files_and_mixes(dataset_root):
    coco = _load(dataset_root, 'val')
    files = {img['id']: img['file_name'] for img in coco['images']}
    a, b, c = coco['annotations'][:3]  # one pose, three appearances
    assert a['pose_id'] == b['pose_id'] == c['pose_id']
    other = coco['annotations'][3]
    assert other['pose_id'] != a['pose_id']
    stored = cv2.imread(osp.join(dataset_root, files[b['image_id']]), cv2.IMREAD_UNCHANGED)
    # Pose of a with the appearance of b is exactly b's image: the ground truth of a mix.
    img, kps, vis = render(a['pose'], b['appearance'])
    np.testing.assert_array_equal(img, stored)
    flat = np.asarray(a['keypoints'], float).reshape(21, 3)
    np.testing.assert_allclose(kps, flat[:, :2], atol=1e-3)
    np.testing.assert_array_equal(np.where(vis, 2, 1), flat[:, 2])
    # A mix across poses keeps the pose sample's keypoints and takes the other's appearance.
    mix, mix_kps, _ = render(a['pose'], other['appearance'])
    np.testing.assert_array_equal(mix_kps, kps)
    assert np.abs(mix.astype(int) - stored.astype(int)).mean() > 4


def test_test_shift_uses_only_held_out_families(dataset_root):
    held = {factor: set(names) for factor, names in HELD_OUT_FAMILIES.items()}
    for split in ('train', 'val', 'test', 'test_shift'):
        coco = _load(dataset_root, split)
        assert coco['info']['held_out_families'] == {k: list(v)
                                                     for k, v in HELD_OUT_FAMILIES.items()}
        assert coco['annotations'], split
        for ann in coco['annotations']:
            families = families_of(ann['appearance'])
            if split == 'test_shift':
                assert all(families[f] in held[f] for f in held), families
            else:
                assert all(families[f] not in held[f] for f in held), (split, families)


def test_splits_partition_poses(dataset_root):
    pose_sets = {}
    for split in ('train', 'val', 'test', 'test_shift'):
        coco = _load(dataset_root, split)
        pose_sets[split] = {a['pose_id'] for a in coco['annotations']}
        ids = [img['id'] for img in coco['images']]
        assert ids == [a['image_id'] for a in coco['annotations']]
    assert [len(pose_sets[s]) for s in ('train', 'val', 'test', 'test_shift')] == [12, 3, 3, 6]
    assert set.union(*pose_sets.values()) == set(range(24))
    assert plan_splits(10, 0.1, 0.1, 0.0) == [('train', 0, 8), ('val', 8, 1), ('test', 9, 1),
                                              ('test_shift', 10, 0)]
    with pytest.raises(ValueError, match='no pose for train'):
        plan_splits(3, 0.4, 0.4, 0.4)
    with pytest.raises(ValueError, match='--shift-frac'):
        plan_splits(10, 0.1, 0.1, 1.5)


def test_failed_render_leaves_nothing_behind(tmp_path, monkeypatch):
    from synthhands import writer

    def broken(task):
        raise RuntimeError('renderer failed')

    monkeypatch.setattr(writer, '_render_chunk', broken)
    out = tmp_path / 'ds'
    with pytest.raises(RuntimeError, match='renderer failed'):
        write_dataset(str(out), num_poses=4, workers=1, progress=False)
    assert os.listdir(tmp_path) == []


# --------------------------------------------------------------------------- MMPose dataset


def test_dataset_class_feeds_a_topdown_pipeline(dataset_root):
    from mmengine.registry import init_default_scope

    from mmselfdis.datasets import SynthHandDataset
    init_default_scope('mmpose')
    codec = dict(type='MSRAHeatmap', input_size=(64, 64), heatmap_size=(16, 16), sigma=2)
    pipeline = [
        dict(type='LoadImage'),
        dict(type='GetBBoxCenterScale'),
        dict(type='TopdownAffine', input_size=(64, 64)),
        dict(type='GenerateTarget', encoder=codec),
        dict(type='PackPoseInputs'),
    ]
    dataset = SynthHandDataset(data_root=dataset_root, ann_file='annotations/train.json',
                               data_prefix=dict(img=''), pipeline=pipeline)
    assert len(dataset) == 12 * 3
    assert dataset.metainfo['num_keypoints'] == 21
    assert dataset.metainfo['keypoint_id2name'][4] == 'thumb4'
    info = dataset.get_data_info(4)
    assert (info['pose_id'], info['appearance_id'], info['appearance_index']) == (1, 4, 1)
    assert dataset.indices_of_pose(1) == [3, 4, 5]
    assert dataset.paired_indices(4) == [3, 5]
    with pytest.raises(KeyError, match='pose_id 999'):
        dataset.indices_of_pose(999)
    sample = dataset[4]
    assert tuple(sample['inputs'].shape) == (3, 64, 64)
    data_sample = sample['data_samples']
    assert tuple(data_sample.gt_fields.heatmaps.shape) == (21, 16, 16)
    assert tuple(data_sample.gt_instance_labels.keypoint_weights.shape) == (1, 21)
    # The pipeline's crop contains the hand: every keypoint gets a heatmap peak.
    peaks = data_sample.gt_fields.heatmaps.flatten(1).max(dim=1).values
    assert bool((peaks > 0.5).all()), peaks


# --------------------------------------------------------------------------- CLI


def test_cli_is_deterministic_across_worker_counts(tmp_path):
    args = ['--num-poses', '150', '--appearances', '2', '--quiet']
    run_tool('tools/make_synthhands.py', tmp_path / 'w1', *args, '--seed', '4', '--workers', '1')
    proc = run_tool('tools/make_synthhands.py', tmp_path / 'w2', *args, '--seed', '4',
                    '--workers', '2')
    assert 'paired samples/s' in proc.stdout
    one, two = _tree_bytes(tmp_path / 'w1'), _tree_bytes(tmp_path / 'w2')
    assert len(one) == 300 + 4 and one == two
    run_tool('tools/make_synthhands.py', tmp_path / 's5', *args, '--seed', '5', '--workers', '2')
    five = _tree_bytes(tmp_path / 's5')
    assert five.keys() == one.keys() and five != one


_BLOCK_HEAVY = """
import importlib.abc, runpy, sys
BLOCKED = ('torch', 'mmengine', 'mmcv', 'mmdet', 'mmpose', 'mmselfdis')

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in BLOCKED:
            raise ImportError(f'{name} is blocked in this test')
        return None

sys.meta_path.insert(0, Block())
import synthhands
from synthhands import render, write_dataset, writer
sys.argv = ['make_synthhands.py'] + sys.argv[1:]
try:
    runpy.run_path('tools/make_synthhands.py', run_name='__main__')
except SystemExit as exc:
    assert not exc.code, exc.code
loaded = sorted({m.split('.')[0] for m in sys.modules} & set(BLOCKED))
assert not loaded, loaded
print('renderer without torch: ok')
"""


def test_renderer_and_tool_import_neither_torch_nor_mmpose(tmp_path):
    """The renderer is a package of its own: it and the tool run where torch cannot load."""
    proc = run_tool('-c', _BLOCK_HEAVY, tmp_path / 'ds', '--num-poses', '6', '--workers', '2',
                    '--quiet')
    assert 'renderer without torch: ok' in proc.stdout
    assert len(_load(tmp_path / 'ds', 'train')['images']) == 2 * 3


def test_cli_refuses_to_overwrite_without_force(tmp_path):
    out = tmp_path / 'ds'
    out.mkdir()
    (out / 'keep.txt').write_text('old')
    proc = run_tool('tools/make_synthhands.py', out, '--num-poses', '4', '--quiet', check=False)
    assert proc.returncode == 2
    assert '--force' in proc.stderr and 'already exists' in proc.stderr
    assert (out / 'keep.txt').read_text() == 'old'
    run_tool('tools/make_synthhands.py', out, '--num-poses', '4', '--quiet', '--force')
    assert not (out / 'keep.txt').exists()
    assert sorted(os.listdir(out / 'annotations')) == [
        'test.json', 'test_shift.json', 'train.json', 'val.json'
    ]
    assert sorted(os.listdir(tmp_path)) == ['ds']  # no temporary or old copies left


@pytest.mark.parametrize('option, message', [('--num-poses', 'nothing to render: --num-poses'),
                                             ('--appearances', 'nothing to render: --appearances')])
def test_cli_zero_images_is_a_clear_error(tmp_path, option, message):
    args = {'--num-poses': '4', '--appearances': '2'}
    args[option] = '0'
    flat = [x for kv in args.items() for x in kv]
    proc = run_tool('tools/make_synthhands.py', tmp_path / 'ds', *flat, check=False)
    assert proc.returncode == 2 and message in proc.stderr
    assert not (tmp_path / 'ds').exists()


def test_cli_unwritable_directory_is_a_clear_error(tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text('not a directory')
    proc = run_tool('tools/make_synthhands.py', blocker / 'ds', '--num-poses', '4', check=False)
    assert proc.returncode == 2
    assert 'cannot write the dataset' in proc.stderr and 'writable OUT_DIR' in proc.stderr


def test_contact_sheet(dataset_root, tmp_path):
    out = tmp_path / 'sheet.png'
    run_tool('tools/contact_sheet.py', dataset_root, '--split', 'test_shift', '--poses', '3',
             '--per-row', '2', '--out', out)
    sheet = cv2.imread(str(out))
    # Two rows of two groups; a group is 3 appearances plus 3 keypoint copies of 3x crops
    # (2 px frames, captions, a gap after each group).
    assert sheet.shape[:2] == (2 * (3 * 64 + 4 + 14 + 6), 2 * (6 * (3 * 64 + 4) + 10))
    proc = run_tool('tools/contact_sheet.py', dataset_root, '--split', 'nope', '--out', out,
                    check=False)
    assert proc.returncode == 2 and 'render the dataset first' in proc.stderr
