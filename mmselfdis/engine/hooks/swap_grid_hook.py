"""Log the swap grid (paper Fig. 4) while a self-disentanglement model trains."""
from typing import Optional, Sequence

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmpose.registry import HOOKS
from mmselfdis.models.utils import check_mixing_model
from mmselfdis.visualization import load_samples, pick_sources, swap_grid

__all__ = ['SwapGridHook']

DATA_BATCH = Optional[dict]


@HOOKS.register_module()
class SwapGridHook(Hook):
    """Every ``interval`` training iterations, add the swap grid to the visualizer.

    The source images are chosen once, in ``before_train``, from the
    validation (or training) dataset and loaded through its pipeline, so the
    same pose and appearance sources are shown all along training. The grid
    (pose sources across the top, appearance sources down the left, mixes in
    the cells; :func:`mmselfdis.visualization.swap_grid`) goes through
    ``runner.visualizer.add_image(name, image, step=iteration)``, so every
    configured backend receives it (``LocalVisBackend`` writes
    ``<work_dir>/<timestamp>/vis_data/vis_image/<name>_<iter>.png``,
    ``TensorboardVisBackend`` an image summary).

    Example::

        custom_hooks = [dict(type='SwapGridHook', interval=200, num_pose=6,
                             num_appearance=6)]

    Args:
        interval: Log every ``interval`` training iterations.
        num_pose: Pose sources (columns).
        num_appearance: Appearance sources (rows).
        dataset: ``'val'`` or ``'train'``: where the sources come from (the
            training pipeline's random augmentation is drawn once).
        pose_indices: Dataset indices of the pose sources (default: spread
            evenly, one per pose).
        app_indices: Dataset indices of the appearance sources.
        scale: Integer up-scaling of the images.
        name: Image name in the visualizer.
        log_last: Also log after the last iteration.
    """

    priority = 'LOW'

    def __init__(self,
                 interval: int = 500,
                 num_pose: int = 6,
                 num_appearance: int = 6,
                 dataset: str = 'val',
                 pose_indices: Optional[Sequence[int]] = None,
                 app_indices: Optional[Sequence[int]] = None,
                 scale: int = 3,
                 name: str = 'swap_grid',
                 log_last: bool = True) -> None:
        if interval < 1:
            raise ValueError(f'SwapGridHook.interval must be >= 1, got {interval}')
        if num_pose < 1 or num_appearance < 1:
            raise ValueError('SwapGridHook.num_pose and num_appearance must be >= 1')
        if dataset not in ('val', 'train'):
            raise ValueError(f"SwapGridHook.dataset must be 'val' or 'train', got {dataset!r}")
        self.interval = int(interval)
        self.num_pose = int(num_pose)
        self.num_appearance = int(num_appearance)
        self.dataset = dataset
        self.pose_indices = list(pose_indices) if pose_indices is not None else None
        self.app_indices = list(app_indices) if app_indices is not None else None
        self.scale = int(scale)
        self.name = name
        self.log_last = bool(log_last)
        self._pose_imgs: Optional[torch.Tensor] = None
        self._pose_info: Optional[list] = None
        self._app_info: Optional[list] = None
        self._app_imgs: Optional[torch.Tensor] = None
        self._pose_labels: list = []
        self._app_labels: list = []

    def _model(self, runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        return check_mixing_model(model, 'SwapGridHook')

    def before_train(self, runner) -> None:
        """Check the model and load the fixed source images."""
        self._model(runner)
        loader = runner.val_dataloader if self.dataset == 'val' else runner.train_dataloader
        if loader is None:
            raise ValueError(f"SwapGridHook(dataset='{self.dataset}') needs a "
                             f"{self.dataset}_dataloader in the config")
        dataset = loader.dataset
        pose_idx = self.pose_indices or pick_sources(dataset, self.num_pose)
        app_idx = self.app_indices or pick_sources(dataset, self.num_appearance, 0.5)
        self._pose_imgs, pose_info = load_samples(dataset, pose_idx)
        self._app_imgs, app_info = load_samples(dataset, app_idx)
        self._pose_info = pose_info
        self._app_info = app_info
        self._pose_labels = [f'#{i["index"]}' for i in pose_info]
        self._app_labels = [f'#{i["index"]}' for i in app_info]

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: DATA_BATCH = None,
                         outputs: Optional[dict] = None) -> None:
        """Log the grid every ``interval`` iterations (and after the last one)."""
        if self.every_n_train_iters(runner, self.interval) or (
                self.log_last and self.is_last_train_iter(runner)):
            self.log_grid(runner)

    def log_grid(self, runner) -> None:
        """Draw the grid with the current weights and add it to the visualizer."""
        if self._pose_imgs is None:
            self.before_train(runner)
        step = runner.iter + 1
        grid = swap_grid(self._model(runner), self._pose_imgs, self._app_imgs, self.scale,
                         self._pose_labels, self._app_labels, f'{self.name} | iter {step}',
                         pose_info=self._pose_info, app_info=self._app_info)
        runner.visualizer.add_image(self.name, grid, step=step)
