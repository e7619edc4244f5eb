"""The correlated SynthHands benchmark: pose families tied to appearance groups, test_combo."""
import json
import math
import os.path as osp
from collections import Counter

import cv2
import numpy as np
import pytest

from synthhands import HELD_OUT_FAMILIES, POSE_TEMPLATES, families_of, sample_appearance
from synthhands.appearance import families_for
from synthhands.correlation import (HARD_CAMERA, Correlation, appearance_groups,
                                    template_groups)
from synthhands.writer import plan_splits, write_dataset
from tests.conftest import run_tool

TEMPLATES = sorted(POSE_TEMPLATES)


def _load(root, split):
    with open(osp.join(root, 'annotations', f'{split}.json')) as f:
        return json.load(f)


def _own_share(corr, split, n):
    own = [corr.group_of(split, pid, k, TEMPLATES[pid % len(TEMPLATES)]) ==
           corr.family_group[TEMPLATES[pid % len(TEMPLATES)]]
           for pid in range(n) for k in range(2)]
    return sum(own) / len(own)


@pytest.mark.parametrize('rho', [0.9, 0.6, 1 / 3])
def test_tie_holds_at_the_requested_rho(rho):
    """The share of images with their pose family's own group is rho (seeded, 4 sigma)."""
    n = 3000
    corr = Correlation(rho, seed=11)
    share = _own_share(corr, 'train', n)
    assert abs(share - rho) <= 4 * math.sqrt(rho * (1 - rho) / (2 * n)), share
    # Off-tie images spread evenly over the other groups.
    others = Counter(corr.group_of('train', pid, 0, 'fist') for pid in range(n))
    others.pop(corr.family_group['fist'], None)
    if rho < 1:
        counts = list(others.values())
        assert len(counts) == 2 and abs(counts[0] - counts[1]) <= 4 * math.sqrt(sum(counts))


def test_test_combo_never_takes_the_own_group_and_rho_one_always_does():
    corr = Correlation(1.0, seed=2)
    assert _own_share(corr, 'train', 500) == 1.0
    assert _own_share(corr, 'test_combo', 500) == 0.0
    assert Counter(corr.group_of('test_combo', p, 0, 'ok') for p in range(300)).keys() == \
        set(range(3)) - {corr.family_group['ok']}
    assert _own_share(Correlation(0.0, seed=2), 'train', 500) == 0.0
    assert corr.group_of('test_shift', 0, 0, 'ok') is None


def test_groups_partition_the_families_and_templates_by_seed():
    groups = appearance_groups(3)
    allowed = families_for(False)
    for factor, names in allowed.items():
        seen = [n for g in groups for n in g[factor]]
        assert sorted(seen) == sorted(names)  # every family once: disjoint, complete
        assert all(g[factor] for g in groups)
    a, b = template_groups(0, 3), template_groups(1, 3)
    assert a == template_groups(0, 3) and a != b
    assert set(a) == set(POSE_TEMPLATES)
    assert sorted(Counter(a.values()).values()) == [7, 7, 7]  # 21 templates dealt in turn


def test_group_families_use_the_same_random_numbers():
    """Restricting the families changes the family names only, not the rest of the stream."""
    full = sample_appearance(np.random.default_rng(5), families=families_for(False))
    assert full == sample_appearance(np.random.default_rng(5))
    one = sample_appearance(np.random.default_rng(5), families=appearance_groups(3)[1])
    assert families_of(one) == {'background': one['background']['family'],
                                'lighting': 'side', 'texture': 'blotchy'}
    assert one['camera'] == full['camera'] and one['seed'] == full['seed']
    with pytest.raises(ValueError, match="'lighting' must be a non-empty subset"):
        sample_appearance(np.random.default_rng(5),
                          families=dict(appearance_groups(3)[0], lighting=('moon',)))


@pytest.fixture(scope='module')
def rho_one(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('corr') / 'rho1')
    write_dataset(root, num_poses=160, appearances=2, seed=4, size=16, workers=1,
                  progress=False, correlation=1.0)
    return root


def test_rho_one_train_never_has_a_test_combo_combination(rho_one):
    def combos(split):
        return {(a['pose']['template'], a['appearance_group'])
                for a in _load(rho_one, split)['annotations']}

    info = _load(rho_one, 'train')['info']['correlation']
    train, combo = combos('train'), combos('test_combo')
    assert combo and not (train & combo)
    assert all(info['template_groups'][t] == g for t, g in train)
    # test is in distribution (own groups only at rho = 1); test_combo never the own group
    assert all(info['template_groups'][t] == g for t, g in combos('test'))
    assert all(info['template_groups'][t] != g for t, g in combo)
    # seen groups and (for this seed) seen pose families, only combined differently
    assert {g for _, g in combo} == {g for _, g in train} == {0, 1, 2}
    assert {t for t, _ in combo} <= {t for t, _ in train}


def test_every_image_draws_from_its_group_and_info_records_the_tie(rho_one):
    groups = _load(rho_one, 'train')['info']['correlation']['groups']
    for split in ('train', 'val', 'test', 'test_combo'):
        data = _load(rho_one, split)
        info = data['info']['correlation']
        assert info['rho'] == 1.0 and info['num_groups'] == 3 and info['groups'] == groups
        assert split in ('test_combo',) or 'probability 1' in info['split_rule']
        for ann in data['annotations']:
            fam = families_of(ann['appearance'])
            assert all(fam[f] in groups[ann['appearance_group']][f] for f in fam), ann['id']
    for ann in _load(rho_one, 'test_shift')['annotations']:
        assert 'appearance_group' not in ann
        assert all(v in HELD_OUT_FAMILIES[f] for f, v in families_of(ann['appearance']).items())


def test_low_data_keeps_the_test_splits_of_the_full_set(rho_one, tmp_path):
    low = str(tmp_path / 'low')
    write_dataset(low, num_poses=160, appearances=2, seed=4, size=16, workers=1,
                  progress=False, correlation=1.0, train_poses=10)
    assert len(_load(low, 'train')['annotations']) == 20
    assert _load(low, 'train')['info']['train_poses'] == 10
    full_train = _load(rho_one, 'train')['annotations']
    assert _load(low, 'train')['annotations'] == full_train[:20]
    for split in ('val', 'test', 'test_shift', 'test_combo'):
        assert _load(low, split)['annotations'] == _load(rho_one, split)['annotations'], split


def test_plan_and_options_are_checked(tmp_path):
    assert [s for s, _, _ in plan_splits(100, .1, .1, .1)] == ['train', 'val', 'test',
                                                                'test_shift']
    plan = plan_splits(100, .1, .1, .1, combo_frac=.2, train_poses=30)
    assert plan == [('train', 0, 30), ('val', 50, 10), ('test', 60, 10),
                    ('test_shift', 70, 10), ('test_combo', 80, 20)]
    with pytest.raises(ValueError, match='--combo-frac needs --correlation'):
        write_dataset(str(tmp_path / 'x'), num_poses=10, combo_frac=0.2, progress=False)
    with pytest.raises(ValueError, match=r'--correlation must be in \[0, 1\]'):
        Correlation(1.5, seed=0)
    with pytest.raises(ValueError, match='--appearance-groups must be in 2..3'):
        Correlation(0.9, seed=0, num_groups=4)
    with pytest.raises(ValueError, match='--train-poses must be at least 1'):
        plan_splits(100, .1, .1, .1, train_poses=0)
    with pytest.raises(ValueError, match='use --appearance-groups 2'):
        Correlation(1.0, seed=0, num_groups=3, pose_family='side')
    with pytest.raises(ValueError, match='--pose-family must be one of'):
        Correlation(1.0, seed=0, pose_family='grasp')
    with pytest.raises(ValueError, match='add --correlation RHO'):
        write_dataset(str(tmp_path / 'x'), num_poses=10, pose_family='side', progress=False)
    assert not (tmp_path / 'x').exists()


def test_paired_test_combo_holds_the_test_poses_in_other_groups(tmp_path):
    """--combo-poses test: test_combo renders the test split's poses (same keypoints, image for
    image) in another group's appearance; every other split is that of the default set."""
    own, paired = str(tmp_path / 'own'), str(tmp_path / 'paired')
    write_dataset(own, num_poses=60, seed=3, correlation=1.0, progress=False, workers=1)
    write_dataset(paired, num_poses=60, seed=3, correlation=1.0, combo_poses='test',
                  progress=False, workers=1)
    test, combo = _load(paired, 'test'), _load(paired, 'test_combo')
    assert len(combo['annotations']) == len(test['annotations']) > 0
    for t, c in zip(test['annotations'], combo['annotations']):
        assert (t['pose_id'], t['keypoints'], t['pose']) == \
            (c['pose_id'], c['keypoints'], c['pose'])
        assert c['appearance_group'] != t['appearance_group']
    assert combo['info']['correlation']['combo_poses'] == 'test'
    for split in ('train', 'val', 'test', 'test_shift'):
        assert _load(own, split)['annotations'] == _load(paired, split)['annotations']
    with pytest.raises(ValueError, match='--combo-poses must be one of'):
        Correlation(1.0, seed=0, combo_poses='val')


def test_side_tie_puts_each_hand_side_in_its_own_group(tmp_path):
    """--pose-family side: at RHO = 1 every train/test left hand has one group and every right
    hand the other; test_combo swaps them; the poses are those of the template-tied set."""
    corr = Correlation(1.0, seed=5, pose_family='side')
    assert corr.num_groups == 2 and sorted(corr.family_group.values()) == [0, 1]
    root = str(tmp_path / 'side')
    write_dataset(root, num_poses=120, seed=5, correlation=1.0, pose_family='side',
                  progress=False, workers=1)
    info = _load(root, 'train')['info']['correlation']
    assert info['pose_family'] == 'side' and info['side_groups'] == corr.family_group
    for split, own in (('train', True), ('test', True), ('test_combo', False)):
        anns = _load(root, split)['annotations']
        assert anns and all((a['appearance_group'] == info['side_groups'][a['pose']['side']])
                            == own for a in anns)
    sides = {a['pose']['side'] for a in _load(root, 'train')['annotations']}
    assert sides == {'left', 'right'}
    template_set = str(tmp_path / 'tpl')
    write_dataset(template_set, num_poses=120, seed=5, correlation=1.0, progress=False,
                  workers=1)
    assert [a['pose'] for a in _load(template_set, 'train')['annotations']] == \
        [a['pose'] for a in _load(root, 'train')['annotations']]


def test_hard_group_sees_group_zero_through_the_poor_camera(tmp_path):
    """--hard-group: every image of appearance group 0 (train, test and test_combo alike) has
    the poor camera and another picture; every other image and every other draw is that of the set
    without the option."""
    plain, hard = str(tmp_path / 'plain'), str(tmp_path / 'hard')
    for root, flag in ((plain, False), (hard, True)):
        write_dataset(root, num_poses=90, seed=2, correlation=1.0, combo_poses='test',
                      hard_group=flag, progress=False, workers=1)
    assert _load(hard, 'train')['info']['correlation']['hard_group'] == {
        'group': 0, 'camera': HARD_CAMERA}
    assert _load(plain, 'train')['info']['correlation']['hard_group'] is None
    changed = []
    for split in ('train', 'test', 'test_combo', 'test_shift'):
        groups = set()
        ann_a, ann_b = _load(plain, split), _load(hard, split)
        files = {i['id']: i['file_name'] for i in ann_b['images']}
        assert files == {i['id']: i['file_name'] for i in ann_a['images']}
        for a, b in zip(ann_a['annotations'], ann_b['annotations']):
            group = b.get('appearance_group')
            groups.add(group)
            camera = dict(a['appearance']['camera'])
            if group == 0:
                camera.update(HARD_CAMERA)
            assert b['appearance']['camera'] == camera
            assert {k: v for k, v in a['appearance'].items() if k != 'camera'} == \
                {k: v for k, v in b['appearance'].items() if k != 'camera'}
            assert a['keypoints'] == b['keypoints']
            img_a = cv2.imread(osp.join(plain, files[a['image_id']]), 0)
            img_b = cv2.imread(osp.join(hard, files[b['image_id']]), 0)
            if group == 0:
                changed.append((img_a != img_b).mean() > 0.5)
            else:
                assert (img_a == img_b).all()
        assert groups == ({None} if split == 'test_shift' else {0, 1, 2})
    assert changed and all(changed)
    with pytest.raises(ValueError, match='add --correlation RHO'):
        write_dataset(str(tmp_path / 'x'), num_poses=10, hard_group=True, progress=False)


def test_cli_correlated_set_is_deterministic_across_workers(tmp_path):
    args = ['--num-poses', '90', '--correlation', '0.9', '--size', '16', '--quiet']
    run_tool('tools/make_synthhands.py', tmp_path / 'a', *args, '--workers', '1')
    run_tool('tools/make_synthhands.py', tmp_path / 'b', *args, '--workers', '2')
    for split in ('train', 'test_combo'):
        with open(tmp_path / 'a' / 'annotations' / f'{split}.json', 'rb') as f, \
                open(tmp_path / 'b' / 'annotations' / f'{split}.json', 'rb') as g:
            assert f.read() == g.read()
    proc = run_tool('tools/make_synthhands.py', tmp_path / 'c', '--num-poses', '9',
                    '--correlation', '2', check=False)
    assert proc.returncode == 2 and '--correlation must be in [0, 1]' in proc.stderr
