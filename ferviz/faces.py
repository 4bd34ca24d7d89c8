"""Face detection and cropping: the preprocessing of METHOD.md section 1.

Detect faces with OpenCV's bundled Haar cascade (``haarcascade_frontalface_default.xml``, shipped
inside ``opencv-python``; nothing is downloaded), crop each with a margin, convert to grayscale
(ITU-R BT.601 weights 0.299 R + 0.587 G + 0.114 B) and resize to ``size x size`` (64x64 by default).
When no face is found, the centre square of the whole image is used and the result says so.

Thread safety: one classifier is loaded lazily, once per process, and shared. OpenCV does not promise
that ``CascadeClassifier.detectMultiScale`` is safe on one object from several threads, so every call
holds a module lock: the app's browser sessions (separate threads) queue for the detector, well under a
second per image at the working resolution, rather than each loading its own copy.

Coordinates are pixels of the array given to :func:`find_faces`, (x, y) = (column, row) of the top-left
corner. For a :class:`ferviz.imageio.DecodedImage`, ``box.scaled(1 / decoded.scale)`` maps a box back to
the uploaded file.
"""

import logging
import threading
from dataclasses import dataclass, replace

import cv2
import numpy as np

from ferviz.errors import FervizError, ImageError
from ferviz.preprocess import resize_square

log = logging.getLogger(__name__)

CASCADE_FILE = "haarcascade_frontalface_default.xml"
NO_FACE_MESSAGE = "No face found; using the centre square of the image"
_SCALE_FACTOR = 1.1  # image pyramid step of the cascade search
_MIN_NEIGHBOURS = 5  # raw detections that must agree for a box to be kept
_DETECT_MAX_SIDE = 1280  # detection runs on a copy at most this large; boxes are mapped back
_NMS_IOU = 0.3  # boxes overlapping a stronger one by more than this IoU are dropped ...
_NMS_CONTAINED = 0.6  # ... and so are boxes whose area lies this much inside a stronger one

_lock = threading.Lock()
_cascade: cv2.CascadeClassifier | None = None


@dataclass(frozen=True)
class FaceBox:
    """A face rectangle: top-left corner ``(x, y)``, width ``w`` and height ``h`` in pixels.

    ``neighbours``: raw cascade detections merged into the box (a confidence proxy; None for the fallback).
    """

    x: int
    y: int
    w: int
    h: int
    neighbours: int | None = None

    @property
    def area(self) -> int:
        """``w * h`` in square pixels."""
        return self.w * self.h

    @property
    def center(self) -> tuple[float, float]:
        """``(x, y)`` of the box centre."""
        return self.x + self.w / 2, self.y + self.h / 2

    def scaled(self, factor: float) -> "FaceBox":
        """The box with every coordinate multiplied by ``factor`` (rounded; sides at least 1)."""
        return replace(self, x=round(self.x * factor), y=round(self.y * factor),
                       w=max(1, round(self.w * factor)), h=max(1, round(self.h * factor)))


@dataclass(frozen=True, eq=False)
class Face:
    """One face ready for the model.

    Attributes
    ----------
    box : FaceBox
        Where it is in the image (the centre square for the fallback).
    crop64 : (size, size) uint8 ndarray
        Grayscale crop, 64x64 with the default ``size``.
    fallback : bool
        True when no face was detected and ``crop64`` is the centre square of the image.
    index : int
        Position in :attr:`FaceSearch.faces` (reading order, see :func:`find_faces`).
    """

    box: FaceBox
    crop64: np.ndarray
    fallback: bool
    index: int


@dataclass(frozen=True, eq=False)
class FaceSearch:
    """What :func:`find_faces` found.

    Attributes
    ----------
    faces : tuple of Face
        At least one face (the fallback when nothing was detected), in reading order.
    fallback : bool
        True when no face was detected and the centre square is used.
    message : str or None
        A sentence for the user when something needs saying (fallback, cap), else None.
    capped : bool
        True when more than ``max_faces`` faces were found and only the largest were kept.
    n_found : int
        Faces detected after overlap suppression, before the cap (0 for the fallback).
    image_size : tuple of int
        ``(width, height)`` of the searched image.
    """

    faces: tuple[Face, ...]
    fallback: bool
    message: str | None
    capped: bool
    n_found: int
    image_size: tuple[int, int]


def _get_cascade() -> cv2.CascadeClassifier:
    """Load the bundled Haar cascade once; callers must hold ``_lock``."""
    global _cascade
    if _cascade is None:
        path = cv2.data.haarcascades + CASCADE_FILE
        cascade = cv2.CascadeClassifier(path)
        if cascade.empty():
            raise FervizError(f"cannot load OpenCV's face detector from {path}; reinstall opencv-python-headless")
        _cascade = cascade
        log.debug("loaded Haar cascade %s", path)
    return _cascade


def to_gray(img: np.ndarray) -> np.ndarray:
    """Convert an image to grayscale with the ITU-R BT.601 weights (0.299, 0.587, 0.114).

    Parameters
    ----------
    img : (H, W) or (H, W, C) uint8 ndarray
        Gray (C = 1), RGB (C = 3) or RGBA (C = 4, alpha ignored), channels in RGB order.

    Returns
    -------
    (H, W) uint8 ndarray, C-contiguous. Raises ImageError for another dtype or shape, or no pixels.
    """
    img = _checked_image(img)
    if img.ndim == 2:
        return np.ascontiguousarray(img)
    if img.shape[2] == 1:
        return np.ascontiguousarray(img[:, :, 0])
    return cv2.cvtColor(np.ascontiguousarray(img[:, :, :3]), cv2.COLOR_RGB2GRAY)


def _checked_image(img: np.ndarray) -> np.ndarray:
    """Refuse arrays that are not non-empty uint8 (H, W), (H, W, 1), (H, W, 3) or (H, W, 4)."""
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8:
        what = img.dtype if isinstance(img, np.ndarray) else type(img).__name__
        raise ImageError(f"expected a uint8 image array (values 0-255), got {what}")
    if not (img.ndim == 2 or (img.ndim == 3 and img.shape[2] in (1, 3, 4))) or img.size == 0:
        raise ImageError(f"expected an (H, W) gray or (H, W, 3) RGB image with H, W >= 1, got shape {img.shape}")
    return img


def _center_square_box(height: int, width: int) -> FaceBox:
    """The largest centred square of a ``height x width`` image."""
    side = min(height, width)
    return FaceBox((width - side) // 2, (height - side) // 2, side, side)


def center_square(img: np.ndarray, size: int = 64) -> np.ndarray:
    """Grayscale centre square of ``img``, resized to ``(size, size)`` uint8 (the no-face fallback).

    ``img`` is any array :func:`to_gray` accepts; the square's side is ``min(H, W)``.
    """
    gray = to_gray(img)
    box = _center_square_box(*gray.shape)
    return resize_square(gray[box.y: box.y + box.h, box.x: box.x + box.w], size)


def crop_face(img: np.ndarray, box: FaceBox, size: int = 64, margin: float = 0.15) -> np.ndarray:
    """Cut a square grayscale crop around ``box`` and resize it to ``(size, size)``.

    The square is centred on the box, with side ``max(w, h) * (1 + 2 * margin)``. The part of it
    inside the image is cut out; where it sticks out of the image the image's edge pixels are
    replicated (``cv2.BORDER_REPLICATE``), so the crop stays square and the face stays centred.

    Parameters
    ----------
    img : (H, W) or (H, W, 3) uint8 ndarray
        Gray or RGB image (converted with :func:`to_gray`).
    box : FaceBox
        Face rectangle in ``img``'s pixels; it must overlap the image.
    size : int
        Side of the output.
    margin : float
        Extra context on each side, as a fraction of the box's longer side (>= 0).

    Returns
    -------
    (size, size) uint8 ndarray. Raises ValueError for an empty box, one off the image, or ``margin < 0``.
    """
    if margin < 0 or box.w < 1 or box.h < 1:
        raise ValueError(f"need margin >= 0 and a non-empty box, got margin={margin}, box={box}")
    gray = to_gray(img)
    height, width = gray.shape
    cx, cy = box.center
    side = max(1, round(max(box.w, box.h) * (1 + 2 * margin)))
    x0, y0 = round(cx - side / 2), round(cy - side / 2)
    x1, y1 = x0 + side, y0 + side
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if cx0 >= cx1 or cy0 >= cy1:
        raise ValueError(f"box {box} lies outside the {width}x{height} image")
    inside = gray[cy0:cy1, cx0:cx1]
    square = cv2.copyMakeBorder(inside, cy0 - y0, y1 - cy1, cx0 - x0, x1 - cx1, cv2.BORDER_REPLICATE)
    return resize_square(square, size)


def find_faces(rgb: np.ndarray, *, size: int = 64, margin: float = 0.15, max_faces: int = 20,
               min_size_frac: float = 0.03) -> FaceSearch:
    """Detect faces and return one ``(size, size)`` grayscale crop per face (METHOD.md section 1).

    Detection runs on the grayscale image, histogram-equalised for the detector only (the crops
    are taken from the plain grayscale image), downscaled to at most 1280 pixels on the longer side.
    Overlapping boxes are suppressed (IoU above 0.3, or 60% of the weaker box inside the stronger,
    keeping the box with more cascade neighbours). If more than ``max_faces`` remain, the largest are
    kept. Faces are then put in reading order: sorted by centre height, a face starts a new row
    when its centre is lower than the row's first face's centre by more than half that face's
    height; rows go top to bottom and each row left to right (by ``x``).

    Parameters
    ----------
    rgb : (H, W, 3) or (H, W) uint8 ndarray
        The image (RGB order), any size from 1x1; images smaller than the detector's 24x24 window
        skip detection and use the fallback.
    size : int
        Side of each crop.
    margin : float
        Context added around each box, as a fraction of its side (see :func:`crop_face`).
    max_faces : int
        At most this many faces are returned (the largest).
    min_size_frac : float
        Smallest face searched for, as a fraction of the image's shorter side (never below the
        cascade's 24-pixel window at the detection resolution).

    Returns
    -------
    FaceSearch

    Raises
    ------
    ImageError
        When ``rgb`` is not a uint8 image array.
    """
    if max_faces < 1:
        raise ValueError(f"max_faces must be at least 1, got {max_faces}")
    gray = to_gray(rgb)
    height, width = gray.shape
    boxes, too_small = _detect(gray, min_size_frac)
    if not boxes:
        return _fallback_search(gray, size, too_small)
    n_found = len(boxes)
    capped = n_found > max_faces
    kept = _reading_order(sorted(boxes, key=lambda b: b.area, reverse=True)[:max_faces])
    faces = tuple(Face(box, crop_face(gray, box, size, margin), False, i) for i, box in enumerate(kept))
    message = f"Found {n_found} faces; showing the {max_faces} largest" if capped else None
    return FaceSearch(faces, False, message, capped, n_found, (width, height))


def _fallback_search(gray: np.ndarray, size: int, too_small: bool) -> FaceSearch:
    """The no-face result: the centre square, with a message saying why."""
    height, width = gray.shape
    if too_small:
        message = (f"The image ({width}x{height} pixels) is too small to search for faces (at least 24x24 "
                   "is needed); using the centre square of the image")
    else:
        message = NO_FACE_MESSAGE
    face = Face(_center_square_box(height, width), center_square(gray, size), True, 0)
    return FaceSearch((face,), True, message, False, 0, (width, height))


def _detect(gray: np.ndarray, min_size_frac: float) -> tuple[list[FaceBox], bool]:
    """Run the cascade; returns boxes in ``gray``'s pixels and whether the image was too small."""
    window = 24  # the cascade's training window (getOriginalWindowSize)
    # shrink to _DETECT_MAX_SIDE, but never the shorter side below the window (long thin images)
    factor = min(1.0, max(_DETECT_MAX_SIDE / max(gray.shape), window / min(gray.shape)))
    small = gray
    if factor < 1.0:
        dsize = (max(1, round(gray.shape[1] * factor)), max(1, round(gray.shape[0] * factor)))
        small = cv2.resize(gray, dsize, interpolation=cv2.INTER_AREA)
    if min(small.shape) < window:
        return [], True
    min_side = max(window, round(min_size_frac * min(small.shape)))
    equalised = cv2.equalizeHist(small)
    with _lock:
        rects, neighbours = _get_cascade().detectMultiScale2(
            equalised, scaleFactor=_SCALE_FACTOR, minNeighbors=_MIN_NEIGHBOURS, minSize=(min_side, min_side))
    boxes = [FaceBox(*map(int, r), neighbours=int(n)) for r, n in zip(rects, np.ravel(neighbours), strict=True)]
    if factor < 1.0:
        boxes = [_clip_box(b.scaled(1.0 / factor), gray.shape) for b in boxes]
    return _suppress_overlaps(boxes), False


def _clip_box(box: FaceBox, shape: tuple[int, ...]) -> FaceBox:
    """Keep a rescaled box inside an image of ``shape`` (rounding can push it one pixel out)."""
    x, y = min(max(box.x, 0), shape[1] - 1), min(max(box.y, 0), shape[0] - 1)
    return replace(box, x=x, y=y, w=max(1, min(box.w, shape[1] - x)), h=max(1, min(box.h, shape[0] - y)))


def _overlap(a: FaceBox, b: FaceBox) -> tuple[float, float]:
    """``(IoU, intersection / smaller area)`` of two boxes."""
    iw = max(0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
    ih = max(0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
    inter = iw * ih
    return inter / (a.area + b.area - inter), inter / min(a.area, b.area)


def _suppress_overlaps(boxes: list[FaceBox]) -> list[FaceBox]:
    """Greedy non-maximum suppression, strongest first (more neighbours, then larger)."""
    kept: list[FaceBox] = []
    for box in sorted(boxes, key=lambda b: (b.neighbours or 0, b.area), reverse=True):
        if all(iou <= _NMS_IOU and inside <= _NMS_CONTAINED for iou, inside in (_overlap(box, k) for k in kept)):
            kept.append(box)
    return kept


def _reading_order(boxes: list[FaceBox]) -> list[FaceBox]:
    """Rows top to bottom, each left to right (the rule is spelled out in :func:`find_faces`)."""
    rows: list[list[FaceBox]] = []
    for box in sorted(boxes, key=lambda b: (b.center[1], b.x)):
        if rows and box.center[1] - rows[-1][0].center[1] <= rows[-1][0].h / 2:
            rows[-1].append(box)
        else:
            rows.append([box])
    return [box for row in rows for box in sorted(row, key=lambda b: (b.x, b.y))]
