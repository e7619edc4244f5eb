"""Schedule the share of mixed training images and count what the judge dropped."""
from typing import Dict, List, Optional, Sequence, Union

from mmengine.hooks import Hook
from mmpose.registry import HOOKS

__all__ = ['MixRatioHook', 'find_transforms']


MIXING_TRANSFORMS = ('MixReconstruct', 'TruthMix')
"""The transforms whose ``prob`` :class:`MixRatioHook` schedules (by class name)."""


def find_transforms(dataset, type_name: Union[str, Sequence[str]] = 'MixReconstruct') -> List:
    """Every transform of class ``type_name`` (a name or several) in the pipelines of
    ``dataset`` and its wrappees."""
    names = (type_name, ) if isinstance(type_name, str) else tuple(type_name)
    found, seen = [], set()

    def walk_pipeline(pipeline) -> None:
        for t in getattr(pipeline, 'transforms', None) or []:
            if any(c.__name__ in names for c in type(t).__mro__) and id(t) not in seen:
                seen.add(id(t))
                found.append(t)
            walk_pipeline(t)

    def walk(ds) -> None:
        if ds is None:
            return
        walk_pipeline(getattr(ds, 'pipeline', None))
        walk(getattr(ds, 'dataset', None))
        for inner in getattr(ds, 'datasets', None) or []:
            walk(inner)

    walk(dataset)
    return found


@HOOKS.register_module()
class MixRatioHook(Hook):
    """A warm-up on real images, mixing, then a real-only phase; counts of mixes and drops.

    Sets ``prob`` of every :class:`~mmselfdis.datasets.MixReconstruct` (and
    :class:`~mmselfdis.datasets.transforms.TruthMix`) in the
    training pipeline: 0 before ``start`` (the pose model first learns from
    real images), the transform's configured ``prob`` from ``start`` on, and
    0 again for the last ``real_only_last`` epochs (or iterations), so that
    the model ends on the real image distribution. Data-loader workers copy
    the pipeline when they start, so on a change the hook restarts them
    (persistent workers included); with ``by_epoch=False`` a change takes
    effect from the next batch.

    It also counts, from the packed data samples, how many samples were
    mixed and how many mixes the transform's judge dropped (``mix_dropped``;
    pack :data:`~mmselfdis.datasets.transforms.MIX_META_KEYS` with
    ``PackPoseInputs``), logs them every ``log_interval`` iterations and at
    each epoch's end, and puts ``train/mix_share`` and
    ``train/mix_dropped_share`` into the message hub (the training log).

    Example::

        custom_hooks = [dict(type='MixRatioHook', start=2, real_only_last=1)]

    Args:
        start (int): First epoch (or iteration) with mixing. Defaults to 0.
        real_only_last (int): Number of final epochs (or iterations)
            without mixing. Defaults to 0.
        by_epoch (bool): Count ``start`` and ``real_only_last`` in epochs
            (default) or iterations.
        log_interval (int): Log the counts every this many iterations (0:
            at each epoch's end only). Defaults to 50.
    """

    priority = 'NORMAL'

    def __init__(self,
                 start: int = 0,
                 real_only_last: int = 0,
                 by_epoch: bool = True,
                 log_interval: int = 50) -> None:
        for key, value in (('start', start), ('real_only_last', real_only_last),
                           ('log_interval', log_interval)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f'MixRatioHook: {key} must be an integer >= 0, got {value!r}')
        self.start = start
        self.real_only_last = real_only_last
        self.by_epoch = bool(by_epoch)
        self.log_interval = log_interval
        self._transforms: List = []
        self._base: Dict[int, float] = {}
        self.totals = dict(samples=0, mixed=0, dropped=0)
        self._window = dict(samples=0, mixed=0, dropped=0)
        self._epoch = dict(samples=0, mixed=0, dropped=0)
        self._warned = False

    # ------------------------------------------------------------ the schedule
    def ratio_at(self, position: int, total: int, base: float) -> float:
        """The ``prob`` at epoch/iteration ``position`` of ``total`` for a configured ``base``."""
        return base if self.start <= position < total - self.real_only_last else 0.0

    def _total(self, runner) -> int:
        return runner.max_epochs if self.by_epoch else runner.max_iters

    def before_train(self, runner) -> None:
        """Find the transforms, check the schedule and set the first phase."""
        self._transforms = find_transforms(runner.train_dataloader.dataset, MIXING_TRANSFORMS)
        if not self._transforms:
            raise ValueError('MixRatioHook: the training pipeline has no MixReconstruct (or '
                             'TruthMix); add the transform (configs/augment/...) or remove the '
                             'hook')
        self._base = {id(t): t.prob for t in self._transforms}
        total = self._total(runner)
        unit = 'epochs' if self.by_epoch else 'iterations'
        if self.start + self.real_only_last >= total:
            raise ValueError(
                f'MixRatioHook: start={self.start} and real_only_last={self.real_only_last} '
                f'leave no {unit[:-1]} with mixing in a run of {total} {unit}; lower them')
        pos = runner.epoch if self.by_epoch else runner.iter
        self._apply(runner, pos, restart=False)

    def before_train_epoch(self, runner) -> None:
        """Set the epoch's ratio (``by_epoch``)."""
        if self.by_epoch:
            self._apply(runner, runner.epoch, restart=True)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        """Set the ratio of the next batch (``by_epoch=False``)."""
        if not self.by_epoch:
            self._apply(runner, runner.iter + 1, restart=True)

    def _apply(self, runner, position: int, restart: bool) -> None:
        total = self._total(runner)
        changed = False
        for t in self._transforms:
            p = self.ratio_at(position, total, self._base[id(t)])
            if t.prob != p:
                t.prob = p
                changed = True
        if not changed:
            return
        unit = 'epoch' if self.by_epoch else 'iteration'
        runner.logger.info(f'MixRatioHook: from {unit} {position}, mixing prob = '
                           f'{", ".join(f"{t.prob:g}" for t in self._transforms)}')
        if restart:
            self._restart_workers(runner)

    @staticmethod
    def _restart_workers(runner) -> None:
        """Make data-loader workers start again with the changed pipeline."""
        loader = runner.train_dataloader
        if not getattr(loader, 'num_workers', 0):
            return  # the pipeline runs in this process
        if getattr(loader, 'persistent_workers', False):
            loader._iterator = None  # noqa: SLF001  (DataLoader rebuilds it on iter())
        loop_iter = getattr(runner.train_loop, 'dataloader_iterator', None)
        if loop_iter is not None and hasattr(loop_iter, '_iterator'):
            loop_iter._iterator = iter(loader)  # noqa: SLF001  (IterBasedTrainLoop)

    # ------------------------------------------------------------ the counts
    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        """Count mixed and dropped samples of the batch; log every ``log_interval``."""
        samples = (data_batch or {}).get('data_samples') or []
        metas = [s.metainfo for s in samples]
        if metas and 'mixed' not in metas[0]:
            if not self._warned:
                runner.logger.warning(
                    'MixRatioHook: the data samples carry no "mixed" mark; add MIX_META_KEYS '
                    '(mmselfdis.datasets.transforms) to PackPoseInputs(meta_keys=...) to count '
                    'mixes and the judge\'s drops')
                self._warned = True
            return
        counts = dict(samples=len(metas), mixed=sum(bool(m.get('mixed')) for m in metas),
                      dropped=sum(bool(m.get('mix_dropped')) for m in metas))
        for acc in (self.totals, self._window, self._epoch):
            for k, v in counts.items():
                acc[k] += v
        if counts['samples']:
            hub = runner.message_hub
            hub.update_scalar('train/mix_share', counts['mixed'] / counts['samples'])
            hub.update_scalar('train/mix_dropped_share',
                              counts['dropped'] / max(1, counts['mixed'] + counts['dropped']))
        if self.log_interval and self.every_n_train_iters(runner, self.log_interval):
            self._log(runner, self._window, f'last {self.log_interval} iterations')
            self._window = dict(samples=0, mixed=0, dropped=0)

    def after_train_epoch(self, runner) -> None:
        """Log the epoch's counts."""
        self._log(runner, self._epoch, f'epoch {runner.epoch}')
        self._epoch = dict(samples=0, mixed=0, dropped=0)

    @staticmethod
    def _log(runner, acc: Dict[str, int], what: str) -> None:
        if not acc['samples']:
            return
        made = acc['mixed'] + acc['dropped']
        share = f'{100.0 * acc["dropped"] / made:.1f} %' if made else '-'
        runner.logger.info(
            f'MixRatioHook ({what}): {acc["samples"]} samples, {acc["mixed"]} mixed, '
            f'{acc["dropped"]} mixes dropped by the judge ({share} of the mixes made), '
            f'{acc["samples"] - acc["mixed"]} real')
