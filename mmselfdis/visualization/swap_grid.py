"""Pictures of the disentanglement: the swap grid (paper Fig. 4 / Table 2) and retrieval (Fig. 6).

One implementation is shared by ``tools/swap_grid.py``, ``tools/retrieve.py``
and :class:`~mmselfdis.engine.hooks.SwapGridHook`. Images go in as the data
pipeline delivers them (``(N, C, H, W)``, ``0..255``, BGR or monochrome) and
figures come out as ``uint8`` **RGB** ``(H, W, 3)`` arrays (what MMEngine's
``Visualizer.add_image`` takes; convert to BGR for ``cv2.imwrite``).
"""
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from torch import Tensor, nn

from mmselfdis.models.utils import check_mixing_model

__all__ = ['swap_images', 'draw_swap_grid', 'swap_grid', 'draw_retrieval', 'to_display']

_BG = (255, 255, 255)
_INK = (20, 20, 20)
_POSE = (200, 90, 20)  # RGB: pose sources
_APP = (20, 120, 200)  # RGB: appearance sources
_QUERY = (200, 30, 30)
_SAME = (30, 170, 60)
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def to_display(imgs: Tensor, bgr: bool = True) -> np.ndarray:
    """Image-space tensors → ``uint8`` RGB arrays (monochrome repeated to 3 channels).

    Args:
        imgs: Images in image space (clamped and rounded here).
        bgr: 3-channel inputs are BGR (as ``LoadImage`` delivers them).

    Note:
        - imgs: ``(N, C, H, W)`` with ``C`` 1 or 3
        - return: ``(N, H, W, 3)``
    """
    if imgs.dim() != 4 or imgs.shape[1] not in (1, 3):
        raise ValueError(f'expected (N, 1|3, H, W) images, got {tuple(imgs.shape)}')
    arr = imgs.detach().float().clamp(0, 255).round().to(torch.uint8).cpu().numpy()
    arr = arr.transpose(0, 2, 3, 1)
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, -1)
    elif bgr:
        arr = arr[..., ::-1]
    return np.ascontiguousarray(arr)


def _grid_keypoints(pose_info: Optional[Sequence[dict]], num_a: int):
    """Keypoints and visibility of the pose sources, repeated for every appearance row."""
    if not pose_info or any('keypoints' not in i for i in pose_info):
        return None, None
    kpts = np.stack([i['keypoints'] for i in pose_info])
    vis = np.stack([i['keypoints_visible'] for i in pose_info])
    return np.tile(kpts, (num_a, 1, 1)), np.tile(vis, (num_a, 1))


def swap_images(model: nn.Module, pose_imgs: Tensor, app_imgs: Tensor,
                pose_info: Optional[Sequence[dict]] = None,
                app_info: Optional[Sequence[dict]] = None) -> Tensor:
    """All mixes ``D_I([p(pose_j), a(app_i)])`` in one encode and one decode.

    Runs in ``eval()`` and ``no_grad`` (the model's mode is restored).

    Args:
        model: A :class:`~mmselfdis.models.SelfDisPoseEstimator`.
        pose_imgs: Pose sources (image space).
        app_imgs: Appearance sources (image space).
        pose_info: The pose sources' metainfo from :func:`load_samples`
            (their keypoints, for a generator that draws labels).

    Returns:
        Mixes in image space, row ``i`` = appearance ``i``, column ``j`` =
        pose ``j``.

    Note:
        - pose_imgs: ``(P, C, H, W)``; app_imgs: ``(A, C, H, W)``
        - return: ``(A, P, C, H, W)``
    """
    model = check_mixing_model(model, 'the swap grid')
    num_p, num_a = pose_imgs.shape[0], app_imgs.shape[0]
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            p, a = model.encode(torch.cat([pose_imgs, app_imgs]).to(device).float())
            p, a = p[:num_p], a[num_p:]
            p_all = p.repeat(num_a, 1, 1, 1)
            a_all = a.repeat_interleave(num_p, 0)
            maps = None
            if getattr(model, 'draws_labels', False):
                kpts, vis = _grid_keypoints(pose_info, num_a)
                if kpts is None:
                    raise ValueError("this generator draws the pose sources' labelled "
                                     "keypoints: pass pose_info with their keypoints "
                                     "(load_samples gives them)")
                maps = model.selfdis.label_maps(kpts, vis)
            background = background_maps = None
            if getattr(model.selfdis, 'background', None) is not None:
                # painted over the appearance sources; their hands cut out where labelled
                background = app_imgs.to(device).float().repeat_interleave(num_p, 0)
                akp, avis = _grid_keypoints(app_info, 1)
                if akp is not None:
                    background_maps = model.selfdis.label_maps(akp, avis).repeat_interleave(
                        num_p, 0)
            out = model.decode(p_all, a_all, maps, background=background,
                               background_maps=background_maps)
    finally:
        model.train(was_training)
    return out.clamp(0, 255).round().cpu().view(num_a, num_p, *out.shape[1:])


def _upscale(img: np.ndarray, scale: int) -> np.ndarray:
    if scale == 1:
        return img
    return cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)


def _text(canvas: np.ndarray, text: str, box: Tuple[int, int, int, int],
          color: Tuple[int, int, int] = _INK, max_scale: float = 0.6) -> None:
    """Write ``text`` centred in ``box = (x, y, w, h)``, shrunk to fit."""
    x, y, w, h = box
    scale, thick = max_scale, 1
    while scale > 0.25:
        (tw, th), base = cv2.getTextSize(text, _FONT, scale, thick)
        if tw <= w - 4 and th + base <= h - 2:
            break
        scale -= 0.05
    (tw, th), base = cv2.getTextSize(text, _FONT, scale, thick)
    org = (x + max(0, (w - tw) // 2), y + (h + th) // 2 - base // 2)
    cv2.putText(canvas, text, org, _FONT, scale, color, thick, cv2.LINE_AA)


def _frame(canvas: np.ndarray, x: int, y: int, w: int, h: int, color: Tuple[int, int, int],
           width: int = 2) -> None:
    cv2.rectangle(canvas, (x - width, y - width), (x + w + width - 1, y + h + width - 1), color,
                  width)


def draw_swap_grid(pose: np.ndarray, app: np.ndarray, mixes: np.ndarray, scale: int = 3,
                   pose_labels: Optional[Sequence[str]] = None,
                   app_labels: Optional[Sequence[str]] = None,
                   title: Optional[str] = None,
                   cell_labels: Optional[Sequence[Sequence[str]]] = None) -> np.ndarray:
    """Lay out the swap matrix: pose sources on top, appearance sources on the left.

    Args:
        pose: Pose source images.
        app: Appearance source images.
        mixes: ``mixes[i, j]`` = pose ``j`` with appearance ``i``.
        scale: Integer up-scaling of every image (nearest neighbour).
        pose_labels: Caption under each pose source (default ``pose j``).
        app_labels: Caption left of each appearance source (default ``app i``).
        title: A line above the grid.
        cell_labels: ``cell_labels[i][j]``: a caption under mix ``(i, j)``
            (e.g. the judge's PCK of that mix); none by default.

    Returns:
        The figure.

    Note:
        - pose: ``(P, H, W, 3)``; app: ``(A, H, W, 3)``; mixes: ``(A, P, H, W, 3)``,
          all ``uint8`` RGB
        - return: ``(H', W', 3)`` ``uint8`` RGB
    """
    num_p, num_a = len(pose), len(app)
    if mixes.shape[:2] != (num_a, num_p):
        raise ValueError(f'mixes must be (A={num_a}, P={num_p}, H, W, 3), got {mixes.shape}')
    if scale < 1:
        raise ValueError(f'scale must be a positive integer, got {scale}')
    if cell_labels is not None and (len(cell_labels) != num_a or
                                    any(len(row) != num_p for row in cell_labels)):
        raise ValueError(f'cell_labels must be {num_a} rows of {num_p} captions')
    pose_labels = list(pose_labels) if pose_labels is not None else [f'pose {j}'
                                                                     for j in range(num_p)]
    app_labels = list(app_labels) if app_labels is not None else [f'app {i}'
                                                                  for i in range(num_a)]
    h, w = pose.shape[1] * scale, pose.shape[2] * scale
    gap, sep, cap = 4, 10, 22  # between cells, between sources and mixes, caption height
    cell_cap = 16 if cell_labels is not None else 0  # caption under each mix
    label_w = max(96, w)
    title_h = 28 if title else 0
    width = label_w + w + sep + num_p * (w + gap) + gap
    height = title_h + gap + h + cap + sep + num_a * (h + cell_cap + gap) + gap
    canvas = np.full((height, width, 3), _BG, np.uint8)
    if title:
        _text(canvas, title, (0, 0, width, title_h), max_scale=0.6)

    x0 = label_w + w + sep  # first mix column
    y0 = title_h + gap + h + cap + sep  # first mix row
    # corner: how to read the grid
    _text(canvas, 'pose ->', (label_w, title_h + gap, w, h // 2), _POSE)
    _text(canvas, 'appearance', (label_w, title_h + gap + h // 2, w, h // 4), _APP)
    _text(canvas, 'v', (label_w, title_h + gap + 3 * h // 4, w, h // 4), _APP)
    for j in range(num_p):
        x = x0 + j * (w + gap)
        canvas[title_h + gap:title_h + gap + h, x:x + w] = _upscale(pose[j], scale)
        _frame(canvas, x, title_h + gap, w, h, _POSE)
        _text(canvas, pose_labels[j], (x, title_h + gap + h, w, cap), _POSE)
    for i in range(num_a):
        y = y0 + i * (h + cell_cap + gap)
        _text(canvas, app_labels[i], (0, y, label_w, h), _APP)
        canvas[y:y + h, label_w:label_w + w] = _upscale(app[i], scale)
        _frame(canvas, label_w, y, w, h, _APP)
        for j in range(num_p):
            x = x0 + j * (w + gap)
            canvas[y:y + h, x:x + w] = _upscale(mixes[i, j], scale)
            if cell_labels is not None:
                _text(canvas, cell_labels[i][j], (x, y + h, w, cell_cap), _INK, max_scale=0.4)
    # the separators between sources and mixes
    canvas[y0 - sep // 2 - 1:y0 - sep // 2 + 1, label_w:] = 120
    canvas[y0 - sep // 2:, x0 - sep // 2 - 1:x0 - sep // 2 + 1] = 120
    return canvas


def swap_grid(model: nn.Module, pose_imgs: Tensor, app_imgs: Tensor, scale: int = 3,
              pose_labels: Optional[Sequence[str]] = None,
              app_labels: Optional[Sequence[str]] = None,
              title: Optional[str] = None,
              pose_info: Optional[Sequence[dict]] = None,
              app_info: Optional[Sequence[dict]] = None) -> np.ndarray:
    """Mix every pose source with every appearance source and draw the grid.

    Args:
        model: A :class:`~mmselfdis.models.SelfDisPoseEstimator`.
        pose_imgs: Pose sources (image space, as loaded).
        app_imgs: Appearance sources (image space, as loaded).
        scale: Integer up-scaling for viewing.
        pose_labels: Captions of the pose sources.
        app_labels: Captions of the appearance sources.
        title: A line above the grid.
        pose_info: The pose sources' metainfo from :func:`load_samples`
            (their keypoints, for a generator that draws labels).
        app_info: The appearance sources' metainfo (their keypoints: where a
            generator that paints over them cuts their hands out).

    Returns:
        The figure, ``uint8`` RGB.

    Note:
        - pose_imgs: ``(P, C, H, W)``; app_imgs: ``(A, C, H, W)``
        - return: ``(H', W', 3)``
    """
    mixes = swap_images(model, pose_imgs, app_imgs, pose_info, app_info)
    num_a, num_p = mixes.shape[:2]
    mix_disp = to_display(mixes.flatten(0, 1)).reshape(num_a, num_p, *mixes.shape[-2:], 3)
    return draw_swap_grid(to_display(pose_imgs), to_display(app_imgs), mix_disp, scale,
                          pose_labels, app_labels, title)


def draw_retrieval(query: np.ndarray, rows: Sequence[Tuple], scale: int = 2,
                   title: Optional[str] = None) -> np.ndarray:
    """Query image followed by its nearest neighbours, one labelled row per code.

    Args:
        query: The query image.
        rows: ``(label, images, captions)`` or ``(label, images, captions,
            marked)`` per row: ``images`` the neighbours nearest first,
            ``marked`` a bool per neighbour that gets a green frame (e.g. the
            same pose as the query).
        scale: Integer up-scaling.
        title: A line above the rows.

    Returns:
        The figure, ``uint8`` RGB.

    Note:
        - query: ``(H, W, 3)``; each ``images``: ``(k, H, W, 3)``, ``uint8`` RGB
    """
    h, w = query.shape[0] * scale, query.shape[1] * scale
    k = max(len(r[1]) for r in rows)
    gap, sep, cap, label_w = 4, 12, 20, 130
    title_h = 28 if title else 0
    width = label_w + w + sep + k * (w + gap) + gap
    height = title_h + len(rows) * (h + cap + gap) + gap
    canvas = np.full((height, width, 3), _BG, np.uint8)
    if title:
        _text(canvas, title, (0, 0, width, title_h))
    for r, row in enumerate(rows):
        label, images, captions = row[:3]
        marked = row[3] if len(row) > 3 else [False] * len(images)
        y = title_h + gap + r * (h + cap + gap)
        _text(canvas, label, (0, y, label_w, h), _INK, max_scale=0.5)
        canvas[y:y + h, label_w:label_w + w] = _upscale(query, scale)
        _frame(canvas, label_w, y, w, h, _QUERY)
        _text(canvas, 'query', (label_w, y + h, w, cap), _QUERY)
        x0 = label_w + w + sep
        for j, img in enumerate(images):
            x = x0 + j * (w + gap)
            canvas[y:y + h, x:x + w] = _upscale(img, scale)
            if marked[j]:
                _frame(canvas, x, y, w, h, _SAME)
            if j < len(captions):
                _text(canvas, captions[j], (x, y + h, w, cap), _INK, max_scale=0.4)
    return canvas
