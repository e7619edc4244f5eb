"""MMPose dataset of SynthHands (``tools/make_synthhands.py``): paired hand crops."""
from collections import defaultdict
from typing import Dict, List, Optional

from mmpose.datasets.datasets.base import BaseCocoStyleDataset
from mmpose.registry import DATASETS

__all__ = ['SynthHandDataset']


@DATASETS.register_module()
class SynthHandDataset(BaseCocoStyleDataset):
    """SynthHands: procedurally rendered hand crops, ``K`` appearances per pose.

    The annotation files are COCO style with OneHand10K's 21 keypoints, so the
    OneHand10K metainfo, metrics (PCK, AUC, EPE) and flip settings apply
    unchanged. Every keypoint position is exact: ``v=2`` marks a visible
    keypoint, ``v=1`` an occluded one (MMPose treats both as labelled).

    Besides the usual keys, each data info carries:

    - ``pose_id``: shared by every appearance of one pose (pairs);
    - ``appearance_id``: unique id of the sample's appearance;
    - ``appearance_index``: ``k`` in ``0 .. K-1`` within its pose;
    - ``appearance_group``: the appearance group of a correlated set
      (``tools/make_synthhands.py --correlation``), ``None`` otherwise;
    - ``raw_ann_info``: the full annotation, including the ``pose`` and
      ``appearance`` parameters that ``synthhands.render`` takes to render
      e.g. "pose of sample x with the appearance of sample y".

    Example::

        dataset = dict(
            type='SynthHandDataset',
            data_root='data/synthhands/',
            ann_file='annotations/train.json',
            data_prefix=dict(img=''),
            pipeline=train_pipeline)

    Args are those of :class:`BaseCocoStyleDataset`.
    """

    METAINFO: dict = dict(from_file='configs/_base_/datasets/onehand10k.py')

    def parse_data_info(self, raw_data_info: dict) -> Optional[dict]:
        """Parse one annotation (see :class:`BaseCocoStyleDataset`) and add its pair ids.

        Raises:
            KeyError: The annotation has no ``pose_id``/``appearance_id``
                (not a SynthHands file).
        """
        data_info = super().parse_data_info(raw_data_info)
        if data_info is None:
            return None
        ann = raw_data_info['raw_ann_info']
        missing = [k for k in ('pose_id', 'appearance_id') if k not in ann]
        if missing:
            raise KeyError(
                f'SynthHandDataset: annotation {ann.get("id")} in {self.ann_file} has no '
                f'{missing}; use an annotation file written by tools/make_synthhands.py (or '
                f'OneHand10KDataset for other hand data)')
        data_info['pose_id'] = int(ann['pose_id'])
        data_info['appearance_id'] = int(ann['appearance_id'])
        data_info['appearance_index'] = int(ann.get('appearance_index', 0))
        group = ann.get('appearance_group')
        data_info['appearance_group'] = None if group is None else int(group)
        return data_info

    def full_init(self) -> None:
        """Load annotations; the pose groups are rebuilt on demand."""
        super().full_init()
        self._pose_groups = None

    def pose_groups(self) -> Dict[int, List[int]]:
        """Map every ``pose_id`` to the dataset indices of its samples (in index order)."""
        if getattr(self, '_pose_groups', None) is None:
            groups: Dict[int, List[int]] = defaultdict(list)
            for idx in range(len(self)):
                groups[self.get_data_info(idx)['pose_id']].append(idx)
            self._pose_groups = dict(groups)
        return self._pose_groups

    def indices_of_pose(self, pose_id: int) -> List[int]:
        """Dataset indices of all samples of ``pose_id``.

        Raises:
            KeyError: No sample has this pose id.
        """
        groups = self.pose_groups()
        if pose_id not in groups:
            raise KeyError(f'SynthHandDataset: no sample has pose_id {pose_id} in {self.ann_file}')
        return list(groups[pose_id])

    def paired_indices(self, idx: int) -> List[int]:
        """Indices of the other samples with the same pose as sample ``idx``."""
        pose_id = self.get_data_info(idx)['pose_id']
        return [i for i in self.indices_of_pose(pose_id) if i != idx]
