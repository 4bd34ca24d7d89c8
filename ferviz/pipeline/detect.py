"""Face detectors: where the faces of an image are (boxes, confidences, landmarks).

Two detectors, registered in :data:`DETECTORS` under the names the CLI (``--detector``), the UI and
the tests share:

- ``yunet`` (default): a YuNet-family CNN from the ``yuface`` wheel (weights compiled in, nothing is
  downloaded). It gives a confidence in [0, 1] and five landmarks per face (both eyes, nose tip, both
  mouth corners); faces below ``min_confidence`` are dropped. The landmarks drive the alignment of
  :mod:`ferviz.pipeline.crop`.
- ``haar``: OpenCV's bundled Haar cascade (``haarcascade_frontalface_default.xml``). Its "confidence"
  is the number of raw detections merged into the box; it has no landmarks (its faces get the square
  box crop). It is also the fallback, with a one-line notice, when ``yuface`` cannot be imported.

Thread safety: the detectors are loaded lazily, once per process, and shared. Neither OpenCV's cascade
nor yuface promises thread safety, so every detection holds a module lock: the app's browser sessions
(separate threads) queue for the detector rather than each loading its own copy.

Coordinates are pixels of the searched array, (x, y) = (column, row) of the top-left corner. For a
:class:`ferviz.data.imageio.DecodedImage`, ``box.scaled(1 / decoded.scale)`` maps a box back to the
uploaded file. :func:`ferviz.pipeline.faces.find_faces` runs a detector and crops what it finds.
"""

import logging
import math
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from ferviz.errors import FervizError

log = logging.getLogger(__name__)

CASCADE_FILE = "haarcascade_frontalface_default.xml"
MIN_CONFIDENCE = 0.6  # default YuNet score below which a detection is not a face
_YUNET_MAX_SIDE = 960  # yuface's own advice: larger inputs degrade detection; boxes are mapped back
#: Smallest face (pixels, at the detection size) YuNet is asked to find. Faces under ``min_size_frac`` of
#: the shorter side are dropped anyway, so YuNet searches a copy whose shorter side is just large enough
#: for that smallest kept face to be this big: 12 / 0.03 = 400 px by default. A 512x512 photo is then
#: searched at 400x400 instead of full size (about 2.5x faster: bench/README.md) with no face lost
#: that would have been reported.
_YUNET_SMALLEST_FACE = 12
#: Images whose shorter side is below this are searched on an enlarged copy (cubic, shorter side this
#: long; boxes are mapped back): a small, tight face crop fills the whole frame, which YuNet misses at native
#: size. Measured on 300 FER2013 faces (tight 48x48 gray crops, `scripts/small_faces.py`): found in 80 %
#: at 48 px and 95 % at 100 px natively, 99 % of both enlarged to 200.
_YUNET_MIN_SEARCH_SIDE = 200
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

    Attributes
    ----------
    neighbours : int or None
        Haar only: raw cascade detections merged into the box (a confidence proxy).
    score : float or None
        YuNet only: the detector's confidence in [0, 1].
    landmarks : tuple of (x, y) or None
        YuNet only: five points in image pixels (two eyes, nose tip, two mouth corners).
    """

    x: int
    y: int
    w: int
    h: int
    neighbours: int | None = None
    score: float | None = None
    landmarks: tuple[tuple[float, float], ...] | None = None

    @property
    def confidence_text(self) -> str:
        """The detector's confidence in words: ``0.93`` (YuNet), ``12 hits`` (Haar) or ``""``."""
        if self.score is not None:
            return f"{self.score:.2f}"
        return f"{self.neighbours} hits" if self.neighbours is not None else ""

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
        points = (None if self.landmarks is None
                  else tuple((x * factor, y * factor) for x, y in self.landmarks))
        return replace(self, x=round(self.x * factor), y=round(self.y * factor),
                       w=max(1, round(self.w * factor)), h=max(1, round(self.h * factor)), landmarks=points)

    def eye_angle(self) -> float:
        """Degrees the line through the eyes is tilted from horizontal (0 without landmarks)."""
        if not self.landmarks:
            return 0.0
        (x1, y1), (x2, y2) = sorted(self.landmarks[:2])  # left-most eye first
        return float(np.degrees(np.arctan2(y2 - y1, x2 - x1)))


def _get_cascade() -> cv2.CascadeClassifier:
    """Load the bundled Haar cascade once; callers must hold ``_lock``."""
    global _cascade
    if _cascade is None:
        path = cv2.data.haarcascades + CASCADE_FILE
        cascade = cv2.CascadeClassifier(path)
        if cascade.empty():
            raise FervizError(f"cannot load OpenCV's face detector from {path}; "
                              "reinstall opencv-python-headless")
        _cascade = cascade
        log.debug("loaded Haar cascade %s", path)
    return _cascade


# ------------------------------------------------------------------------------------------ detectors


def _shrink(img: np.ndarray, max_side: int, min_side: int) -> tuple[np.ndarray, float]:
    """A copy at most ``max_side`` on its longer side (shorter side kept >= ``min_side``), and the factor."""
    return _scaled(img, min(1.0, max(max_side / max(img.shape[:2]), min_side / min(img.shape[:2]))))


def _enlarge(img: np.ndarray, min_side: int, max_side: int) -> tuple[np.ndarray, float]:
    """A copy whose shorter side is ``min_side`` (longer side at most ``max_side``; never smaller), and the factor."""
    return _scaled(img, max(1.0, min(min_side / min(img.shape[:2]), max_side / max(img.shape[:2]))))


def _scaled(img: np.ndarray, factor: float) -> tuple[np.ndarray, float]:
    """``img`` resized by ``factor`` (area averaging to shrink, cubic to enlarge; itself at 1), and the factor."""
    if factor == 1.0:
        return img, 1.0
    dsize = (max(1, round(img.shape[1] * factor)), max(1, round(img.shape[0] * factor)))
    return cv2.resize(img, dsize, interpolation=cv2.INTER_AREA if factor < 1.0 else cv2.INTER_CUBIC), factor


def _detect_haar(img: np.ndarray, gray: np.ndarray, min_size_frac: float, min_confidence: float,
                 max_side: int | None = None) -> tuple[list[FaceBox], bool]:
    """Run the cascade; returns boxes in ``gray``'s pixels and whether the image was too small."""
    window = 24  # the cascade's training window (getOriginalWindowSize)
    small, factor = _shrink(gray, min(_DETECT_MAX_SIDE, max_side or _DETECT_MAX_SIDE), window)
    if min(small.shape) < window:
        return [], True
    min_side = max(window, round(min_size_frac * min(small.shape)))
    equalised = cv2.equalizeHist(small)
    with _lock:
        rects, neighbours = _get_cascade().detectMultiScale2(
            equalised, scaleFactor=_SCALE_FACTOR, minNeighbors=_MIN_NEIGHBOURS,
            minSize=(min_side, min_side))
    boxes = [FaceBox(*map(int, r), neighbours=int(n))
             for r, n in zip(rects, np.ravel(neighbours), strict=True)]
    if factor < 1.0:
        boxes = [_clip_box(b.scaled(1.0 / factor), gray.shape) for b in boxes]
    return _suppress_overlaps(boxes), False


def _detect_yunet(img: np.ndarray, gray: np.ndarray, min_size_frac: float, min_confidence: float,
                  max_side: int | None = None) -> tuple[list[FaceBox], bool]:
    """Run yuface's YuNet on the colour image; boxes (with score and landmarks) in ``gray``'s pixels."""
    if min(gray.shape) < 24:
        return [], True
    colour = img if img.ndim == 3 and img.shape[2] >= 3 else np.repeat(gray[..., None], 3, axis=2)
    short, long = min(gray.shape), max(gray.shape)
    enough = math.ceil(_YUNET_SMALLEST_FACE / max(min_size_frac, 1e-6) * long / short)  # longer side needed
    cap = min(_YUNET_MAX_SIDE, max_side or _YUNET_MAX_SIDE)
    small, factor = _shrink(colour[:, :, :3], min(cap, enough), 24)
    if short < _YUNET_MIN_SEARCH_SIDE:
        small, more = _enlarge(small, _YUNET_MIN_SEARCH_SIDE, cap)
        factor *= more
    bgr = np.ascontiguousarray(small[:, :, ::-1])
    with _lock:
        rows = _yunet_rows(bgr)  # (N, 16): score*100, x, y, w, h, 5 x (x, y), -
    min_side = min_size_frac * min(small.shape[:2])
    boxes = []
    for row in rows:
        score, (x, y, w, h) = row[0] / 100.0, row[1:5]
        if score < min_confidence or w < 1 or h < 1 or max(w, h) < min_side:
            continue
        points = tuple((float(row[5 + 2 * k]), float(row[6 + 2 * k])) for k in range(5))
        box = FaceBox(int(x), int(y), int(w), int(h), score=float(score), landmarks=points)
        box = _clip_box(box.scaled(1.0 / factor) if factor != 1.0 else box, gray.shape)
        if box.w >= 1 and box.h >= 1:
            boxes.append(box)
    return _suppress_overlaps(boxes), False


_YUNET_BUFFER = 0x20000  # libfacedetection's result buffer: an int count, then 16 int16 per face
_yunet_fn = None


def _yunet_rows(bgr: np.ndarray) -> np.ndarray:
    """Every YuNet candidate of a C-contiguous BGR image as (N, 16) int64 rows (callers hold ``_lock``).

    The library in the ``yuface`` wheel is called directly, with a result buffer that Python owns:
    ``yuface.detect`` allocates a 36 KiB buffer per call and never frees it (a leak of ~20 MiB a
    minute on a live stream); ctypes also releases the GIL during the call. Where the library's
    symbol cannot be found, ``yuface.detect`` is used as it is.
    """
    global _yunet_fn
    if _yunet_fn is None:
        _yunet_fn = _load_yunet_library()
    if _yunet_fn is False:
        from yuface.yuface import detect

        return np.asarray(detect(bgr), dtype=np.int64).reshape(-1, 16)
    result = np.zeros(_YUNET_BUFFER, np.uint8)
    height, width = bgr.shape[:2]
    _yunet_fn(result.ctypes.data, bgr.ctypes.data, width, height, bgr.strides[0])
    n = int(result[:4].view(np.int32)[0])
    return result[4:4 + 32 * n].view(np.int16).reshape(n, 16).astype(np.int64)


def _load_yunet_library():
    """``facedetect_cnn`` of the wheel's libfacedetection via ctypes, or False where it cannot be found."""
    import ctypes

    import yuface

    try:
        lib = ctypes.CDLL(str(Path(yuface.__file__).parent / "libfacedetection.so"))
        # int* facedetect_cnn(unsigned char* result, unsigned char* bgr, int width, int height, int step)
        fn = lib._Z14facedetect_cnnPhS_iii
    except (OSError, AttributeError) as exc:
        log.warning("calling yuface's library directly failed (%s); using yuface.detect", exc)
        return False
    fn.restype = ctypes.POINTER(ctypes.c_int)
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int]
    return fn


def _yunet_available() -> bool:
    try:
        import yuface.yuface  # noqa: F401
    except ImportError:
        return False
    return True


#: Detector name -> function(image, gray, min_size_frac, min_confidence, max_side) -> (boxes, too_small).
DETECTORS = {"yunet": _detect_yunet, "haar": _detect_haar}
_warned: set[str] = set()


def default_detector() -> str:
    """``yunet`` when the ``yuface`` wheel imports, else ``haar``."""
    return "yunet" if _yunet_available() else "haar"


def resolve_detector(name: str | None) -> str:
    """The detector that will run for ``name``.

    Parameters
    ----------
    name : str or None
        A :data:`DETECTORS` key; None is :func:`default_detector`.

    Returns
    -------
    str
        ``name``, except that ``yunet`` becomes ``haar`` (with a one-time warning) when ``yuface``
        cannot be imported.

    Raises
    ------
    ValueError
        For an unknown detector name.
    """
    name = name or default_detector()
    if name not in DETECTORS:
        raise ValueError(f"unknown face detector {name!r}; choose one of {', '.join(DETECTORS)}")
    if name == "yunet" and not _yunet_available():
        if "yunet" not in _warned:
            _warned.add("yunet")
            log.warning("the yuface package cannot be imported; using the Haar cascade instead "
                        "(pip install yuface for the YuNet detector)")
        return "haar"
    return name


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
    """Greedy non-maximum suppression, strongest first (higher score or more neighbours, then larger)."""
    kept: list[FaceBox] = []
    for box in sorted(boxes, key=lambda b: (b.score or 0.0, b.neighbours or 0, b.area), reverse=True):
        overlaps = (_overlap(box, k) for k in kept)
        if all(iou <= _NMS_IOU and inside <= _NMS_CONTAINED for iou, inside in overlaps):
            kept.append(box)
    return kept


def _reading_order(boxes: list[FaceBox]) -> list[FaceBox]:
    """Rows top to bottom, each left to right (the rule is spelled out in :func:`ferviz.pipeline.faces.find_faces`)."""
    rows: list[list[FaceBox]] = []
    for box in sorted(boxes, key=lambda b: (b.center[1], b.x)):
        if rows and box.center[1] - rows[-1][0].center[1] <= max(rows[-1][0].h, box.h) / 2:
            rows[-1].append(box)
        else:
            rows.append([box])
    return [box for row in rows for box in sorted(row, key=lambda b: (b.x, b.y))]
