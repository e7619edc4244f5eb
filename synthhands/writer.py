"""Write a SynthHands dataset: PNG crops plus COCO-style annotations per split.

Layout of ``OUT_DIR``::

    images/<split>/<pose_id // 1000 :04d>/<pose_id :07d>_<k>.png
    annotations/{train,val,test,test_shift[,test_combo]}.json

Poses are numbered ``0 .. N-1`` and split into contiguous ranges (train,
val, test, test_shift and, for a correlated set, test_combo), so the ``K``
appearances of a pose never straddle splits. With a pose-appearance
correlation (:mod:`.correlation`) every image's appearance is drawn from one
appearance group. Every pose and appearance is drawn from its own random stream,
seeded by ``(seed, pose_id[, k])``, and images are bit-identical whatever
batch renders them, so the output is byte-identical for one seed whatever
the number of workers. Everything is written into a temporary sibling
directory that is renamed to ``OUT_DIR`` at the end.
"""
import json
import multiprocessing as mp
import os
import os.path as osp
import re
import shutil
import sys
import time
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from .appearance import FAMILIES, HELD_OUT_FAMILIES, families_for, sample_appearance
from .correlation import Correlation
from .hand_model import KEYPOINT_NAMES, SKELETON
from .poses import sample_pose
from .render import DEFAULT_SUPERSAMPLE, render_geometries, shade_batch

__all__ = ['SPLITS', 'SYNTHHANDS_VERSION', 'DatasetExistsError', 'plan_splits', 'pose_rng',
           'appearance_rng', 'categories', 'image_path', 'png_params', 'write_dataset',
           'recover_interrupted_writes', 'writer_sibling', 'move_into_place', 'remove_replaced']

SPLITS: Tuple[str, ...] = ('train', 'val', 'test', 'test_shift', 'test_combo')
"""Split names, in pose-id order; ``test_shift`` uses only
:data:`.appearance.HELD_OUT_FAMILIES`; ``test_combo`` exists only in a
correlated set (:mod:`.correlation`)."""

SYNTHHANDS_VERSION = '1.0'
"""Version of the generator, stored in every annotation file's ``info``."""

CHUNK_POSES = 64
"""Poses per work item (fixed, so the output does not depend on the worker count)."""


class DatasetExistsError(FileExistsError):
    """The output directory exists and overwriting was not asked for."""


def plan_splits(num_poses: int, val_frac: float, test_frac: float, shift_frac: float,
                combo_frac: float = 0.0,
                train_poses: Optional[int] = None) -> List[Tuple[str, int, int]]:
    """Contiguous pose-id ranges of the splits.

    A split with a positive fraction gets at least one pose; train gets the
    rest. ``test_combo`` is planned only when ``combo_frac > 0``.

    Args:
        num_poses: Poses over all splits (before ``train_poses`` shortens train).
        val_frac: Fraction of poses for ``val``.
        test_frac: Fraction for ``test``.
        shift_frac: Fraction for ``test_shift``.
        combo_frac: Fraction for ``test_combo``.
        train_poses: Keep only the first ``train_poses`` poses of train (a
            low-data set); the other splits keep their pose ids, so they are
            identical to those of the full set.

    Returns:
        list: ``(split, first_pose_id, num_poses)`` in :data:`SPLITS` order.

    Raises:
        ValueError: A fraction is outside ``[0, 1)``, nothing is left for
            train or ``train_poses`` is below 1.
    """
    fracs = {'val': val_frac, 'test': test_frac, 'test_shift': shift_frac,
             'test_combo': combo_frac}
    for name, frac in fracs.items():
        if not 0.0 <= frac < 1.0:
            option = {'test_shift': '--shift-frac', 'test_combo': '--combo-frac'}.get(
                name, f'--{name}-frac')
            raise ValueError(f'{option} must be in [0, 1), got {frac}')
    counts = {name: (max(1, int(round(num_poses * frac))) if frac > 0 else 0)
              for name, frac in fracs.items()}
    counts['train'] = num_poses - sum(counts.values())
    if counts['train'] < 1:
        others = ', '.join(f'{k} {v}' for k, v in counts.items() if k != 'train')
        raise ValueError(
            f'the split fractions leave no pose for train ({num_poses} poses: {others}); render '
            f'more poses (--num-poses) or lower --val-frac/--test-frac/--shift-frac/--combo-frac')
    if train_poses is not None and train_poses < 1:
        raise ValueError(f'--train-poses must be at least 1, got {train_poses}')
    plan, first = [], 0
    for name in SPLITS:
        if name == 'test_combo' and combo_frac <= 0:
            continue
        count = counts[name]
        if name == 'train' and train_poses is not None:
            plan.append((name, first, min(count, train_poses)))
        else:
            plan.append((name, first, count))
        first += count
    return plan


def pose_rng(seed: int, pose_id: int) -> np.random.Generator:
    """The random stream of pose ``pose_id``."""
    return np.random.default_rng([seed, 0, pose_id])


def appearance_rng(seed: int, pose_id: int, k: int) -> np.random.Generator:
    """The random stream of the ``k``-th appearance of pose ``pose_id``."""
    return np.random.default_rng([seed, 1, pose_id, k])


def categories() -> List[Dict]:
    """COCO ``categories``: one hand category with OneHand10K keypoint names and skeleton."""
    return [{
        'supercategory': 'hand',
        'id': 1,
        'name': 'hand',
        'keypoints': list(KEYPOINT_NAMES),
        'skeleton': [[a + 1, b + 1] for a, b in SKELETON],
    }]


def image_path(split: str, pose_id: int, k: int) -> str:
    """File name of an image, relative to the dataset root."""
    return f'images/{split}/{pose_id // 1000:04d}/{pose_id:07d}_{k}.png'


def png_params(level: int) -> List[int]:
    """cv2.imencode flags: zlib ``level``; unfiltered rows when storing (level 0, fastest)."""
    row_filter = cv2.IMWRITE_PNG_FILTER_NONE if level == 0 else cv2.IMWRITE_PNG_FILTER_SUB
    return [cv2.IMWRITE_PNG_COMPRESSION, level, cv2.IMWRITE_PNG_FILTER, row_filter]


def _dumps(obj) -> str:
    return json.dumps(obj, separators=(',', ':'))


def _render_chunk(task: Tuple) -> Tuple[int, List[str], List[str]]:
    """Render and write one chunk of poses; return its json fragments.

    Args:
        task: ``(root, split, held_out, first, count, appearances, seed,
            size, rgb, png_compression, correlation)``; ``correlation`` is a
            :class:`.correlation.Correlation` or ``None``.

    Returns:
        tuple: Number of images, the ``images`` entries and the
        ``annotations`` entries (json text, in order).
    """
    (root, split, held_out, first, count, num_app, seed, size, rgb, png_compression,
     correlation) = task
    pose_ids = range(first, first + count)
    poses = [sample_pose(pose_rng(seed, pid)) for pid in pose_ids]
    geoms = render_geometries(poses, size, DEFAULT_SUPERSAMPLE)
    if correlation is None:
        groups = [None] * (count * num_app)
    else:
        groups = [correlation.group_of(split, pid, k, correlation.family_of(pose))
                  for pid, pose in zip(pose_ids, poses) for k in range(num_app)]
    apps = [sample_appearance(appearance_rng(seed, pid, k), held_out,
                              None if correlation is None else correlation.families(
                                  groups[i * num_app + k]))
            for i, pid in enumerate(pose_ids) for k in range(num_app)]
    if correlation is not None:
        apps = [correlation.camera(app, group) for app, group in zip(apps, groups)]
    images = shade_batch([g for g in geoms for _ in range(num_app)], apps, rgb)
    params = png_params(png_compression)
    image_entries, ann_entries = [], []
    for p, (pid, pose, geom) in enumerate(zip(pose_ids, poses, geoms)):
        # The pose part of the annotation is shared by its K appearances: serialise it once.
        kps = np.round(geom.keypoints, 3).tolist()
        flags = [2 if v else 1 for v in geom.visibility.tolist()]
        bbox = [round(float(v), 3) for v in geom.bbox]
        shared = (f'"category_id":1,"bbox":{_dumps(bbox)},'
                  f'"keypoints":{_dumps([v for (x, y), f in zip(kps, flags) for v in (x, y, f)])},'
                  f'"num_keypoints":{len(flags)},"area":{_dumps(round(bbox[2] * bbox[3], 3))},'
                  f'"iscrowd":0,"pose_id":{pid},')
        pose_json = _dumps(pose)
        for k in range(num_app):
            index = p * num_app + k
            sample_id = pid * num_app + k + 1
            name = image_path(split, pid, k)
            ok, data = cv2.imencode('.png', images[index], params)
            if not ok:
                raise RuntimeError(f'OpenCV could not encode {name} as PNG')
            with open(osp.join(root, name), 'wb') as f:
                f.write(data)
            image_entries.append(f'{{"id":{sample_id},"file_name":"{name}","height":{size},'
                                 f'"width":{size}}}')
            group = '' if groups[index] is None else f'"appearance_group":{groups[index]},'
            ann_entries.append(f'{{"id":{sample_id},"image_id":{sample_id},{shared}'
                               f'"appearance_id":{sample_id - 1},"appearance_index":{k},{group}'
                               f'"pose":{pose_json},"appearance":{_dumps(apps[index])}}}')
    return len(images), image_entries, ann_entries


def _init_worker() -> None:
    cv2.setNumThreads(1)


def _pid_running(pid: int) -> bool:
    """Whether process ``pid`` exists (when in doubt: yes)."""
    if pid <= 0:
        return True  # os.kill(0, ...) would address our own process group
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):  # e.g. EPERM: it exists, owned by someone else
        return True
    return True


def writer_sibling(out_dir: str, kind: str) -> str:
    """The hidden sibling ``.NAME.<kind>-PID`` of ``out_dir`` that this process uses.

    ``kind`` is ``'tmp'`` (the directory a writer fills) or ``'old'`` (where
    :func:`move_into_place` moves a replaced ``out_dir``); these are the
    names :func:`recover_interrupted_writes` looks for.
    """
    out_dir = osp.abspath(out_dir.rstrip('/') or '/')
    return osp.join(osp.dirname(out_dir), f'.{osp.basename(out_dir)}.{kind}-{os.getpid()}')


def _dead_siblings(out_dir: str, kind: str) -> List[str]:
    """Paths of the ``.NAME.<kind>-PID`` directories next to ``out_dir`` whose PID has exited."""
    parent, name = osp.split(out_dir)
    pattern = re.compile(re.escape(f'.{name}.{kind}-') + r'([0-9]+)')
    try:
        entries = sorted(os.listdir(parent))
    except OSError:
        return []
    found = []
    for entry in entries:
        match = pattern.fullmatch(entry)
        if match is None:
            continue
        pid = int(match.group(1))
        path = osp.join(parent, entry)
        if pid == os.getpid() or _pid_running(pid):
            continue
        if osp.islink(path) or not osp.isdir(path):
            continue
        found.append(path)
    return found


def recover_interrupted_writes(out_dir: str) -> List[str]:
    """Clean up after writers of ``out_dir`` that were killed; one line per action.

    A writer (this module, ``tools/synthesize.py``) fills ``.NAME.tmp-PID``
    next to ``NAME`` and renames it at the end. With ``--force`` it first
    moves the existing ``NAME`` aside to ``.NAME.old-PID`` and deletes that
    after the rename. A run killed with SIGKILL can leave:

    - ``.NAME.tmp-PID``: partial output, removed;
    - ``.NAME.old-PID`` while ``NAME`` is missing (killed between the two
      renames): the user's previous dataset, moved back to ``NAME``;
    - ``.NAME.old-PID`` next to ``NAME`` (killed after both renames): the
      dataset that run replaced as asked, removed.

    Only directories of exactly these names (the same ``NAME``, a decimal PID)
    whose process no longer exists are touched; a running writer's
    directories, other names and links are left alone. PIDs are looked up on
    this machine, so writers on other machines must not write next to the
    same ``out_dir`` (on a shared file system).

    Call it before checking whether ``out_dir`` exists: a restored dataset
    then counts as existing (``--force`` is needed to replace it again).

    Returns:
        list[str]: what was done, one sentence each.
    """
    out_dir = osp.abspath(out_dir.rstrip('/') or '/')
    done = []
    for old in _dead_siblings(out_dir, 'old'):
        if not osp.lexists(out_dir):
            os.rename(old, out_dir)
            done.append(f'restored {out_dir} from {old} (a --force run was killed while '
                        f'replacing it)')
        else:
            shutil.rmtree(old)
            done.append(f'removed {old}, the dataset a killed --force run had replaced')
    for tmp in _dead_siblings(out_dir, 'tmp'):
        shutil.rmtree(tmp)
        done.append(f'removed {tmp}, the partial output of a killed run')
    return done


def _prepare_output(out_dir: str, force: bool) -> str:
    """Check ``out_dir`` and create the temporary sibling directory to write into."""
    out_dir = osp.abspath(out_dir)
    if osp.lexists(out_dir) and not force:
        raise DatasetExistsError(
            f'{out_dir} already exists; pass --force to overwrite it (or choose another OUT_DIR)')
    parent = osp.dirname(out_dir)
    tmp = writer_sibling(out_dir, 'tmp')
    try:
        os.makedirs(parent, exist_ok=True)
        if osp.lexists(tmp):
            shutil.rmtree(tmp)
        os.makedirs(tmp)
    except OSError as exc:
        raise PermissionError(
            f'cannot write the dataset next to {out_dir}: {exc.strerror or exc}; choose a '
            f'writable OUT_DIR or fix the permissions of {parent}') from exc
    return tmp


def move_into_place(tmp: str, out_dir: str) -> Optional[str]:
    """Move the finished ``tmp`` to ``out_dir``; return the moved-aside old one (to delete).

    An existing ``out_dir`` is first renamed to ``writer_sibling(out_dir,
    'old')``, so at no moment is the user's data only half there; delete the
    returned path with :func:`remove_replaced`.
    """
    out_dir = osp.abspath(out_dir)
    old = None
    if osp.lexists(out_dir):
        old = writer_sibling(out_dir, 'old')
        os.rename(out_dir, old)
    os.rename(tmp, out_dir)
    return old


def remove_replaced(path: str) -> None:
    """Delete what :func:`move_into_place` moved aside (a directory, file or link)."""
    if osp.isdir(path) and not osp.islink(path):
        shutil.rmtree(path)
    else:
        os.remove(path)


def _tasks(root: str, plan: Sequence[Tuple[str, int, int]], num_app: int, seed: int, size: int,
           rgb: bool, png_compression: int,
           correlation: Optional[Correlation]) -> Iterator[Tuple]:
    for split, first, count in plan:
        held_out = split == 'test_shift'
        for start in range(first, first + count, CHUNK_POSES):
            n = min(CHUNK_POSES, first + count - start)
            yield (root, split, held_out, start, n, num_app, seed, size, rgb, png_compression,
                   correlation)


def write_dataset(out_dir: str,
                  num_poses: int,
                  appearances: int = 2,
                  seed: int = 0,
                  size: int = 64,
                  rgb: bool = False,
                  workers: int = 1,
                  force: bool = False,
                  val_frac: float = 0.1,
                  test_frac: float = 0.1,
                  shift_frac: float = 0.1,
                  png_compression: int = 0,
                  progress: bool = True,
                  correlation: Optional[float] = None,
                  appearance_groups: Optional[int] = None,
                  pose_family: str = 'template',
                  combo_poses: str = 'own',
                  hard_group: bool = False,
                  combo_frac: Optional[float] = None,
                  train_poses: Optional[int] = None) -> Dict:
    """Render a paired dataset and write it to ``out_dir`` (atomically).

    Args:
        out_dir: Dataset root to create.
        num_poses: Number of poses over all splits.
        appearances: Appearances rendered per pose (``K``; 2 or more gives pairs).
        seed: Random seed; the same seed gives byte-identical output.
        size: Image side in pixels.
        rgb: Colour images instead of monochrome.
        workers: Worker processes.
        force: Replace an existing ``out_dir``.
        val_frac: Fraction of poses for ``val``.
        test_frac: Fraction of poses for ``test``.
        shift_frac: Fraction of poses for ``test_shift``.
        png_compression: zlib level of the PNG files (0-9; 0 stores the
            pixels uncompressed, fastest; 1 saves about a quarter of the space).
        progress: Show a progress bar.
        correlation: ``rho``: tie pose families to appearance groups
            (:mod:`.correlation`) and add the ``test_combo`` split; ``None``
            (default) draws pose and appearance independently.
        appearance_groups: Number of appearance groups of a correlated set
            (``None``: 3 with ``pose_family='template'``, 2 with ``'side'``).
        pose_family: What a correlated set ties to the groups: the pose
            ``'template'`` (default) or the hand's ``'side'``
            (:mod:`.correlation`).
        combo_poses: ``'own'`` (default): ``test_combo`` renders poses of its
            own; ``'test'``: it renders the ``test`` split's poses (same pose
            ids and appearance numbers, another group), so that test_combo −
            test measures the combination alone. Its pose range stays
            reserved, so every other split is the same as with ``'own'``.
        hard_group: Appearance group 0 is seen through a poor camera
            (:data:`.correlation.HARD_CAMERA`; its images' other draws stay
            those of the set without it).
        combo_frac: Fraction of poses for ``test_combo`` (default 0.1 with
            ``correlation``; only allowed with it).
        train_poses: Keep only this many train poses (low data); the other
            splits stay those of the full set.

    Returns:
        dict: ``images``, ``poses``, ``seconds`` (from the start to the final
        rename; removing a replaced dataset is not counted) and ``splits``
        (split -> number of poses).

    Raises:
        ValueError: Nothing to render or an invalid option (e.g.
            ``combo_frac`` without ``correlation``); the message names the
            option.
        DatasetExistsError: ``out_dir`` exists and ``force`` is False.
        PermissionError: ``out_dir`` cannot be written.
    """
    start_time = time.perf_counter()
    if num_poses < 1:
        raise ValueError(f'nothing to render: --num-poses must be at least 1 (got {num_poses})')
    if appearances < 1:
        raise ValueError(
            f'nothing to render: --appearances must be at least 1 (got {appearances}); use 2 or '
            f'more for pairs')
    if size < 8:
        raise ValueError(f'--size must be at least 8 pixels (got {size})')
    if workers < 1:
        raise ValueError(f'--workers must be at least 1 (got {workers})')
    if not 0 <= png_compression <= 9:
        raise ValueError(f'--png-compression must be in 0..9 (got {png_compression})')
    if correlation is None:
        if combo_frac:
            raise ValueError('--combo-frac needs --correlation RHO: test_combo holds the '
                             'pose-appearance combinations that a correlated train split lacks')
        if (pose_family != 'template' or appearance_groups is not None or combo_poses != 'own'
                or hard_group):
            raise ValueError('--pose-family, --appearance-groups, --combo-poses and --hard-group '
                             'set up a correlated set; add --correlation RHO')
        corr = None
        combo_frac = 0.0
    else:
        corr = Correlation(correlation, seed, appearance_groups, pose_family, combo_poses,
                           hard_group)
        combo_frac = 0.1 if combo_frac is None else combo_frac
    plan = plan_splits(num_poses, val_frac, test_frac, shift_frac, combo_frac, train_poses)
    if corr is not None and corr.combo_poses == 'test':
        test = next(((f, c) for split, f, c in plan if split == 'test'), None)
        if test is None or not test[1]:
            raise ValueError('--combo-poses test renders the test split\'s poses; give the test '
                             'split poses (--test-frac > 0)')
        plan = [(split, f, c) if split != 'test_combo' else (split, ) + test
                for split, f, c in plan]
    tmp = _prepare_output(out_dir, force)
    try:
        os.makedirs(osp.join(tmp, 'annotations'))
        for split, first, count in plan:
            os.makedirs(osp.join(tmp, 'images', split))
            if count:
                for shard in range(first // 1000, (first + count - 1) // 1000 + 1):
                    os.makedirs(osp.join(tmp, 'images', split, f'{shard:04d}'))
        counts = _render_all(tmp, plan, appearances, seed, size, rgb, workers, png_compression,
                             progress, corr, train_poses)
        old = move_into_place(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    seconds = time.perf_counter() - start_time
    if old is not None:  # the replaced dataset (--force); not part of the rendering time
        remove_replaced(old)
    return {
        'images': sum(counts.values()),
        'poses': sum(count for _, _, count in plan),
        'seconds': seconds,
        'splits': {split: count for split, _, count in plan},
    }


def _render_all(root: str, plan: Sequence[Tuple[str, int, int]], num_app: int, seed: int,
                size: int, rgb: bool, workers: int, png_compression: int, progress: bool,
                correlation: Optional[Correlation] = None,
                train_poses: Optional[int] = None) -> Dict[str, int]:
    """Render every chunk (in parallel) and write the annotation files."""
    from tqdm import tqdm

    tasks = list(_tasks(root, plan, num_app, seed, size, rgb, png_compression, correlation))
    total = sum(count for _, _, count in plan) * num_app
    ann_dir = osp.join(root, 'annotations')
    parts = {split: open(osp.join(ann_dir, f'.{split}.part'), 'w') for split, _, _ in plan}
    image_entries: Dict[str, List[str]] = {split: [] for split, _, _ in plan}
    counts = {split: 0 for split, _, _ in plan}
    pool = None
    try:
        if workers > 1 and len(tasks) > 1:
            methods = mp.get_all_start_methods()
            ctx = mp.get_context('fork' if 'fork' in methods else None)
            pool = ctx.Pool(min(workers, len(tasks)), initializer=_init_worker)
            results = pool.imap(_render_chunk, tasks)
        else:
            _init_worker()
            results = map(_render_chunk, tasks)
        with tqdm(total=total, unit='img', desc='synthhands', disable=not progress,
                  file=sys.stderr, dynamic_ncols=True) as bar:
            for task, (n, images, anns) in zip(tasks, results):
                split = task[1]
                part = parts[split]
                if counts[split]:
                    part.write(',')
                part.write(','.join(anns))
                image_entries[split].extend(images)
                counts[split] += n
                bar.update(n)
        if pool is not None:
            pool.close()
            pool.join()
    finally:
        if pool is not None:
            pool.terminate()
        for part in parts.values():
            part.close()

    for split, _, count in plan:
        held_out = split == 'test_shift'
        info = {
            'description': 'SynthHands: procedurally rendered hand crops, K appearances per pose',
            'version': SYNTHHANDS_VERSION,
            'split': split,
            'seed': seed,
            'num_poses': count,
            'appearances_per_pose': num_app,
            'image_size': size,
            'rgb': rgb,
            'supersample': DEFAULT_SUPERSAMPLE,
            'keypoint_visibility': 'v=2 visible, v=1 occluded (position still exact)',
            'families': {k: list(v) for k, v in families_for(held_out).items()},
            'held_out_families': {k: list(v) for k, v in HELD_OUT_FAMILIES.items()},
            'all_families': {k: list(v) for k, v in FAMILIES.items()},
        }
        if correlation is not None:
            info['correlation'] = correlation.info(split)
        if train_poses is not None:
            info['train_poses'] = train_poses
        part_path = osp.join(ann_dir, f'.{split}.part')
        with open(osp.join(ann_dir, f'{split}.json'), 'w') as out:
            out.write('{"info":' + _dumps(info) + ',"licenses":[],"images":[')
            out.write(','.join(image_entries[split]))
            out.write('],"annotations":[')
            with open(part_path) as part:
                shutil.copyfileobj(part, out, 1 << 20)
            out.write('],"categories":' + _dumps(categories()) + '}')
        os.remove(part_path)
    return counts
