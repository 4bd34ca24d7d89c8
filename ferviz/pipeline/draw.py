"""Drawing faces on frames: boxes, track ids and labels (video), plus probability bars and maps (Live).

Frames are BGR (OpenCV's order); every function returns a copy or draws on a copy it made.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import cv2
import numpy as np

from ferviz.figures.labels import fit_scale, label_origins
from ferviz.pipeline.crop import alignment_matrix, can_align
from ferviz.pipeline.detect import FaceBox
from ferviz.pipeline.inference import FacePrediction

_BAR_COLOUR = (225, 225, 225)  # BGR: probability bars ...
_TOP_COLOUR = (178, 114, 0)  # ... and the bar of the top class (the app's primary colour, #0072B2)
_PANEL_COLOUR = (40, 40, 40)


def draw_faces(bgr: np.ndarray, faces: list[tuple]) -> np.ndarray:
    """A copy of a BGR frame with each ``(box, track id, label, confidence)`` drawn as a box and caption
    (captions placed together by :func:`~ferviz.figures.labels.label_origins`, so they do not cover each other)."""
    out = bgr.copy()
    thick = max(1, round(max(out.shape[:2]) / 400))
    captions = []  # (text, scale, (width, height) with padding, text height) per face
    for box, track, label, conf in faces:
        text = f"#{track} {label} {conf:.0%}"
        scale = max(0.4, box.w / 220)
        scale = fit_scale(cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)[0][0] + 2,
                          out.shape[1], scale)
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        captions.append((text, scale, (tw + 2, th + base + 2), th))
    corners = label_origins([(b.x, b.y, b.w, b.h) for b, *_ in faces], [c[2] for c in captions],
                            (out.shape[1], out.shape[0]))  # inside the frame, apart from each other
    for box, track, *_ in faces:  # every box first: no box is drawn over another face's caption
        cv2.rectangle(out, (box.x, box.y), (box.x + box.w, box.y + box.h), _colour(track), thick)
    for (_, track, *_), (text, scale, (w, h), th), corner in zip(faces, captions, corners, strict=True):
        left, top = (round(v) for v in corner)
        cv2.rectangle(out, (left, top), (left + w, top + h), _colour(track), -1)
        cv2.putText(out, text, (left + 1, top + th + 1), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255),
                    thick, cv2.LINE_AA)
    return out


def _colour(track: int) -> tuple[int, int, int]:
    """A distinct BGR colour per track id (golden-ratio hue steps)."""
    hue = int((track * 0.618033988749895 % 1.0) * 179)
    hsv = np.uint8([[[hue, 200, 220]]])
    b, g, r = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0]
    return int(b), int(g), int(r)


def _region(box: FaceBox, margin: float) -> tuple[int, int, int, int, int]:
    """The square a box crop covers (side ``max(w, h) * (1 + 2 margin)``): x0, y0, x1, y1, side."""
    side = max(1, round(max(box.w, box.h) * (1 + 2 * margin)))
    cx, cy = box.center
    x0, y0 = round(cx - side / 2), round(cy - side / 2)
    return x0, y0, x0 + side, y0 + side, side


def _map_patch(face: FacePrediction, shape: tuple[int, ...],
               margin: float) -> tuple[int, int, np.ndarray, np.ndarray] | None:
    """Where the face's map lands in a frame of ``shape``: x0, y0, the map there, and a mask of it."""
    heat = np.clip(face.overlay, 0, 1).astype(np.float32)
    h, w = shape[:2]
    if face.aligned and can_align(face.box):  # the crop was warped: warp the map back the same way
        size = heat.shape[0]
        to_crop = alignment_matrix(face.box.landmarks, size)
        back = cv2.invertAffineTransform(to_crop)
        corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], float) @ back[:, :2].T + back[:, 2]
        x0, y0 = max(math.floor(corners[:, 0].min()), 0), max(math.floor(corners[:, 1].min()), 0)
        x1, y1 = min(math.ceil(corners[:, 0].max()), w), min(math.ceil(corners[:, 1].max()), h)
        if x0 >= x1 or y0 >= y1:
            return None
        roi = to_crop.copy()
        roi[:, 2] += to_crop[:, :2] @ np.array([x0, y0], float)  # frame pixel (x0, y0) + q -> crop
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        patch = cv2.warpAffine(heat, roi, (x1 - x0, y1 - y0), flags=flags, borderValue=0)
        mask = cv2.warpAffine(np.ones_like(heat), roi, (x1 - x0, y1 - y0), flags=flags, borderValue=0) > 0.5
        return x0, y0, patch, mask
    x0, y0, x1, y1, side = _region(face.box, margin)
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if cx0 >= cx1 or cy0 >= cy1:
        return None
    scaled = cv2.resize(heat, (side, side), interpolation=cv2.INTER_LINEAR)
    patch = scaled[cy0 - y0: cy1 - y0, cx0 - x0: cx1 - x0]
    return cx0, cy0, patch, np.ones(patch.shape, bool)


def _blend_map(out: np.ndarray, face: FacePrediction, margin: float, alpha: float = 0.45) -> None:
    """Lay the face's map in [0, 1], colour-mapped, over the part of the frame its crop came from (in place)."""
    found = _map_patch(face, out.shape, margin)
    if found is None:
        return
    x0, y0, patch, mask = found
    colours = cv2.applyColorMap((patch * 255).astype(np.uint8), cv2.COLORMAP_JET)
    region = out[y0:y0 + patch.shape[0], x0:x0 + patch.shape[1]]
    mixed = cv2.addWeighted(region, 1 - alpha, colours, alpha, 0)
    region[mask] = mixed[mask]


def _draw_bars(out: np.ndarray, face: FacePrediction, labels: tuple[str, ...]) -> None:
    """A panel with one bar per class beside the face's box (right of it if it fits, else left), in place."""
    h, w = out.shape[:2]
    row = max(11, round(h / 40))
    scale = row / 30
    text_w = max(cv2.getTextSize(name, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] for name in labels)
    bar_w = 4 * row
    pw, ph = text_w + bar_w + 9, row * len(labels) + 4
    box = face.box
    x = box.x + box.w + 4 if box.x + box.w + 4 + pw <= w else box.x - 4 - pw
    x = min(max(x, 0), max(w - pw, 0))
    y = min(max(box.y, 0), max(h - ph, 0))
    cv2.rectangle(out, (x, y), (x + pw, y + ph), _PANEL_COLOUR, -1)
    probs = [face.probs.get(name, 0.0) for name in labels]
    top = int(np.argmax(probs))
    for k, (name, p) in enumerate(zip(labels, probs, strict=True)):
        base = y + 2 + k * row
        cv2.putText(out, name, (x + 3, base + row - 3), cv2.FONT_HERSHEY_SIMPLEX, scale, _BAR_COLOUR, 1,
                    cv2.LINE_AA)
        length = round(bar_w * min(max(p, 0.0), 1.0))
        if length > 0:
            bx = x + text_w + 6
            cv2.rectangle(out, (bx, base + 2), (bx + length, base + row - 2),
                          _TOP_COLOUR if k == top else _BAR_COLOUR, -1)


def draw_live(bgr: np.ndarray, faces: Iterable[FacePrediction], labels: Iterable[str], *, bars: bool = True,
              margin: float = 0.15) -> np.ndarray:
    """A copy of a BGR frame with each face's overlay, box, track id, label and probability bars drawn.

    Parameters
    ----------
    bgr : (H, W, 3) uint8 ndarray
        The frame (not modified).
    faces : iterable of FacePrediction
        Boxes in the frame's pixels.
    labels : iterable of str
        The model's classes, in the order of each face's ``probs``.
    bars : bool
        Draw the probability panel of each face.
    margin : float
        The crop margin of the model's preprocessing (where the overlay of a box crop is laid; an aligned
        crop's overlay is warped back through its alignment).

    Returns
    -------
    (H, W, 3) uint8 ndarray
    """
    faces, labels = list(faces), tuple(labels)
    base = bgr
    if any(f.overlay is not None for f in faces):
        base = bgr.copy()
        for f in faces:
            if f.overlay is not None:
                _blend_map(base, f, margin)
    out = draw_faces(base, [(f.box, f.track_id, f.label, f.confidence) for f in faces])
    if bars:
        for f in faces:
            _draw_bars(out, f, labels)
    return out
