"""Sampler that puts the members of a pose pair next to each other in a batch."""
import math
from collections import defaultdict
from typing import Dict, Hashable, Iterator, List, Optional, Sized

import torch
from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import Sampler

from mmpose.registry import DATA_SAMPLERS

__all__ = ['PosePairSampler']


@DATA_SAMPLERS.register_module()
class PosePairSampler(Sampler):
    """Yield indices in pairs of the same ``pose_id`` (different appearances).

    For the paired-data baseline [9] (``SelfDisHead(mode='paired')``): every
    pose with ``K >= 2`` samples contributes ``K // 2`` disjoint pairs per
    epoch, drawn afresh each epoch; the order of the pairs is shuffled. The
    two members of a pair are yielded one after the other, so with an even
    ``batch_size`` they always land in the same batch at positions
    ``(2i, 2i + 1)``. Samples of poses with a single sample are never yielded.

    Seeding and distribution work like MMEngine's ``DefaultSampler``: the
    order depends on ``seed + epoch`` only (call :meth:`set_epoch`), and the
    pairs (never single indices) are split across ranks.

    Args:
        dataset: The dataset; ``dataset.get_data_info(i)[pose_id_key]`` must
            give each sample's pose id.
        shuffle: Shuffle pairs and pair members.
        seed: Random seed, identical on all ranks; ``None`` draws one and
            syncs it.
        round_up: Repeat pairs so that every rank gets the same number.
        pose_id_key: The key of the pose id in the data info.
    """

    def __init__(self,
                 dataset: Sized,
                 shuffle: bool = True,
                 seed: Optional[int] = None,
                 round_up: bool = True,
                 pose_id_key: str = 'pose_id') -> None:
        self.rank, self.world_size = get_dist_info()
        self.dataset = dataset
        self.shuffle = shuffle
        self.seed = sync_random_seed() if seed is None else seed
        self.epoch = 0
        self.round_up = round_up
        self.pose_id_key = pose_id_key

        groups: Dict[Hashable, List[int]] = defaultdict(list)
        if pose_id_key == 'pose_id' and callable(getattr(dataset, 'pose_groups', None)):
            groups.update(dataset.pose_groups())  # SynthHandDataset keeps them
        for idx in range(0 if groups else len(dataset)):
            info = dataset.get_data_info(idx)
            if pose_id_key not in info:
                raise KeyError(
                    f'PosePairSampler: sample {idx} of {type(dataset).__name__} has no '
                    f'{pose_id_key!r} in its data info; use a dataset whose annotations carry '
                    f'pose ids (SynthHandDataset) or set pose_id_key')
            groups[info[pose_id_key]].append(idx)
        self.groups = [members for members in groups.values() if len(members) >= 2]
        self.num_pairs = sum(len(members) // 2 for members in self.groups)
        if self.num_pairs == 0:
            raise ValueError('PosePairSampler: no pose_id has two or more samples, so there are '
                             'no pairs to draw')
        if round_up:
            self.pairs_per_rank = math.ceil(self.num_pairs / self.world_size)
        else:
            self.pairs_per_rank = math.ceil((self.num_pairs - self.rank) / self.world_size)

    def _pairs(self) -> List[List[int]]:
        g = torch.Generator()
        g.manual_seed(self.seed + self.epoch)
        pairs = []
        for members in self.groups:
            if self.shuffle:
                order = torch.randperm(len(members), generator=g).tolist()
                members = [members[i] for i in order]
            pairs += [members[i:i + 2] for i in range(0, len(members) - 1, 2)]
        if self.shuffle:
            order = torch.randperm(len(pairs), generator=g).tolist()
            pairs = [pairs[i] for i in order]
        return pairs

    def __iter__(self) -> Iterator[int]:
        """Iterate the indices of this rank, pair members adjacent."""
        pairs = self._pairs()
        if self.round_up:
            total = self.pairs_per_rank * self.world_size
            pairs = (pairs * (total // len(pairs) + 1))[:total]
        pairs = pairs[self.rank::self.world_size]
        return iter([idx for pair in pairs for idx in pair])

    def __len__(self) -> int:
        """The number of indices on this rank (two per pair)."""
        return 2 * self.pairs_per_rank

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch; the order depends on ``seed + epoch``.

        Args:
            epoch: Epoch number.
        """
        self.epoch = epoch
