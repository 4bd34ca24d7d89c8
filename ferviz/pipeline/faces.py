"""Find the faces of an image and cut each one for the model: detection (:mod:`ferviz.pipeline.detect`)
then the one crop policy (:mod:`ferviz.pipeline.crop`).

Each face is cut by :func:`ferviz.pipeline.crop.face_crop`: aligned on YuNet's landmarks by default (eyes
level and where FER2013's faces have them), the square box crop with a margin where there are no
landmarks (Haar) or alignment is turned off (``align=False``, ``--no-align``). Crops keep the image's
colour; :attr:`Face.crop64` is the grayscale view. When no face is found the result has **no face** and
says so; classifying the centre square anyway is an explicit choice (``fallback="centre"``), and that crop
is marked as a fallback, never as a face.

:func:`aligned_crops` is the batch helper of the training code (photo datasets such as UTKFace): detect
and align every image of a stack.

The names other modules import from here (``FaceBox``, ``DETECTORS``, ``to_gray``, ``crop_face`` ...) are
re-exported from :mod:`ferviz.pipeline.detect` and :mod:`ferviz.pipeline.crop`.
"""

import logging
from dataclasses import dataclass

import numpy as np

from ferviz.pipeline.crop import (  # noqa: F401 - re-exported
    FER_TEMPLATE,
    _checked_image,
    align_face,
    alignment_matrix,
    can_align,
    center_square,
    center_square_box,
    crop_face,
    face_crop,
    model_crops,
    to_gray,
)
from ferviz.pipeline.detect import (  # noqa: F401 - re-exported
    DETECTORS,
    MIN_CONFIDENCE,
    FaceBox,
    _reading_order,
    default_detector,
    resolve_detector,
)

log = logging.getLogger(__name__)

NO_FACE_MESSAGE = "No face found"
FALLBACKS = ("none", "centre")  # what to do when no face is found: nothing, or the centre square


@dataclass(frozen=True)
class FaceOptions:
    """How faces are found and cut: the choices the CLI flags, the sidebar and the tests share.

    Attributes
    ----------
    detector : str or None
        A :data:`DETECTORS` key; None is :func:`default_detector`.
    min_confidence : float
        YuNet score below which a detection is dropped.
    fallback : {"none", "centre"}
        No face found: no label at all (default), or the centre square, labelled as a centre crop.
    align : bool
        Align each face on its landmarks (eyes level, FER2013 framing; default). Faces without landmarks
        (Haar) get the box crop whatever this says.
    max_faces : int
        The largest this many faces are kept.
    """

    detector: str | None = None
    min_confidence: float = MIN_CONFIDENCE
    fallback: str = "none"
    align: bool = True
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
    crop : (size, size, 3) or (size, size) uint8 ndarray
        The crop, in colour when the image has colour (:func:`ferviz.pipeline.crop.face_crop`).
    fallback : bool
        True when no face was detected and ``crop`` is the centre square of the image.
    index : int
        Position in :attr:`FaceSearch.faces` (reading order, see :func:`find_faces`).
    aligned : bool
        True when the crop was aligned on the landmarks (False: the box crop).
    """

    box: FaceBox
    crop: np.ndarray
    fallback: bool
    index: int
    aligned: bool = False

    @property
    def crop64(self) -> np.ndarray:
        """The crop in grayscale, (size, size) uint8 (64x64 with the default size)."""
        return to_gray(self.crop)


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


def find_faces(rgb: np.ndarray, *, size: int = 64, margin: float = 0.15, max_faces: int = 20,
               min_size_frac: float = 0.03, detector: str | None = None,
               min_confidence: float = MIN_CONFIDENCE, fallback: str = "none",
               align: bool = True, detect_side: int | None = None) -> FaceSearch:
    """Detect faces and return one ``(size, size)`` crop per face (docs/DESIGN.md section 1).

    Detection runs on a downscaled copy (Haar: histogram-equalised gray, at most 1280 pixels on the
    longer side; YuNet: colour, just large enough for a face of ``min_size_frac`` to be 12 pixels, at
    most 960, and enlarged to a shorter side of 200 when the image is smaller, where a tight face crop
    is otherwise often missed); boxes are mapped back and crops are taken from the full-resolution
    image (colour kept) by :func:`ferviz.pipeline.crop.face_crop`. Overlapping boxes are suppressed
    (IoU above 0.3, or 60% of the weaker box inside the stronger, keeping the more confident box). If
    more than ``max_faces`` remain, the largest are kept. Faces are then put in reading order: sorted
    by centre height, a face starts a new row when its centre is lower than the row's first face's
    centre by more than half the taller of the two faces; rows go top to bottom and each row left to
    right (by ``x``).

    Parameters
    ----------
    rgb : (H, W, 3) or (H, W) uint8 ndarray
        The image (RGB order), any size from 1x1; images smaller than 24x24 are not searched.
    size : int
        Side of each crop.
    margin : float
        Box crops: context added around each box, as a fraction of its side (see :func:`crop_face`).
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
        Align each face on its landmarks (default; YuNet): eyes level and where FER2013's faces have
        them (:func:`ferviz.pipeline.crop.align_face`). Without landmarks (Haar) or with False: the box
        crop.
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
        return _no_face_search(img, size, too_small, fallback, name)
    n_found = len(boxes)
    capped = n_found > max_faces
    kept = _reading_order(sorted(boxes, key=lambda b: b.area, reverse=True)[:max_faces])
    faces = tuple(Face(box, face_crop(img, box, size, margin, align), False, i, align and can_align(box))
                  for i, box in enumerate(kept))
    message = f"Found {n_found} faces; showing the {max_faces} largest" if capped else None
    return FaceSearch(faces, False, message, capped, n_found, (width, height), name)


def _no_face_search(img: np.ndarray, size: int, too_small: bool, fallback: str, detector: str) -> FaceSearch:
    """The no-face result: nothing, or the centre square when asked, with a message saying why."""
    height, width = img.shape[:2]
    if too_small:
        message = (f"The image ({width}x{height} pixels) is too small to search for faces "
                   "(at least 24x24 is needed)")
    else:
        message = NO_FACE_MESSAGE
    if fallback == "none":
        return FaceSearch((), False, message, False, 0, (width, height), detector)
    face = Face(center_square_box(height, width), center_square(img, size), True, 0)
    message = f"{message}; classifying the centre square of the image instead (not a detected face)"
    return FaceSearch((face,), True, message, False, 0, (width, height), detector)


def aligned_crops(images, size: int = 64, *, detector: str | None = "yunet",
                  min_confidence: float = MIN_CONFIDENCE, align: bool = True,
                  margin: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    """Detect the largest face of every image and cut it with the crop policy: the training code's helper.

    Parameters
    ----------
    images : (N, H, W, 3) or (N, H, W) uint8 ndarray, or a sequence of such images
        Photos (e.g. UTKFace's 200x200 colour faces), RGB order; sizes may differ in a sequence.
    size : int
        Side of each crop.
    detector : str or None
        A :data:`DETECTORS` key (default ``yunet``, whose landmarks alignment needs).
    min_confidence : float
        YuNet score below which a detection is not a face.
    align : bool
        Align on the landmarks (default); False cuts the box crop.
    margin : float
        Box crops only (Haar, or ``align=False``): context around the box.

    Returns
    -------
    crops : (N, size, size, 3) uint8 ndarray, or (N, size, size) when every image is gray
        Row ``i`` is image ``i``'s largest face; where no face was found, its centre square (so that the
        array stays aligned with ``images``: use ``found`` to drop or keep those rows).
    found : (N,) bool ndarray
        True where a face was detected (and, with YuNet and ``align``, aligned).
    """
    images = list(images)
    colour = any(np.ndim(im) == 3 and np.shape(im)[2] >= 3 for im in images)
    crops = np.zeros((len(images), size, size, 3) if colour else (len(images), size, size), np.uint8)
    found = np.zeros(len(images), bool)
    for i, image in enumerate(images):
        image = _checked_image(np.asarray(image))
        search = find_faces(image, size=size, margin=margin, max_faces=1, detector=detector,
                            min_confidence=min_confidence, fallback="centre", align=align)
        crop = search.faces[0].crop
        if colour and crop.ndim == 2:
            crop = np.repeat(crop[..., None], 3, axis=2)
        crops[i], found[i] = crop, not search.fallback
    log.info("aligned_crops: a face in %d of %d images", int(found.sum()), len(images))
    return crops, found
