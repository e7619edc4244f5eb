"""Numerical pieces of the disentanglement metrics (no model; keypoint errors are MMPose's).

* :func:`psnr` / :func:`ssim` / :func:`mean_abs_error`: image agreement of a
  mix with its true render;
* :func:`retrieval_recall`: does a query code find its target among a
  gallery of codes (nearest by cosine similarity)?
* :func:`ridge_probe`: how well a ridge regression predicts keypoints from
  a code, relative to always predicting the mean pose (the leakage probe).
"""
from typing import Dict, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from mmpose.evaluation.functional import keypoint_epe
from torch import Tensor

__all__ = ['mean_abs_error', 'psnr', 'ssim', 'retrieval_recall', 'similarity', 'nearest',
           'ridge_probe', 'keypoint_error']


def _check_pair(a: Tensor, b: Tensor) -> None:
    if a.shape != b.shape or a.dim() != 4:
        raise ValueError(f'expected two (N, C, H, W) batches of the same shape, got '
                         f'{tuple(a.shape)} and {tuple(b.shape)}')


def mean_abs_error(a: Tensor, b: Tensor) -> Tensor:
    """Per-image mean absolute difference (in the images' units, e.g. grey levels).

    Note:
        - a, b: ``(N, C, H, W)``
        - return: ``(N,)``
    """
    _check_pair(a, b)
    return (a.double() - b.double()).abs().flatten(1).mean(1)


def psnr(a: Tensor, b: Tensor, data_range: float = 255.0) -> Tensor:
    """Per-image peak signal-to-noise ratio in dB (``inf`` for identical images).

    Note:
        - a, b: ``(N, C, H, W)``
        - return: ``(N,)``
    """
    _check_pair(a, b)
    mse = (a.double() - b.double()).pow(2).flatten(1).mean(1)
    return 10.0 * torch.log10(data_range**2 / mse)  # mse == 0 gives inf


def _gaussian_1d(size: int, sigma: float, device: torch.device) -> Tensor:
    """A normalised Gaussian of ``size`` taps, float64: the 2-D window is its outer product."""
    x = torch.arange(size, dtype=torch.float64, device=device) - (size - 1) / 2
    g = torch.exp(-x**2 / (2 * sigma**2))
    return g / g.sum()


def ssim(a: Tensor, b: Tensor, data_range: float = 255.0, window: int = 11,
         sigma: float = 1.5) -> Tensor:
    """Per-image structural similarity (Wang et al. 2004; 1 for identical images).

    Gaussian window (``window`` x ``window``, ``sigma``), constants
    ``K1 = 0.01``, ``K2 = 0.03``, valid region only, averaged over channels
    and pixels (:func:`ssim_map`). Images smaller than the window use a
    window of their size.

    Note:
        - a, b: ``(N, C, H, W)``
        - return: ``(N,)``
    """
    return ssim_map(a, b, data_range, window, sigma).flatten(1).mean(1)


def ssim_map(a: Tensor, b: Tensor, data_range: float = 255.0, window: int = 11,
             sigma: float = 1.5, double: bool = True) -> Tensor:
    """:func:`ssim` before the mean: one value per channel and window position.

    The window's centre of output pixel ``(i, j)`` is input pixel
    ``(i + s // 2, j + s // 2)`` (``s``: the window size used). Computed in
    float64 (``double=False``: in float32, e.g. for a training loss; it is
    differentiable either way).

    Note:
        - a, b: ``(N, C, H, W)``
        - return: ``(N, C, H - s + 1, W - s + 1)``
    """
    _check_pair(a, b)
    n, c, h, w = a.shape
    size = min(window, h, w)
    dtype = torch.float64 if double else torch.float32
    x, y = a.to(dtype), b.to(dtype)
    # the five local means in one pass of the separable window (a row, then a column
    # of taps): the same sums as the 2-D window, several times faster, backward included
    stack = torch.cat([x, y, x * x, y * y, x * y], 1)
    k = stack.shape[1]
    g = _gaussian_1d(size, sigma, a.device).to(dtype)
    blurred = F.conv2d(F.conv2d(stack, g.view(1, 1, 1, size).expand(k, 1, 1, size), groups=k),
                       g.view(1, 1, size, 1).expand(k, 1, size, 1), groups=k)
    mu_x, mu_y, xx, yy, xy = blurred.split(c, 1)

    c1, c2 = (0.01 * data_range)**2, (0.03 * data_range)**2
    var_x = xx - mu_x**2
    var_y = yy - mu_y**2
    cov = xy - mu_x * mu_y
    s = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / \
        ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return s


def similarity(queries: Tensor, gallery: Tensor, center: bool = True) -> Tensor:
    """Cosine similarity of flattened codes, after removing the gallery's mean code.

    Centring matters for codes after a ReLU: they all point into the same
    orthant, and their plain cosine similarities crowd near 1.

    Note:
        - queries: ``(Q, ...)``; gallery: ``(G, ...)``
        - return: ``(Q, G)``
    """
    q, g = queries.flatten(1).double(), gallery.flatten(1).double()
    if center:
        mean = g.mean(0, keepdim=True)
        q, g = q - mean, g - mean
    return F.normalize(q, dim=1) @ F.normalize(g, dim=1).T


def nearest(queries: Tensor, gallery: Tensor, k: int, center: bool = True) -> Tensor:
    """Indices of the ``k`` gallery codes most similar to each query (:func:`similarity`).

    Note:
        - queries: ``(Q, ...)``; gallery: ``(G, ...)`` (flattened per item)
        - return: ``(Q, min(k, G))``, most similar first
    """
    return similarity(queries, gallery, center).topk(min(k, gallery.shape[0]), dim=1).indices


def retrieval_recall(queries: Tensor, gallery: Tensor, targets: Tensor,
                     ks: Sequence[int] = (1, 5)) -> Dict[int, float]:
    """Share of queries whose target is among their ``k`` nearest gallery codes.

    Nearest by :func:`similarity` (centred cosine).

    Args:
        queries: Query codes.
        gallery: Gallery codes.
        targets: Index into the gallery of each query's correct match.
        ks: The ``k`` values to report.

    Returns:
        dict: ``{k: recall@k}`` (chance level is ``k / G``).

    Note:
        - queries: ``(Q, ...)``; gallery: ``(G, ...)``; targets: ``(Q,)``
    """
    if queries.shape[0] != targets.shape[0]:
        raise ValueError(f'{queries.shape[0]} queries but {targets.shape[0]} targets')
    top = nearest(queries, gallery, max(ks))
    hits = top == targets.to(top.device).view(-1, 1)
    return {k: float(hits[:, :k].any(1).double().mean()) for k in ks}


def keypoint_error(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> float:
    """MMPose's ``keypoint_epe`` (mean Euclidean distance over the keypoints where
    ``mask`` is true), but NaN instead of 0 when no keypoint is labelled.

    Note:
        - pred, gt: ``(N, K, 2)``; mask: ``(N, K)``
    """
    return float(keypoint_epe(pred, gt, mask)) if mask.any() else float('nan')


def _ridge_fit_predict(x_tr: np.ndarray, y_tr: np.ndarray, x_te: np.ndarray,
                       alpha: float) -> np.ndarray:
    """Kernel (dual) form of ridge regression: cheap when samples < features."""
    mu, sd = x_tr.mean(0), x_tr.std(0) + 1e-8
    a, b = (x_tr - mu) / sd, (x_te - mu) / sd
    y_mu = y_tr.mean(0)
    d = a.shape[1]
    k_tr = a @ a.T / d
    k_te = b @ a.T / d
    coef = np.linalg.solve(k_tr + alpha * np.eye(len(a)), y_tr - y_mu)
    return k_te @ coef + y_mu


def ridge_probe(codes: Tensor, keypoints: np.ndarray, visible: np.ndarray,
                held_out: float = 0.3, alphas: Optional[Sequence[float]] = None,
                folds: int = 3, seed: int = 0) -> Dict[str, float]:
    """Predict keypoints from codes with ridge regression, on a held-out split.

    The samples are split at random (``seed``) into a training part and a
    held-out part (``held_out`` of them, at least one). The ridge strength is
    chosen from ``alphas`` by ``folds``-fold cross-validation on the training
    part only, so a code that carries no pose information ends up with a
    strong penalty and predicts about the mean pose. Errors are measured on
    the held-out part over labelled keypoints, in the keypoints' units.

    Args:
        codes: One code per sample (flattened).
        keypoints: Target keypoints.
        visible: Which keypoints are labelled.
        held_out: Share of samples held out.
        alphas: Candidate ridge strengths (relative to the standardised
            features' mean kernel); default ``10**[-3 .. 3]``.
        folds: Cross-validation folds on the training part (skipped with
            fewer than ``2 * folds`` training samples: the middle alpha).
        seed: Seed of the split.

    Returns:
        dict: ``error`` (the probe's mean keypoint error), ``mean_error``
        (predicting the training part's mean pose) and ``ratio``
        (``error / mean_error``: about 1 or above when the code says nothing
        about the pose, near 0 when it determines it). NaN with fewer than 3
        samples.

    Note:
        - codes: ``(N, ...)``; keypoints: ``(N, K, 2)``; visible: ``(N, K)``
    """
    alphas = list(alphas) if alphas is not None else [10.0**e for e in range(-3, 4)]
    n = codes.shape[0]
    nan = dict(error=float('nan'), mean_error=float('nan'), ratio=float('nan'))
    if n < 3:
        return nan
    x = codes.detach().flatten(1).double().cpu().numpy()
    mask = visible.astype(bool)
    y_full = keypoints.astype(np.float64)  # every coordinate is a target; errors use mask
    y = y_full.reshape(n, -1)
    order = np.random.default_rng(seed).permutation(n)
    n_te = min(n - 2, max(1, int(round(held_out * n))))
    te, tr = order[:n_te], order[n_te:]

    alpha = alphas[len(alphas) // 2]
    if len(tr) >= 2 * folds and len(alphas) > 1:
        parts = np.array_split(np.arange(len(tr)), folds)
        scores = []
        for al in alphas:
            err = 0.0
            for part in parts:
                fit = np.setdiff1d(np.arange(len(tr)), part)
                pred = _ridge_fit_predict(x[tr[fit]], y[tr[fit]], x[tr[part]], al)
                err += keypoint_error(pred.reshape(len(part), -1, 2), y_full[tr[part]],
                                      mask[tr[part]]) * len(part)
            scores.append(err)
        alpha = alphas[int(np.nanargmin(scores))] if np.isfinite(scores).any() else alpha
    pred = _ridge_fit_predict(x[tr], y[tr], x[te], alpha).reshape(len(te), -1, 2)
    mean_pred = np.broadcast_to(y[tr].mean(0).reshape(1, -1, 2), pred.shape)
    error = keypoint_error(pred, y_full[te], mask[te])
    mean_error = keypoint_error(mean_pred, y_full[te], mask[te])
    ratio = error / mean_error if mean_error > 0 else float('nan')
    return dict(error=error, mean_error=mean_error, ratio=ratio)
