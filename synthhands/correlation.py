"""A pose-appearance correlation: pose families tied to appearance groups.

Real captures correlate pose and appearance (one rig's lighting for one
recording's gestures, gloves only in some grasps), so a pose model can learn
appearance as a shortcut to pose. :class:`Correlation` builds that into a
SynthHands set:

* an **appearance group** is a set of families of every appearance factor;
  the ``G`` groups split the families that are not held out round-robin
  (group ``g`` gets every ``G``-th family of each factor, so no two groups
  share a lighting, background or texture family);
* every **pose family** has its *own* group. A pose family is a pose
  template (:data:`.poses.POSE_TEMPLATES`; ``pose_family='template'``, the
  default): the templates, shuffled by the seed, are dealt to the groups in
  turn. Or it is the hand's side (``pose_family='side'``: left and right
  hands, two groups, which one gets which by the seed): a tie that a pose
  model can use, since under a uniform view a left hand seen from the palm
  and a right hand seen from the back have the same outline and differ in
  which finger is the thumb;
* in ``train``, ``val`` and ``test`` an image of a pose of family ``f`` takes
  its appearance from ``f``'s own group with probability ``rho`` and from one
  of the other groups (uniformly) otherwise; ``test_combo`` always takes
  another group: seen pose families with seen appearance groups, in the
  combinations that training has with probability ``1 - rho`` only (never
  at ``rho = 1``); ``test_shift`` keeps its held-out families;
* optionally (``hard_group=True``) group 0 is seen through a **poor camera**
  (:data:`HARD_CAMERA`: a Gaussian blur of 2.5 px at 64 px and sensor noise):
  its hands keep their outline but lose most of their fingers, so a pose
  model that cannot read the fingers can take them from the pose families
  that the group shows in training: the appearance could stand in for what
  the image does not show, and a test_combo image (another family's pose
  under the poor camera) would be misread by that prior. (Measured in
  docs/results.md, "A group that hides the fingers": 8-epoch models do not
  take that cue.)

``rho = 1 / G`` is no correlation at all (every group equally likely). The
group of an image is drawn from its own random stream, seeded by ``(seed,
pose_id, k)``, so the poses and the rest of the appearance stream are those
of the uncorrelated set of the same seed.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .appearance import families_for
from .poses import POSE_TEMPLATES

__all__ = ['Correlation', 'CORRELATED_SPLITS', 'POSE_FAMILIES', 'COMBO_POSES', 'HARD_CAMERA',
           'appearance_groups', 'template_groups', 'side_groups']

CORRELATED_SPLITS: Tuple[str, ...] = ('train', 'val', 'test')
"""Splits whose pose families keep their own appearance group with probability ``rho``."""

POSE_FAMILIES: Tuple[str, ...] = ('template', 'side')
"""What a pose family is: the pose's template, or the hand's side (left/right)."""
SIDES: Tuple[str, ...] = ('left', 'right')
COMBO_POSES: Tuple[str, ...] = ('own', 'test')
"""Where ``test_combo``'s poses come from: a range of its own, or the ``test`` split's."""
HARD_CAMERA: Dict[str, float] = {'blur': 2.5, 'noise': 0.08}
"""The camera of the hard group (``hard_group=True``): blur (px at 64 px) and noise, which
replace the drawn ones; exposure, gamma and shot noise stay as drawn."""


def appearance_groups(num_groups: int) -> List[Dict[str, Tuple[str, ...]]]:
    """Split the families that are not held out into ``num_groups`` disjoint groups.

    Raises:
        ValueError: Fewer than 2 groups, or more groups than some factor has
            families (a group would lack that factor).
    """
    allowed = families_for(False)
    most = min(len(v) for v in allowed.values())
    if not 2 <= num_groups <= most:
        raise ValueError(f'--appearance-groups must be in 2..{most} (every group needs its own '
                         f'family of each factor: {allowed}), got {num_groups}')
    return [{factor: names[g::num_groups] for factor, names in allowed.items()}
            for g in range(num_groups)]


def _deal(names: Sequence[str], seed: int, stream: int, num_groups: int) -> Dict[str, int]:
    """``names`` shuffled by ``(seed, stream)`` and dealt to the groups in turn."""
    order = np.random.default_rng([seed, stream]).permutation(len(names))
    return {names[i]: rank % num_groups for rank, i in enumerate(order.tolist())}


def template_groups(seed: int, num_groups: int) -> Dict[str, int]:
    """The own appearance group of every pose template (shuffled by ``seed``, dealt in turn)."""
    return _deal(sorted(POSE_TEMPLATES), seed, 2, num_groups)


def side_groups(seed: int, num_groups: int) -> Dict[str, int]:
    """The own appearance group of each hand side (which side gets group 0 by ``seed``).

    Raises:
        ValueError: ``num_groups`` is not 2 (two sides, each group needs one).
    """
    if num_groups != len(SIDES):
        raise ValueError(f'--pose-family side ties the {len(SIDES)} hand sides to {len(SIDES)} '
                         f'appearance groups; use --appearance-groups {len(SIDES)}, got '
                         f'{num_groups}')
    return _deal(SIDES, seed, 4, num_groups)


class Correlation:
    """The tie between pose families and appearance groups of one dataset.

    Args:
        rho: Probability that an image of a pose family in ``train``/``val``/
            ``test`` takes its own group's appearance, in ``[0, 1]``.
        seed: The dataset seed (fixes which template belongs to which group
            and every draw).
        num_groups: Number of appearance groups ``G`` (``None``: 3 for
            templates, 2 for sides).
        pose_family: What a pose family is: ``'template'`` or ``'side'``
            (:data:`POSE_FAMILIES`).
        combo_poses: The poses of ``test_combo``: ``'own'`` (a range of its
            own) or ``'test'`` (the ``test`` split's poses, each in another
            group's appearance: ``test_combo`` and ``test`` then differ in
            the combination alone, image for image).
        hard_group: Group 0 is seen through :data:`HARD_CAMERA` (see the
            module docstring).

    Raises:
        ValueError: ``rho`` outside ``[0, 1]``, an unknown ``pose_family`` or
            a bad ``num_groups``.
    """

    def __init__(self, rho: float, seed: int, num_groups: Optional[int] = None,
                 pose_family: str = 'template', combo_poses: str = 'own',
                 hard_group: bool = False) -> None:
        if isinstance(rho, bool) or not 0.0 <= float(rho) <= 1.0:
            raise ValueError(f'--correlation must be in [0, 1] (1: a pose family never appears '
                             f'with another appearance group in train), got {rho}')
        if pose_family not in POSE_FAMILIES:
            raise ValueError(f'--pose-family must be one of {POSE_FAMILIES}, got '
                             f'{pose_family!r}')
        if combo_poses not in COMBO_POSES:
            raise ValueError(f'--combo-poses must be one of {COMBO_POSES}, got {combo_poses!r}')
        if num_groups is None:
            num_groups = 3 if pose_family == 'template' else len(SIDES)
        self.combo_poses = combo_poses
        self.hard_group = bool(hard_group)
        self.rho = float(rho)
        self.seed = int(seed)
        self.pose_family = pose_family
        self.groups = appearance_groups(int(num_groups))
        self.family_group = (template_groups if pose_family == 'template' else side_groups)(
            self.seed, len(self.groups))

    @property
    def num_groups(self) -> int:
        """``G``."""
        return len(self.groups)

    def family_of(self, pose: Dict) -> str:
        """The pose family of a pose dict (:func:`.poses.sample_pose`)."""
        return pose[self.pose_family]

    def group_of(self, split: str, pose_id: int, k: int, family: str) -> Optional[int]:
        """The appearance group of image ``k`` of pose ``pose_id`` (``None``: not grouped).

        Args:
            split: The image's split; ``test_shift`` is not grouped.
            pose_id: The pose id.
            k: The appearance index within the pose.
            family: The pose's family (:meth:`family_of`: its template or side).
        """
        if split == 'test_shift':
            return None
        own = self.family_group[family]
        draws = np.random.default_rng([self.seed, 3, pose_id, k]).random(2).tolist()
        if split in CORRELATED_SPLITS and draws[0] < self.rho:
            return own
        if split not in CORRELATED_SPLITS and split != 'test_combo':
            raise ValueError(f'no correlation rule for split {split!r}')
        other = min(int(draws[1] * (self.num_groups - 1)), self.num_groups - 2)
        return other + (other >= own)

    def families(self, group: Optional[int]) -> Optional[Dict[str, Sequence[str]]]:
        """The families of ``group`` (``None`` for ``None``)."""
        return None if group is None else self.groups[group]

    def camera(self, appearance: Dict, group: Optional[int]) -> Dict:
        """``appearance`` with the hard group's camera if ``group`` is it (in place)."""
        if self.hard_group and group == 0:
            appearance['camera'].update(HARD_CAMERA)
        return appearance

    def rule(self, split: str) -> str:
        """How ``split`` draws its groups, in words (for the annotation ``info``)."""
        if split in CORRELATED_SPLITS:
            return (f'own group with probability {self.rho:g}, another group (uniformly) '
                    f'otherwise')
        if split == 'test_combo':
            poses = ' (the test split\'s poses)' if self.combo_poses == 'test' else ''
            return f'always another group than the pose family\'s own (uniformly){poses}'
        return 'held-out families only (not grouped)'

    def info(self, split: str) -> Dict:
        """The json-serialisable record stored in each annotation file's ``info``."""
        return {
            'rho': self.rho,
            'num_groups': self.num_groups,
            'groups': [{f: list(v) for f, v in g.items()} for g in self.groups],
            'pose_family': self.pose_family,
            'combo_poses': self.combo_poses,
            f'{self.pose_family}_groups': dict(sorted(self.family_group.items())),
            'independent_rho': round(1.0 / self.num_groups, 6),
            'hard_group': ({'group': 0, 'camera': dict(HARD_CAMERA)} if self.hard_group
                           else None),
            'split_rule': self.rule(split),
        }
