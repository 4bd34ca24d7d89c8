"""Face detection and cropping: the preprocessing of docs/DESIGN.md section 1.

Two detectors, registered in :data:`DETECTORS` under the names the CLI (``--detector``), the UI and
the tests share:

- ``yunet`` (default): a YuNet-family CNN from the ``yuface`` wheel (weights compiled in, nothing is
  downloaded). It gives a confidence in [0, 1] and five landmarks per face (both eyes, nose tip, both
  mouth corners); faces below ``min_confidence`` are dropped.
- ``haar``: OpenCV's bundled Haar cascade (``haarcascade_frontalface_default.xml``). Its "confidence"
  is the number of raw detections merged into the box; it has no landmarks. It is also the fallback,
  with a one-line notice, when ``yuface`` cannot be imported.

Each face is cropped with a margin (optionally rotated so that the eyes are level, when landmarks
exist), converted to grayscale (ITU-R BT.601 weights 0.299 R + 0.587 G + 0.114 B) and resized to
``size x size`` (64x64 by default). When no face is found the result has **no face** and says so;
classifying the centre square anyway is an explicit choice (``fallback="centre"``), and that crop is
marked as a fallback, never as a face.

Thread safety: the detectors are loaded lazily, once per process, and shared. Neither OpenCV's cascade
nor yuface promises thread safety, so every detection holds a module lock: the app's browser sessions
(separate threads) queue for the detector rather than each loading its own copy.

Coordinates are pixels of the array given to :func:`find_faces`, (x, y) = (column, row) of the top-left
corner. For a :class:`ferviz.data.imageio.DecodedImage`, ``box.scaled(1 / decoded.scale)`` maps a box back to
the uploaded file.
"""

import logging
import math
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from ferviz.data.preprocess import resize_square
from ferviz.errors import FervizError, ImageError

log = logging.getLogger(__name__)

CASCADE_FILE = "haarcascade_frontalface_default.xml"
NO_FACE_MESSAGE = "No face found"
FALLBACKS = ("none", "centre")  # what to do when no face is found: nothing, or the centre square
MIN_CONFIDENCE = 0.6  # default YuNet score below which a detection is not a face
_YUNET_MAX_SIDE = 960  # yuface's own advice: larger inputs degrade detection; boxes are mapped back
#: Smallest face (pixels, at the detection size) YuNet is asked to find. Faces under ``min_size_frac`` of
#: the shorter side are dropped anyway, so YuNet searches a copy whose shorter side is just large enough
#: for that smallest kept face to be this big: 12 / 0.03 = 400 px by default. A 512x512 photo is then
#: searched at 400x400 instead of full size (about 2.5x faster: bench/README.md) with no face lost
#: that would have been reported.
_YUNET_SMALLEST_FACE = 12
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


@dataclass(frozen=True)
class FaceOptions:
    """How faces are found: the choices the CLI flags, the sidebar and the tests share.

    Attributes
    ----------
    detector : str or None
        A :data:`DETECTORS` key; None is :func:`default_detector`.
    min_confidence : float
        YuNet score below which a detection is dropped.
    fallback : {"none", "centre"}
        No face found: no label at all (default), or the centre square, labelled as a centre crop.
    align : bool
        Level the eyes before cropping (YuNet landmarks).
    max_faces : int
        The largest this many faces are kept.
    """

    detector: str | None = None
    min_confidence: float = MIN_CONFIDENCE
    fallback: str = "none"
    align: bool = False
    max_faces: int = 20

    def kwargs(self) -> dict:
        """Keyword arguments of :func:`find_faces`."""
        return {"detector": self.detector, "min_confidence": self.min_confidence, "fallback": self.fallback,
                "align": self.align, "max_faces": self.max_faces}


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
        The faces, in reading order; empty when none was found, unless the centre-square fallback
        was asked for (then one :class:`Face` with ``fallback=True``).
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
    detector : str
        The :data:`DETECTORS` key that searched (``haar`` when ``yunet`` was asked for but unavailable).
    """

    faces: tuple[Face, ...]
    fallback: bool
    message: str | None
    capped: bool
    n_found: int
    image_size: tuple[int, int]
    detector: str = "haar"


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


def to_gray(img: np.ndarray) -> np.ndarray:
    """Convert an image to grayscale with the ITU-R BT.601 weights (0.299, 0.587, 0.114).

    Parameters
    ----------
    img : (H, W) or (H, W, C) uint8 ndarray
        Gray (C = 1), RGB (C = 3) or RGBA (C = 4, alpha ignored), channels in RGB order.

    Returns
    -------
    (H, W) uint8 ndarray
        C-contiguous.

    Raises
    ------
    ImageError
        For another dtype or shape, or an image without pixels.
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
        raise ImageError("expected an (H, W) gray or (H, W, 3) RGB image with H, W >= 1, "
                         f"got shape {img.shape}")
    return img


def _center_square_box(height: int, width: int) -> FaceBox:
    """The largest centred square of a ``height x width`` image."""
    side = min(height, width)
    return FaceBox((width - side) // 2, (height - side) // 2, side, side)


def center_square(img: np.ndarray, size: int = 64) -> np.ndarray:
    """Grayscale centre square of ``img``, resized to ``(size, size)`` uint8 (the no-face fallback).

    Parameters
    ----------
    img : (H, W) or (H, W, C) uint8 ndarray
        Any array :func:`to_gray` accepts; the square's side is ``min(H, W)``.
    size : int
        Side of the output.

    Returns
    -------
    (size, size) uint8 ndarray
    """
    gray = to_gray(img)
    box = _center_square_box(*gray.shape)
    return resize_square(gray[box.y: box.y + box.h, box.x: box.x + box.w], size)


def crop_face(img: np.ndarray, box: FaceBox, size: int = 64, margin: float = 0.15,
              angle: float = 0.0) -> np.ndarray:
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
    angle : float
        Degrees to turn the face about the box centre before cutting (``box.eye_angle()`` levels the
        eyes); 0 cuts the upright square.

    Returns
    -------
    (size, size) uint8 ndarray

    Raises
    ------
    ValueError
        For an empty box, one off the image, or ``margin < 0``.
    """
    if margin < 0 or box.w < 1 or box.h < 1:
        raise ValueError(f"need margin >= 0 and a non-empty box, got margin={margin}, box={box}")
    gray = to_gray(img)
    height, width = gray.shape
    cx, cy = box.center
    side = max(1, round(max(box.w, box.h) * (1 + 2 * margin)))
    if angle:
        if box.x >= width or box.y >= height or box.x + box.w <= 0 or box.y + box.h <= 0:
            raise ValueError(f"box {box} lies outside the {width}x{height} image")
        turn = cv2.getRotationMatrix2D((cx, cy), angle, 1.0)  # (2, 3): rotate about the box centre ...
        turn[:, 2] += (side / 2 - cx, side / 2 - cy)  # ... and move that centre to the square's centre
        square = cv2.warpAffine(gray, turn, (side, side), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REPLICATE)
        return resize_square(square, size)
    x0, y0 = round(cx - side / 2), round(cy - side / 2)
    x1, y1 = x0 + side, y0 + side
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if cx0 >= cx1 or cy0 >= cy1:
        raise ValueError(f"box {box} lies outside the {width}x{height} image")
    inside = gray[cy0:cy1, cx0:cx1]
    square = cv2.copyMakeBorder(inside, cy0 - y0, y1 - cy1, cx0 - x0, x1 - cx1, cv2.BORDER_REPLICATE)
    return resize_square(square, size)


def find_faces(rgb: np.ndarray, *, size: int = 64, margin: float = 0.15, max_faces: int = 20,
               min_size_frac: float = 0.03, detector: str | None = None,
               min_confidence: float = MIN_CONFIDENCE, fallback: str = "none",
               align: bool = False, detect_side: int | None = None) -> FaceSearch:
    """Detect faces and return one ``(size, size)`` grayscale crop per face (docs/DESIGN.md section 1).

    Detection runs on a downscaled copy (Haar: histogram-equalised gray, at most 1280 pixels on the
    longer side; YuNet: colour, just large enough for a face of ``min_size_frac`` to be 12 pixels, at
    most 960); boxes are mapped back and crops are taken from the
    full-resolution grayscale image. Overlapping boxes are suppressed (IoU above 0.3, or 60% of the
    weaker box inside the stronger, keeping the more confident box). If more than ``max_faces``
    remain, the largest are kept. Faces are then put in reading order: sorted by centre height, a face
    starts a new row when its centre is lower than the row's first face's centre by more than half
    the taller of the two faces; rows go top to bottom and each row left to right (by ``x``).

    Parameters
    ----------
    rgb : (H, W, 3) or (H, W) uint8 ndarray
        The image (RGB order), any size from 1x1; images smaller than 24x24 are not searched.
    size : int
        Side of each crop.
    margin : float
        Context added around each box, as a fraction of its side (see :func:`crop_face`).
    max_faces : int
        At most this many faces are returned (the largest).
    min_size_frac : float
        Smallest face searched for, as a fraction of the image's shorter side (Haar never goes
        below its 24-pixel window at the detection resolution).
    detector : str, optional
        A :data:`DETECTORS` key; default :func:`default_detector` (``yunet`` when installed).
    min_confidence : float
        YuNet detections scoring below this are not faces (ignored by Haar).
    fallback : {"none", "centre"}
        When no face is found: return no face (default), or the centre square marked as a fallback.
    align : bool
        Turn each face so that its eyes are level before cropping (needs landmarks: YuNet).
    detect_side : int, optional
        Detect on a copy at most this many pixels on its longer side (below the detectors' own caps):
        faster on video frames, at the cost of faces smaller than about 10 pixels at that size. Crops
        are still taken from the full-resolution image.

    Returns
    -------
    FaceSearch

    Raises
    ------
    ImageError
        When ``rgb`` is not a uint8 image array.
    ValueError
        For ``max_faces < 1``, an unknown detector or fallback.
    """
    if max_faces < 1:
        raise ValueError(f"max_faces must be at least 1, got {max_faces}")
    if detect_side is not None and detect_side < 32:
        raise ValueError(f"detect_side must be at least 32 pixels, got {detect_side}")
    if fallback not in FALLBACKS:
        raise ValueError(f"unknown fallback {fallback!r}; choose one of {', '.join(FALLBACKS)}")
    name = resolve_detector(detector)
    img = _checked_image(rgb)
    gray = to_gray(img)
    height, width = gray.shape
    boxes, too_small = DETECTORS[name](img, gray, min_size_frac, min_confidence, detect_side)
    if not boxes:
        return _no_face_search(gray, size, too_small, fallback, name)
    n_found = len(boxes)
    capped = n_found > max_faces
    kept = _reading_order(sorted(boxes, key=lambda b: b.area, reverse=True)[:max_faces])
    faces = tuple(Face(box, crop_face(gray, box, size, margin, box.eye_angle() if align else 0.0), False, i)
                  for i, box in enumerate(kept))
    message = f"Found {n_found} faces; showing the {max_faces} largest" if capped else None
    return FaceSearch(faces, False, message, capped, n_found, (width, height), name)


def _no_face_search(gray: np.ndarray, size: int, too_small: bool, fallback: str,
                    detector: str) -> FaceSearch:
    """The no-face result: nothing, or the centre square when asked, with a message saying why."""
    height, width = gray.shape
    if too_small:
        message = (f"The image ({width}x{height} pixels) is too small to search for faces "
                   "(at least 24x24 is needed)")
    else:
        message = NO_FACE_MESSAGE
    if fallback == "none":
        return FaceSearch((), False, message, False, 0, (width, height), detector)
    face = Face(_center_square_box(height, width), center_square(gray, size), True, 0)
    message = f"{message}; classifying the centre square of the image instead (not a detected face)"
    return FaceSearch((face,), True, message, False, 0, (width, height), detector)


# ------------------------------------------------------------------------------------------ detectors


def _shrink(img: np.ndarray, max_side: int, min_side: int) -> tuple[np.ndarray, float]:
    """A copy at most ``max_side`` on its longer side (shorter side kept >= ``min_side``), and the factor."""
    factor = min(1.0, max(max_side / max(img.shape[:2]), min_side / min(img.shape[:2])))
    if factor >= 1.0:
        return img, 1.0
    dsize = (max(1, round(img.shape[1] * factor)), max(1, round(img.shape[0] * factor)))
    return cv2.resize(img, dsize, interpolation=cv2.INTER_AREA), factor


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
    small, factor = _shrink(colour[:, :, :3], min(_YUNET_MAX_SIDE, max_side or _YUNET_MAX_SIDE, enough), 24)
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
        box = _clip_box(box.scaled(1.0 / factor) if factor < 1.0 else box, gray.shape)
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
    """Rows top to bottom, each left to right (the rule is spelled out in :func:`find_faces`)."""
    rows: list[list[FaceBox]] = []
    for box in sorted(boxes, key=lambda b: (b.center[1], b.x)):
        if rows and box.center[1] - rows[-1][0].center[1] <= max(rows[-1][0].h, box.h) / 2:
            rows[-1].append(box)
        else:
            rows.append([box])
    return [box for row in rows for box in sorted(row, key=lambda b: (b.x, b.y))]
