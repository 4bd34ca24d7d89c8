"""The one crop policy: from a detected face to the square the model sees (docs/DESIGN.md section 1).

:func:`face_crop` is used by every path (Predict photos, video, Live, folder evaluation, the training
code's photo datasets). Two ways to cut a face:

- **aligned** (the default where the detector gives landmarks, i.e. YuNet): a similarity transform
  (rotation, uniform scale, shift; ``cv2.warpAffine``) that levels the eyes and puts them where they sit
  in FER2013's 48x48 faces, the faces the shipped models were trained on (:data:`FER_TEMPLATE`). The
  rotation comes from the line through the eyes; the scale makes ``inter-ocular distance + eye-to-mouth
  height`` match the template's (the sum, rather than the eye distance alone, so that a face turned
  sideways, whose eyes look closer together, is not blown up); the shift puts the midpoint of the eyes at
  the template's. The box margin plays no part: the template fixes the framing.
- **box** (no landmarks: the Haar detector, or alignment turned off): the square centred on the box, side
  ``max(w, h) * (1 + 2 * margin)``, edge pixels replicated where it leaves the image.

The template is measured by ``python scripts/fer_eye_template.py --data
/work/shared/data/fer2013/fer2013_trainval.npz --n 3000``: Training faces (seed 0), each upscaled to
192x192 (bicubic) and searched by YuNet; the medians of the landmarks of the faces found, in normalised
crop coordinates (0 = left/top edge, 1 = right/bottom edge of the 48x48 face). PROVISIONAL numbers from a
400-face pilot of the same measurement (394 found): eyes at (0.302, 0.375) and (0.682, 0.380), mouth
corners at (0.344, 0.750) and (0.646, 0.750); the template levels the eyes at their mean height.

Crops keep colour: an (H, W, 3) source gives (S, S, 3) crops, a gray source (S, S) crops.
:func:`model_crops` is the one place where crops become what a model takes (grayscale for the ``gray``,
``hog`` and ``gray+hog`` input modes; colour for an input mode in :data:`COLOUR_MODES`). Grayscale uses
the ITU-R BT.601 weights 0.299 R + 0.587 G + 0.114 B.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ferviz.data.preprocess import resize_square
from ferviz.errors import ImageError
from ferviz.pipeline.detect import FaceBox

#: Where the eyes and the mouth sit in FER2013's faces (normalised crop coordinates, measured: see the
#: module docstring): eye midpoint, inter-ocular distance, eye-to-mouth height.
FER_TEMPLATE = {"eye_mid": (0.492, 0.3775), "inter_ocular": 0.380, "eye_mouth": 0.3725}
#: Model input modes that take colour (S, S, 3) crops; every other mode takes grayscale.
COLOUR_MODES = frozenset({"rgb"})
_MIN_EYE_DISTANCE = 2.0  # pixels: closer eyes are not landmarks to align on (box crop instead)


def _checked_image(img: np.ndarray) -> np.ndarray:
    """Refuse arrays that are not non-empty uint8 (H, W), (H, W, 1), (H, W, 3) or (H, W, 4)."""
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8:
        what = img.dtype if isinstance(img, np.ndarray) else type(img).__name__
        raise ImageError(f"expected a uint8 image array (values 0-255), got {what}")
    if not (img.ndim == 2 or (img.ndim == 3 and img.shape[2] in (1, 3, 4))) or img.size == 0:
        raise ImageError("expected an (H, W) gray or (H, W, 3) RGB image with H, W >= 1, "
                         f"got shape {img.shape}")
    return img


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


def _pixels(img: np.ndarray) -> np.ndarray:
    """``img`` as (H, W) gray or (H, W, 3) RGB (a single channel squeezed, alpha dropped), contiguous."""
    img = _checked_image(img)
    if img.ndim == 3:
        img = img[:, :, 0] if img.shape[2] == 1 else img[:, :, :3]
    return np.ascontiguousarray(img)


def resize_crop(image: np.ndarray, size: int) -> np.ndarray:
    """:func:`ferviz.data.preprocess.resize_square` for gray or colour: (H, W[, 3]) -> (size, size[, 3])."""
    if image.ndim == 2:
        return resize_square(image, size)
    if image.shape[:2] == (size, size):
        return np.ascontiguousarray(image)
    interp = cv2.INTER_AREA if image.shape[0] * image.shape[1] > size * size else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(image), (size, size), interpolation=interp)


def center_square_box(height: int, width: int) -> FaceBox:
    """The largest centred square of a ``height x width`` image."""
    side = min(height, width)
    return FaceBox((width - side) // 2, (height - side) // 2, side, side)


def center_square(img: np.ndarray, size: int = 64) -> np.ndarray:
    """Centre square of ``img`` resized to ``size`` (the no-face fallback): (size, size) or (size, size, 3).

    Parameters
    ----------
    img : (H, W) or (H, W, C) uint8 ndarray
        The square's side is ``min(H, W)``; colour stays colour.
    size : int
        Side of the output.
    """
    img = _pixels(img)
    box = center_square_box(*img.shape[:2])
    return resize_crop(img[box.y: box.y + box.h, box.x: box.x + box.w], size)


def crop_face(img: np.ndarray, box: FaceBox, size: int = 64, margin: float = 0.15,
              angle: float = 0.0) -> np.ndarray:
    """The box crop: a square around ``box``, resized to ``size`` (colour kept).

    The square is centred on the box, with side ``max(w, h) * (1 + 2 * margin)``. Where it sticks out of
    the image the image's edge pixels are replicated (``cv2.BORDER_REPLICATE``), so the crop stays
    square and the face stays centred.

    Parameters
    ----------
    img : (H, W) or (H, W, 3) uint8 ndarray
        Gray or RGB image.
    box : FaceBox
        Face rectangle in ``img``'s pixels; it must overlap the image.
    size : int
        Side of the output.
    margin : float
        Extra context on each side, as a fraction of the box's longer side (>= 0).
    angle : float
        Degrees to turn the face about the box centre before cutting; 0 cuts the upright square.

    Returns
    -------
    (size, size) or (size, size, 3) uint8 ndarray

    Raises
    ------
    ValueError
        For an empty box, one off the image, or ``margin < 0``.
    """
    if margin < 0 or box.w < 1 or box.h < 1:
        raise ValueError(f"need margin >= 0 and a non-empty box, got margin={margin}, box={box}")
    img = _pixels(img)
    height, width = img.shape[:2]
    if box.x >= width or box.y >= height or box.x + box.w <= 0 or box.y + box.h <= 0:
        raise ValueError(f"box {box} lies outside the {width}x{height} image")
    cx, cy = box.center
    side = max(1, round(max(box.w, box.h) * (1 + 2 * margin)))
    if angle:
        turn = cv2.getRotationMatrix2D((cx, cy), angle, 1.0)  # (2, 3): rotate about the box centre ...
        turn[:, 2] += (side / 2 - cx, side / 2 - cy)  # ... and move that centre to the square's centre
        square = cv2.warpAffine(img, turn, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return resize_crop(square, size)
    x0, y0 = round(cx - side / 2), round(cy - side / 2)
    x1, y1 = x0 + side, y0 + side
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    inside = img[cy0:cy1, cx0:cx1]
    square = cv2.copyMakeBorder(inside, cy0 - y0, y1 - cy1, cx0 - x0, x1 - cx1, cv2.BORDER_REPLICATE)
    return resize_crop(square, size)


# ------------------------------------------------------------------------------------------ alignment


def _eyes_and_mouth(landmarks) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(left eye, right eye, mouth centre or None) as float arrays; the eyes sorted left to right."""
    points = np.asarray(landmarks, dtype=np.float64).reshape(-1, 2)
    if len(points) < 2 or not np.all(np.isfinite(points)):
        raise ValueError(f"need at least the two eyes as finite (x, y) landmarks, got {len(points)} points")
    left, right = sorted(points[:2], key=lambda p: (p[0], p[1]))
    mouth = points[3:5].mean(axis=0) if len(points) >= 5 else None
    return left, right, mouth


def alignment_matrix(landmarks, size: int = 64) -> np.ndarray:
    """The (2, 3) similarity transform from image pixels to the aligned ``size x size`` crop.

    Parameters
    ----------
    landmarks : sequence of (x, y)
        YuNet's five points in image pixels (two eyes, nose tip, two mouth corners); two eyes suffice
        (the scale then comes from the eye distance alone).
    size : int
        Side of the crop.

    Returns
    -------
    (2, 3) float64 ndarray
        ``crop_point = M[:, :2] @ image_point + M[:, 2]``.

    Raises
    ------
    ValueError
        When the eyes are closer than 2 pixels or not finite.
    """
    left, right, mouth = _eyes_and_mouth(landmarks)
    eye_line = right - left
    iod = float(np.hypot(*eye_line))
    if iod < _MIN_EYE_DISTANCE:
        raise ValueError(f"the eyes are {iod:.1f} pixels apart: too close to align on")
    ux, uy = eye_line / iod
    mid = (left + right) / 2
    height = 0.0 if mouth is None else float((mouth - mid) @ np.array([-uy, ux]))  # below the eye line
    t_iod, t_height = FER_TEMPLATE["inter_ocular"], FER_TEMPLATE["eye_mouth"]
    if height > 0:
        scale = size * (t_iod + t_height) / (iod + height)
    else:
        scale = size * t_iod / iod
    turn = scale * np.array([[ux, uy], [-uy, ux]])  # rotates the eye line onto +x, then scales
    shift = size * np.asarray(FER_TEMPLATE["eye_mid"]) - turn @ mid
    return np.hstack([turn, shift[:, None]])


def align_face(image: np.ndarray, landmarks, size: int = 64) -> np.ndarray:
    """The aligned crop: eyes level and where FER2013's faces have them (see :data:`FER_TEMPLATE`).

    Parameters
    ----------
    image : (H, W) or (H, W, 3) uint8 ndarray
        Gray or RGB (RGBA: alpha dropped); colour stays colour.
    landmarks : sequence of (x, y)
        In ``image``'s pixels: YuNet's five points (:attr:`FaceBox.landmarks`), or at least the eyes.
    size : int
        Side of the crop.

    Returns
    -------
    (size, size) or (size, size, 3) uint8 ndarray
        Pixels outside ``image`` are its replicated edge. A face larger than the crop is warped at its own
        scale first and then shrunk with ``cv2.INTER_AREA`` (no aliasing), as the box crop is.

    Raises
    ------
    ValueError
        For landmarks that cannot be aligned on (see :func:`alignment_matrix`).
    ImageError
        For an image that is not uint8 (H, W) / (H, W, 3).
    """
    img = _pixels(image)
    matrix = alignment_matrix(landmarks, size)
    scale = float(np.hypot(*matrix[0, :2]))
    work = size if scale >= 1 else min(max(size, math.ceil(size / scale)), 8 * size)
    if work != size:
        matrix = matrix * (work / size)
    warped = cv2.warpAffine(img, matrix, (work, work), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return resize_crop(warped, size)


def can_align(box: FaceBox) -> bool:
    """True when ``box`` has landmarks to align on (YuNet) and its eyes are at least 2 pixels apart."""
    if not box.landmarks or len(box.landmarks) < 2:
        return False
    try:
        left, right, _ = _eyes_and_mouth(box.landmarks)
    except ValueError:
        return False
    return float(np.hypot(*(right - left))) >= _MIN_EYE_DISTANCE


def face_crop(image: np.ndarray, box: FaceBox, size: int = 64, margin: float = 0.15,
              align: bool = True) -> np.ndarray:
    """The one crop policy: aligned on the landmarks when asked and possible, else the box crop.

    Parameters
    ----------
    image : (H, W) or (H, W, 3) uint8 ndarray
        The searched image (RGB order); colour is kept.
    box : FaceBox
        The detection, in ``image``'s pixels.
    size : int
        Side of the crop.
    margin : float
        Box crop only: context around the box (the aligned crop's framing is :data:`FER_TEMPLATE`).
    align : bool
        Align on the landmarks when the box has them (:func:`can_align`); without landmarks (Haar) the
        box crop is used either way.

    Returns
    -------
    (size, size) or (size, size, 3) uint8 ndarray
    """
    if align and can_align(box):
        return align_face(image, box.landmarks, size)
    return crop_face(image, box, size, margin)


def model_crops(crops: np.ndarray, input_mode: str) -> np.ndarray:
    """Crops as a model with ``input_mode`` takes them: the one place colour crops become gray.

    Parameters
    ----------
    crops : (N, S, S) or (N, S, S, 3) uint8 ndarray
        Face crops (gray or RGB).
    input_mode : str
        The model's :attr:`ferviz.data.preprocess.Preprocessing.input_mode`.

    Returns
    -------
    (N, S, S) uint8 ndarray, or (N, S, S, 3) for a mode in :data:`COLOUR_MODES`
        A gray crop given to a colour model is repeated on three channels.
    """
    crops = np.asarray(crops, dtype=np.uint8)
    colour = crops.ndim == 4
    if input_mode in COLOUR_MODES:
        return crops if colour else np.repeat(crops[..., None], 3, axis=-1)
    if not colour:
        return crops
    if len(crops) == 0:
        return np.zeros(crops.shape[:3], np.uint8)
    return np.stack([to_gray(c) for c in crops])
