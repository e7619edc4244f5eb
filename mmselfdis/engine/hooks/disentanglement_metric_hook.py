"""Hand the runner's model (and the data's judge) to the disentanglement metrics."""
from typing import Optional

from mmengine.hooks import Hook

from mmpose.registry import HOOKS

__all__ = ['DisentanglementMetricHook']


def _data_root(loop) -> Optional[str]:
    """The ``data_root`` of a loop's dataset (through wrappers such as ``RepeatDataset``)."""
    dataset = getattr(getattr(loop, 'dataloader', None), 'dataset', None)
    while dataset is not None and not hasattr(dataset, 'data_root') and hasattr(dataset,
                                                                                 'dataset'):
        dataset = dataset.dataset
    return getattr(dataset, 'data_root', None) or None


@HOOKS.register_module()
class DisentanglementMetricHook(Hook):
    """Give every :class:`~mmselfdis.evaluation.DisentanglementMetric` the model to mix with.

    In ``before_val``/``before_test`` the runner's model (unwrapped from DDP)
    is bound to each such metric of the val/test evaluator, together with the
    loop's ``data_root``: a metric with ``judge='auto'`` (the default) uses
    the judge cached in ``<data_root>/judge/`` (``tools/train_judge.py``).
    Without this hook the metric stops with a message naming it.

    Example::

        custom_hooks = [dict(type='DisentanglementMetricHook')]
    """

    priority = 'NORMAL'

    @staticmethod
    def _bind(runner, loop) -> int:
        from mmselfdis.evaluation import DisentanglementMetric

        bound = 0
        for metric in getattr(loop.evaluator, 'metrics', []):
            if isinstance(metric, DisentanglementMetric):
                metric.bind_model(runner.model, data_root=_data_root(loop))
                bound += 1
        return bound

    def before_val(self, runner) -> None:
        """Bind the model to the val evaluator's metrics."""
        self._bind(runner, runner.val_loop)

    def before_test(self, runner) -> None:
        """Bind the model to the test evaluator's metrics."""
        self._bind(runner, runner.test_loop)
