"""Degradations that make a clean dataset face look like a camera photo's face crop.

FER2013's faces are small, centred, grayscale web images. A face cut out of a phone or webcam photo
differs in ways the affine augmentation (:mod:`ferviz.data.augment`) does not imitate: it was
converted from colour by some camera pipeline, JPEG-compressed (often hard), blurred by focus or
motion, up-scaled from a few dozen pixels, and lit differently. Each function here imitates one of
those on uint8 model planes; :func:`camera_batch` applies each of them to an image with probability
``p``, independently, in a fixed order (light, blur, resolution, JPEG), as a camera would.

All operate on (B, 1, S, S) uint8 planes (the gray input mode) and draw from a NumPy generator, so a
training run is reproducible from (seed, epoch, step, rank).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

#: How a colour crop becomes gray: cameras and libraries do not agree on the weights.
GRAY_VARIANTS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "luma": lambda rgb: cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY),  # ITU-R BT.601, what OpenCV and PIL do
    "mean": lambda rgb: np.round(rgb.astype(np.float32).mean(axis=2)).astype(np.uint8),
    "green": lambda rgb: np.ascontiguousarray(rgb[..., 1]),  # the channel closest to luminance
}


def to_gray(rgb: np.ndarray, variant: str = "luma") -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (H, W) uint8 by one of :data:`GRAY_VARIANTS`; (H, W) input is returned as is."""
    if rgb.ndim == 2:
        return rgb
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB image, got shape {rgb.shape}")
    if variant not in GRAY_VARIANTS:
        raise ValueError(f"unknown gray variant {variant!r}; choose one of {', '.join(GRAY_VARIANTS)}")
    return GRAY_VARIANTS[variant](np.ascontiguousarray(rgb, dtype=np.uint8))


def gamma(face: np.ndarray, g: float) -> np.ndarray:
    """Lighting: out = 255 * (in / 255) ** g (g < 1 brightens the shadows, g > 1 darkens them)."""
    lut = np.clip(255.0 * (np.arange(256) / 255.0) ** g + 0.5, 0, 255).astype(np.uint8)
    return lut[face]


def blur(face: np.ndarray, sigma: float) -> np.ndarray:
    """Defocus: a Gaussian blur of standard deviation ``sigma`` pixels (border reflected)."""
    return cv2.GaussianBlur(face, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REFLECT)


def low_resolution(face: np.ndarray, factor: float) -> np.ndarray:
    """A small face up-scaled: shrink by ``factor`` (0-1, area averaging), then enlarge back (bilinear)."""
    h, w = face.shape
    small = cv2.resize(face, (max(4, round(w * factor)), max(4, round(h * factor))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def jpeg(face: np.ndarray, quality: int) -> np.ndarray:
    """Compression: encode as JPEG at ``quality`` (1-100) and decode again."""
    ok, buf = cv2.imencode(".jpg", face, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 image
        return face
    return cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)


#: name -> (function, draw of its parameter); the order is the order a camera applies them.
DEGRADATIONS: dict[str, tuple[Callable, Callable[[np.random.Generator], float]]] = {
    "gamma": (gamma, lambda rng: float(np.exp(rng.uniform(np.log(0.55), np.log(1.8))))),
    "blur": (blur, lambda rng: float(rng.uniform(0.5, 1.6))),
    "low_resolution": (low_resolution, lambda rng: float(rng.uniform(0.3, 0.8))),
    "jpeg": (jpeg, lambda rng: int(rng.integers(15, 80))),
}


def parse_kinds(text: str) -> tuple[str, ...]:
    """``"blur,jpeg"`` -> ``("blur", "jpeg")`` in :data:`DEGRADATIONS`' order; ``""`` -> all of them.

    Raises ValueError naming the unknown names and the choices.
    """
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = sorted(set(names) - set(DEGRADATIONS))
    if unknown:
        raise ValueError(f"unknown camera degradation(s) {', '.join(unknown)}; "
                         f"choose from {', '.join(DEGRADATIONS)}")
    return tuple(n for n in DEGRADATIONS if n in names) if names else tuple(DEGRADATIONS)


def camera_batch(planes: np.ndarray, p: float, rng: np.random.Generator,
                 kinds: tuple[str, ...] = tuple(DEGRADATIONS)) -> np.ndarray:
    """Apply each degradation of ``kinds`` to each face with probability ``p``.

    Parameters
    ----------
    planes : (B, 1, S, S) uint8 ndarray
        Gray model planes; other input modes (HOG planes) are returned unchanged.
    p : float in [0, 1]
        Probability per face and degradation.
    rng : numpy Generator

    Returns
    -------
    (B, 1, S, S) uint8 ndarray
        A new array; ``planes`` is not modified.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"camera degradation probability must be in [0, 1], got {p}")
    unknown = set(kinds) - set(DEGRADATIONS)
    if unknown:
        raise ValueError(f"unknown degradations {sorted(unknown)}; choose from {', '.join(DEGRADATIONS)}")
    if planes.ndim != 4 or planes.shape[1] != 1 or p == 0:
        return planes
    out = planes.copy()
    hits = rng.random((len(planes), len(kinds))) < p
    for i in range(len(planes)):
        face = out[i, 0]
        for j, name in enumerate(kinds):
            if hits[i, j]:
                fn, draw = DEGRADATIONS[name]
                face = fn(face, draw(rng))
        out[i, 0] = face
    return out
