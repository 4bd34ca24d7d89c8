"""Test-time augmentation (TTA): classify several views of each face and average their probabilities.

A TTA number is a different measurement from the plain one: :func:`ferviz.results.evaluation.evaluate` records
the mode in its report's meta (``tta``), ``ferviz predict`` adds a ``tta`` column, and the headline
numbers of the shipped models are always plain (``none``).

Views are made from the (N, S, S) uint8 face crops, before the input-mode planes, so a HOG input sees
the HOG of the mirrored or cropped face rather than a mirrored HOG image.

- ``flip``: the face and its mirror image (2 views).
- ``ten_crop``: the four corner squares and the centre square, each :data:`CROP_FRACTION` of the side
  and resized back to S, and the mirror image of each (10 views). Training shifts faces by up to 10 %
  and zooms by up to 10 % (:class:`ferviz.data.augment.AugmentConfig`), so these views stay inside what the
  model saw while training.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

CROP_FRACTION = 0.9  # side of each ten-crop square, as a fraction of the face's side


def _flip(faces: np.ndarray) -> list[np.ndarray]:
    return [faces, np.ascontiguousarray(faces[:, :, ::-1])]


def crop_windows(size: int, fraction: float = CROP_FRACTION) -> list[tuple[int, int, int]]:
    """(top, left, side) of the five ten-crop squares of a ``size`` x ``size`` face, centre first."""
    side = max(1, int(round(size * fraction)))
    far = size - side
    centre = far // 2
    return [(centre, centre, side), (0, 0, side), (0, far, side), (far, 0, side), (far, far, side)]


def resize_crops(faces: np.ndarray, size: int) -> np.ndarray:
    """(N, H, W) or (N, H, W, 3) uint8 crops -> (N, size, size[, 3]), each by the one resize policy."""
    from ferviz.pipeline.crop import resize_crop  # local: the CLI reads TTA_MODES without torch or OpenCV

    faces = np.asarray(faces, dtype=np.uint8)
    if faces.shape[1:3] == (size, size):
        return faces
    if len(faces) == 0:
        return np.zeros((0, size, size, *faces.shape[3:]), np.uint8)
    return np.stack([resize_crop(face, size) for face in faces])


def _ten_crop(faces: np.ndarray) -> list[np.ndarray]:
    size = faces.shape[1]
    views = []
    for top, left, side in crop_windows(size):
        crop = resize_crops(np.ascontiguousarray(faces[:, top:top + side, left:left + side]), size)
        views.extend(_flip(crop))
    return views


# name -> (N, S, S) uint8 faces -> the views to average (each (N, S, S) uint8); the CLI's --tta choices
TTA_VIEWS: dict[str, Callable[[np.ndarray], list[np.ndarray]]] = {
    "none": lambda faces: [faces],
    "flip": _flip,
    "ten_crop": _ten_crop,
}
TTA_MODES = tuple(TTA_VIEWS)
#: What each mode averages over, in words (the CLI's help, the Evaluate page's choices and notes).
TTA_TEXT: dict[str, str] = {
    "none": "none (the model's own score)",
    "flip": "flip: each face and its mirror image",
    "ten_crop": f"ten crops: 5 squares of {CROP_FRACTION:.0%} of the face and their mirrors",
}


def model_views(loaded, tta: str = "none") -> str:
    """The views ``loaded``'s predictions average over: ``tta`` when one is asked for, else the model's own.

    A checkpoint can carry its own test-time views (``Preprocessing.tta``, set by ``ferviz adjust --tta``): they
    are then part of how that model predicts, like a decision rule folded into its bias, on every path of the
    app. An explicit ``tta`` other than ``"none"`` replaces them (``ten_crop`` already holds the mirror images).
    """
    check_mode(tta)
    return tta if tta != "none" else check_mode(loaded.preprocessing.tta)


def check_mode(mode: str) -> str:
    """``mode`` itself, or a ValueError that lists the modes (call it before any expensive work)."""
    if mode not in TTA_VIEWS:
        raise ValueError(f"unknown test-time augmentation {mode!r}; choose one of {', '.join(TTA_MODES)}")
    return mode


def tta_views(faces: np.ndarray, mode: str) -> list[np.ndarray]:
    """The views of ``faces`` (N, S, S) or (N, S, S, 3) uint8 that ``mode`` averages over.

    Raises
    ------
    ValueError
        For a mode that is not a key of :data:`TTA_VIEWS` (the message lists them).
    """
    check_mode(mode)
    faces = np.asarray(faces, dtype=np.uint8)
    if faces.ndim not in (3, 4) or faces.shape[1] != faces.shape[2] or (faces.ndim == 4 and faces.shape[3] != 3):
        raise ValueError(f"expected (N, S, S) or (N, S, S, 3) square face crops, got shape {faces.shape}")
    return TTA_VIEWS[mode](faces)


def average_views(classify: Callable[[np.ndarray], np.ndarray], faces: np.ndarray, mode: str) -> np.ndarray:
    """Mean over ``mode``'s views of ``classify(view)`` ((N, S, S) uint8 -> (N, classes) probabilities)."""
    views = tta_views(faces, mode)
    if len(views) == 1:
        return np.asarray(classify(views[0]), np.float32)
    probs = np.asarray(classify(np.concatenate(views)), np.float64)  # one batch: one forward pass, not one per view
    return probs.reshape(len(views), len(views[0]), -1).mean(0).astype(np.float32)
