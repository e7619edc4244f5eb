"""Figures of the disentanglement: swap grid (paper Fig. 4 / Table 2) and retrieval (Fig. 6)."""
from .samples import SPLITS, build_split_dataset, load_samples, pick_sources, spread_indices
from .swap_grid import draw_retrieval, draw_swap_grid, swap_grid, swap_images, to_display
from .truth import render_truth, render_truth_masks

__all__ = ['SPLITS', 'build_split_dataset', 'load_samples', 'pick_sources',
           'spread_indices', 'draw_retrieval',
           'draw_swap_grid', 'swap_grid', 'swap_images', 'to_display', 'render_truth',
           'render_truth_masks']
