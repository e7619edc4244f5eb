"""shared_pseudo_collate: pseudo_collate's batch, with each tensor field in one block."""
import io
import pickle

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.structures import InstanceData, PixelData

from mmpose.structures import PoseDataSample


def _sample(i, k=21, size=16, crop=(1, 32, 32)):
    s = PoseDataSample()
    s.gt_fields = PixelData(heatmaps=torch.full((k, size, size), float(i)))
    s.gt_instance_labels = InstanceData(keypoint_weights=torch.full((1, k), i / 10))
    s.gt_instances = InstanceData(keypoints=np.full((1, k, 2), i, np.float32))
    s.set_metainfo(dict(id=i))
    return dict(inputs=torch.full(crop, i, dtype=torch.uint8), data_samples=s)


def _storages(tensors):
    return {t.untyped_storage().data_ptr() for t in tensors}


def test_same_batch_as_pseudo_collate_with_one_block_per_field():
    from mmselfdis.datasets import shared_pseudo_collate
    items = [_sample(i) for i in range(4)]
    plain = pseudo_collate(items)
    shared = shared_pseudo_collate([_sample(i) for i in range(4)])
    for a, b in zip(plain['inputs'], shared['inputs']):
        assert a.dtype == b.dtype and torch.equal(a, b)
    for a, b in zip(plain['data_samples'], shared['data_samples']):
        assert torch.equal(a.gt_fields.heatmaps, b.gt_fields.heatmaps)
        assert torch.equal(a.gt_instance_labels.keypoint_weights,
                           b.gt_instance_labels.keypoint_weights)
        np.testing.assert_array_equal(a.gt_instances.keypoints, b.gt_instances.keypoints)
        assert a.metainfo == b.metainfo
    samples = shared['data_samples']
    assert len(_storages(shared['inputs'])) == 1
    assert len(_storages([s.gt_fields.heatmaps for s in samples])) == 1
    assert len(_storages([s.gt_instance_labels.keypoint_weights for s in samples])) == 1
    assert len(_storages(plain['inputs'])) == 4
    # a sample's view is its own: writing one leaves the others as they were
    samples[0].gt_fields.heatmaps.add_(100)
    assert samples[1].gt_fields.heatmaps.max() == 1


def test_fields_of_differing_shapes_stay_per_sample():
    from mmselfdis.datasets import shared_pseudo_collate
    items = [_sample(0, crop=(1, 32, 32)), _sample(1, crop=(1, 40, 32))]
    batch = shared_pseudo_collate(items)
    assert [tuple(t.shape) for t in batch['inputs']] == [(1, 32, 32), (1, 40, 32)]
    assert len(_storages(batch['inputs'])) == 2
    assert len(_storages([s.gt_fields.heatmaps for s in batch['data_samples']])) == 1


def test_sent_between_processes_as_few_blocks():
    """What a loader worker sends: one shared-memory block per field, not per sample."""
    import torch.multiprocessing  # noqa: F401  (registers the tensor reductions)
    from multiprocessing.reduction import ForkingPickler
    from mmselfdis.datasets import shared_pseudo_collate
    sent = {}
    for name, fn in (('plain', pseudo_collate), ('shared', shared_pseudo_collate)):
        buf = io.BytesIO()
        ForkingPickler(buf, pickle.HIGHEST_PROTOCOL).dump(fn([_sample(i) for i in range(8)]))
        batch = pickle.loads(buf.getvalue())
        sent[name] = batch
        blocks = _storages(batch['inputs'])
        blocks |= _storages([s.gt_fields.heatmaps for s in batch['data_samples']])
        assert len(blocks) == (2 * 8 if name == 'plain' else 2)  # inputs + heatmaps
    for a, b in zip(sent['plain']['data_samples'], sent['shared']['data_samples']):
        assert torch.equal(a.gt_fields.heatmaps, b.gt_fields.heatmaps)


def test_a_runner_builds_it_from_the_config():
    from mmengine.runner import Runner
    from torch.utils.data import Dataset

    import mmselfdis  # noqa: F401  (registers it)

    class Items(Dataset):

        def __len__(self):
            return 4

        def __getitem__(self, i):
            return _sample(i)

    loader = Runner.build_dataloader(
        dict(dataset=Items(), batch_size=4, num_workers=0,
             sampler=dict(type='DefaultSampler', shuffle=False),
             collate_fn=dict(type='shared_pseudo_collate')))
    batch = next(iter(loader))
    assert len(_storages(batch['inputs'])) == 1
    assert [s.metainfo['id'] for s in batch['data_samples']] == [0, 1, 2, 3]
