"""PosePairSampler: pair members adjacent, seedable, distributed-aware."""
from collections import Counter

import pytest

from mmselfdis.datasets.samplers import PosePairSampler


class _Dataset:
    """Poses 0..5 with 2, 3, 4, 1, 2, 2 appearances (pose 3 has no partner)."""

    def __init__(self):
        counts = [2, 3, 4, 1, 2, 2]
        self.pose_ids = [p for p, c in enumerate(counts) for _ in range(c)]

    def __len__(self):
        return len(self.pose_ids)

    def get_data_info(self, idx):
        return dict(pose_id=self.pose_ids[idx], id=idx)


def _pairs(indices):
    return [tuple(indices[i:i + 2]) for i in range(0, len(indices), 2)]


def test_pairs_are_adjacent_and_disjoint():
    ds = _Dataset()
    sampler = PosePairSampler(ds, seed=3)
    indices = list(sampler)
    assert len(indices) == len(sampler) == 2 * (1 + 1 + 2 + 0 + 1 + 1)
    for a, b in _pairs(indices):
        assert a != b and ds.pose_ids[a] == ds.pose_ids[b]
    assert max(Counter(indices).values()) == 1  # each sample at most once per epoch
    assert not {i for i, p in enumerate(ds.pose_ids) if p == 3} & set(indices)


def test_order_depends_on_seed_and_epoch_only():
    ds = _Dataset()
    a, b = PosePairSampler(ds, seed=3), PosePairSampler(ds, seed=3)
    assert list(a) == list(b)
    first = list(a)
    a.set_epoch(1)
    assert list(a) != first
    assert list(PosePairSampler(ds, seed=4)) != first
    unshuffled = PosePairSampler(ds, shuffle=False, seed=3)
    assert list(unshuffled) == list(PosePairSampler(ds, shuffle=False, seed=9))


def test_distributed_ranks_split_pairs(monkeypatch):
    ds = _Dataset()
    import mmselfdis.datasets.samplers as mod
    per_rank = []
    for rank in range(4):
        monkeypatch.setattr(mod, 'get_dist_info', lambda rank=rank: (rank, 4))
        sampler = PosePairSampler(ds, seed=1)
        indices = list(sampler)
        assert len(indices) == len(sampler) == 4  # ceil(6 pairs / 4 ranks) = 2 pairs
        for a, b in _pairs(indices):
            assert ds.pose_ids[a] == ds.pose_ids[b]
        per_rank.append(indices)
    covered = {i for indices in per_rank for i in indices}
    assert len(covered) == 12  # every pair is drawn by some rank (2 repeated for round-up)


def test_missing_pose_id_is_explained():
    class NoIds(_Dataset):
        def get_data_info(self, idx):
            return dict(id=idx)

    with pytest.raises(KeyError, match='pose_id'):
        PosePairSampler(NoIds(), seed=0)


def test_is_registered():
    from mmpose.registry import DATA_SAMPLERS
    assert DATA_SAMPLERS.get('PosePairSampler') is PosePairSampler
