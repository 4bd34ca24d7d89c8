"""Histogram of Oriented Gradients (paper eqs. 1-8), with every intermediate kept for teaching.

The pipeline, in data-flow order (``hog_steps`` returns all of it as a `HogSteps`):

1. Centred differences (eqs. 1-2): ``GT_X(r, c) = I(r, c+1) - I(r, c-1)`` and
   ``GT_Y(r, c) = I(r-1, c) - I(r+1, c)`` (so GT_Y points *up*); the outermost rows and columns get
   a zero gradient, as in scikit-image.
2. Magnitude ``sqrt(GT_X**2 + GT_Y**2)`` (eq. 3) and an unsigned angle in [0, 180) degrees (eq. 4).
3. Cells of ``cell_size`` x ``cell_size`` pixels, each with an ``n_bins`` histogram of
   ``180 / n_bins`` degree bins (eqs. 5-6).
4. Blocks of ``block_size`` x ``block_size`` cells, one per cell position (stride one cell), each
   L2-normalised as ``v / sqrt(||v||**2 + eps**2)`` with scikit-image's ``eps = 1e-5`` (eqs. 7-8).
5. The descriptor: all normalised blocks concatenated in (block row, block col, cell row, cell col,
   bin) order. A 64x64 image gives 8x8 cells, 7x7 blocks and 7 * 7 * 2 * 2 * 9 = 1764 values.

How scikit-image votes (read from ``skimage/feature/_hog.py`` and ``_hoghistogram.pyx``, 0.26),
which this module reproduces so that ``hog_descriptor(img)`` equals ``skimage.feature.hog(img,
orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2), block_norm='L2')`` on a float image:

- **Angle convention.** skimage takes ``arctan2(I(r+1, c) - I(r-1, c), GT_X)`` mod 180, i.e. the
  angle from the +x (column) axis towards +row: clockwise as the image is displayed. With the
  paper's upward GT_Y that is ``arctan2(-GT_Y, GT_X) mod 180``, the mirror image ``180 - theta`` of
  the paper's ``arctan(GT_Y / GT_X)``. We keep skimage's convention so that bin ``k`` holds exactly
  the angles in ``[k * 180 / n_bins, (k + 1) * 180 / n_bins)`` and the bin order matches skimage.
  (Eq. 4 as printed, ``|arctan(GT_Y / GT_X)|``, would only span [0, 90]; eq. 5 and docs/DESIGN.md ask
  for [0, 180).)
- **Hard voting.** Each pixel adds its whole magnitude to one orientation bin of the one cell it
  lies in. There is no interpolation between neighbouring bins (the paper's mention of "center
  values for each bin" suggests Dalal-Triggs' linear interpolation), none between neighbouring
  cells, and no Gaussian window over the block.
- **Cell averaging.** Each bin sum is divided by the cell's pixel count, so a histogram holds mean
  magnitudes per pixel. This only matters through ``eps`` in the block normalisation.
- **Cropping.** Pixels right of / below the last whole cell take no part.
- **Precision.** skimage sums each cell in C ``float`` (float32); we sum in float64, so the two
  descriptors differ by about 1e-7 relative.
- **Normalisation.** skimage's 'L2' adds ``eps**2`` under the root; eq. 7 writes ``+ eps`` and eq. 8
  divides by ``k = ||v||`` with no epsilon at all.
- **Rounding at 180.** An angle a hair below 0 wraps to exactly 180.0 in floating point; skimage then
  drops that pixel's vote, we count it in bin 0 (where it belongs). This needs a row difference
  below ~1e-16 of the column difference, so it cannot happen for images that come from uint8.

The rendered image (``render_hog``) draws skimage's "star" glyphs: for every cell and bin a
line through the cell centre, perpendicular to the bin's middle direction (so along the edge),
of half-length ``cell_size // 2 - 1`` px and brightness equal to the bin's value, summed where
lines cross and divided by the image's maximum. It is the model's input in mode ``hog``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ferviz.errors import ImageError

log = logging.getLogger(__name__)

L2_EPS = 1e-5
"""The epsilon of skimage's ``block_norm='L2'``: blocks are divided by ``sqrt(||v||**2 + L2_EPS**2)``."""


@dataclass(frozen=True)
class HogSteps:
    """Every intermediate of the HOG pipeline for one image (H x W pixels).

    Attributes
    ----------
    image : (H, W) float64 ndarray
        The input as grey levels in [0, 1].
    gx, gy : (H, W) float64 ndarray
        GT_X (eq. 1, positive to the right) and GT_Y (eq. 2, positive *upwards*), in [-1, 1];
        zero on the outermost columns (gx) / rows (gy).
    magnitude : (H, W) float64 ndarray
        Eq. 3, in [0, sqrt(2)].
    angle : (H, W) float64 ndarray
        Unsigned gradient direction in degrees, in [0, 180), measured from +x clockwise as the
        image is displayed (skimage's convention, see the module docstring).
    cell_histograms : (n_cells_r, n_cells_c, n_bins) float64 ndarray
        Per cell, the mean over its pixels of the magnitude voted into each bin; >= 0.
    blocks : (n_blocks_r, n_blocks_c, block_size, block_size, n_bins) float64 ndarray
        L2-normalised blocks (eqs. 7-8); each has norm < 1 (just below 1 unless nearly empty).
    descriptor : (n_blocks_r * n_blocks_c * block_size**2 * n_bins,) float64 ndarray
        ``blocks`` flattened; equal to ``skimage.feature.hog(..., block_norm='L2')``.
    rendered : (H, W) float32 ndarray
        The glyph picture of ``cell_histograms`` in [0, 1] (all zero for a flat image).
    cell_size, n_bins, block_size : int
        The parameters used.

    All arrays are read-only.
    """

    image: np.ndarray
    gx: np.ndarray
    gy: np.ndarray
    magnitude: np.ndarray
    angle: np.ndarray
    cell_histograms: np.ndarray
    blocks: np.ndarray
    descriptor: np.ndarray
    rendered: np.ndarray
    cell_size: int
    n_bins: int
    block_size: int

    def __post_init__(self) -> None:
        for value in vars(self).values():  # shared through caches: make every array read-only
            if isinstance(value, np.ndarray):
                value.flags.writeable = False

    @property
    def bin_edges(self) -> np.ndarray:
        """(n_bins + 1,) float64: bin ``k`` holds angles in ``[bin_edges[k], bin_edges[k + 1])`` degrees."""
        return _bin_edges(self.n_bins)


def hog_steps(image: np.ndarray, cell_size: int = 8, n_bins: int = 9, block_size: int = 2) -> HogSteps:
    """Run the whole HOG pipeline (eqs. 1-8) and keep every intermediate.

    Parameters
    ----------
    image : (H, W) ndarray, uint8 (divided by 255) or float in [0, 1]
        Grayscale image, at least ``cell_size * block_size`` pixels in each direction.
    cell_size : int
        Cell side in pixels (the paper: 8).
    n_bins : int
        Orientation bins over [0, 180) degrees (the paper: 9, i.e. 20 degrees each).
    block_size : int
        Block side in cells (the paper: 2, so 36 values per block).

    Returns
    -------
    HogSteps

    Raises
    ------
    ImageError
        If the image is not 2-D, not uint8/float, not finite in [0, 1], or smaller than one block.
    """
    img = _as_float_image(image, cell_size, n_bins, block_size)
    gx, gy = _gradients(img)
    magnitude, angle = _polar(gx, gy)
    hist = _cell_histograms(magnitude, angle, cell_size, n_bins)
    blocks = _normalised_blocks(hist, block_size)
    return HogSteps(
        image=img, gx=gx, gy=gy, magnitude=magnitude, angle=angle, cell_histograms=hist,
        blocks=blocks, descriptor=blocks.ravel(), rendered=_render(hist, img.shape, cell_size),
        cell_size=cell_size, n_bins=n_bins, block_size=block_size,
    )


def hog_descriptor(image: np.ndarray, cell_size: int = 8, n_bins: int = 9, block_size: int = 2) -> np.ndarray:
    """The HOG descriptor of ``image`` (see `hog_steps` for parameters and errors).

    Returns
    -------
    (n_blocks_r * n_blocks_c * block_size**2 * n_bins,) float64 ndarray
        Values in [0, 1); 1764 of them for a 64x64 image with the default parameters.
    """
    img = _as_float_image(image, cell_size, n_bins, block_size)
    hist = _cell_histograms(*_polar(*_gradients(img)), cell_size, n_bins)
    return _normalised_blocks(hist, block_size).ravel()


def render_hog(image: np.ndarray, cell_size: int = 8, n_bins: int = 9, block_size: int = 2) -> np.ndarray:
    """The HOG glyph picture of ``image``: what the model sees in input mode ``hog``.

    Deterministic and vectorised (well under a millisecond for 64x64 on one CPU core). Blocks play no
    part in the picture; ``block_size`` only sets the minimum image size, as in `hog_steps`.

    Returns
    -------
    (H, W) float32 ndarray
        In [0, 1], the brightest glyph pixel at 1; all zero for a flat image.
    """
    img = _as_float_image(image, cell_size, n_bins, block_size)
    hist = _cell_histograms(*_polar(*_gradients(img)), cell_size, n_bins)
    return _render(hist, img.shape, cell_size)


def _as_float_image(image: np.ndarray, cell_size: int, n_bins: int, block_size: int) -> np.ndarray:
    """Check the parameters and the image; return the image as float64 grey levels in [0, 1]."""
    for name, value in (("cell_size", cell_size), ("n_bins", n_bins), ("block_size", block_size)):
        if not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    image = np.asarray(image)
    if image.ndim != 2:
        raise ImageError(
            f"HOG needs a grayscale image of shape (H, W); got shape {image.shape}. "
            "Convert colour images to gray first."
        )
    if image.dtype == np.uint8:
        image = image / 255.0
    elif np.issubdtype(image.dtype, np.floating):
        image = image.astype(np.float64)
        if not np.all(np.isfinite(image)) or image.min() < 0.0 or image.max() > 1.0:
            raise ImageError("a float image must hold finite grey levels in [0, 1]; scale it first")
    else:
        raise ImageError(f"the image must be uint8 or float in [0, 1]; got dtype {image.dtype}")
    side = cell_size * block_size
    rows, cols = image.shape
    if rows < side or cols < side:
        raise ImageError(
            f"the image must be at least {side}x{side} for {cell_size}-px cells and "
            f"{block_size}x{block_size} blocks; got {rows}x{cols}"
        )
    if rows % cell_size or cols % cell_size:
        log.debug("HOG ignores the last %d rows and %d columns of a %dx%d image (cells of %d px)",
                  rows % cell_size, cols % cell_size, rows, cols, cell_size)
    return image


def _gradients(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eqs. 1-2: (GT_X, GT_Y), each (H, W) float64; GT_Y points up; zero on the border."""
    gx = np.zeros_like(image)
    gy = np.zeros_like(image)
    gx[:, 1:-1] = image[:, 2:] - image[:, :-2]  # I(r, c+1) - I(r, c-1)
    gy[1:-1, :] = image[:-2, :] - image[2:, :]  # I(r-1, c) - I(r+1, c)
    return gx, gy


def _polar(gx: np.ndarray, gy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eqs. 3-4: magnitude and unsigned angle in [0, 180) degrees, clockwise from +x as displayed."""
    magnitude = np.hypot(gx, gy)
    angle = np.rad2deg(np.arctan2(-gy, gx)) % 180.0  # -gy is the downward (row-axis) difference
    angle[angle >= 180.0] = 0.0  # a tiny negative angle rounds to 180.0: fold it back to 0
    return magnitude, angle


@lru_cache(maxsize=64)
def _bin_edges(n_bins: int) -> np.ndarray:
    """Eqs. 5-6: (n_bins + 1,) bin edges in degrees, computed as skimage does (step * k)."""
    edges = (180.0 / n_bins) * np.arange(n_bins + 1, dtype=np.float64)
    edges.flags.writeable = False
    return edges


def _cell_histograms(magnitude: np.ndarray, angle: np.ndarray, cell_size: int, n_bins: int) -> np.ndarray:
    """Hard-vote each pixel's magnitude into its cell's bin; return (n_cells_r, n_cells_c, n_bins) means."""
    n_cells_r, n_cells_c = magnitude.shape[0] // cell_size, magnitude.shape[1] // cell_size
    rows, cols = n_cells_r * cell_size, n_cells_c * cell_size
    bins = np.searchsorted(_bin_edges(n_bins), angle[:rows, :cols], side="right") - 1
    np.minimum(bins, n_bins - 1, out=bins)  # only matters if step * n_bins < 180 (n_bins = 39)
    cell_r = np.arange(rows) // cell_size
    cell_c = np.arange(cols) // cell_size
    flat = ((cell_r[:, None] * n_cells_c + cell_c[None, :]) * n_bins + bins).ravel()
    sums = np.bincount(flat, weights=magnitude[:rows, :cols].ravel(),
                       minlength=n_cells_r * n_cells_c * n_bins)
    return sums.reshape(n_cells_r, n_cells_c, n_bins) / (cell_size * cell_size)


def _normalised_blocks(hist: np.ndarray, block_size: int) -> np.ndarray:
    """Eqs. 7-8: every block_size x block_size window of cells, L2-normalised with skimage's eps."""
    windows = np.lib.stride_tricks.sliding_window_view(hist, (block_size, block_size), axis=(0, 1))
    blocks = np.moveaxis(windows, 2, -1)  # (n_blocks_r, n_blocks_c, n_bins, b, b) -> (..., b, b, n_bins)
    norms = np.sqrt(np.sum(blocks**2, axis=(2, 3, 4), keepdims=True) + L2_EPS**2)
    return blocks / norms


@lru_cache(maxsize=64)
def _glyph_stencils(cell_size: int, n_bins: int) -> np.ndarray:
    """(n_bins, cell_size, cell_size) float64 masks: 1 on bin k's line segment inside one cell.

    The segment runs through the cell centre ``(cell_size // 2, cell_size // 2)``, perpendicular to
    the bin's middle angle ``phi``: a gradient at ``phi`` moves by (sin phi, cos phi) in (row, col),
    the edge by (cos phi, -sin phi). Endpoints are truncated to whole pixels and joined by a
    digital straight line that steps one pixel along its longer axis at a time.
    """
    centre, radius = cell_size // 2, max(cell_size // 2 - 1, 0)
    stencils = np.zeros((n_bins, cell_size, cell_size))
    for k in range(n_bins):
        phi = np.pi * (k + 0.5) / n_bins
        r0, c0 = int(centre - radius * np.cos(phi)), int(centre + radius * np.sin(phi))
        r1, c1 = int(centre + radius * np.cos(phi)), int(centre - radius * np.sin(phi))
        steps = max(abs(r1 - r0), abs(c1 - c0))
        t = np.arange(steps + 1) / max(steps, 1)
        rr = np.floor(r0 + t * (r1 - r0) + 0.5).astype(int)
        cc = np.floor(c0 + t * (c1 - c0) + 0.5).astype(int)
        stencils[k, rr, cc] = 1.0
    stencils.flags.writeable = False
    return stencils


def _render(hist: np.ndarray, shape: tuple[int, int], cell_size: int) -> np.ndarray:
    """Draw every cell's glyph (bin value times its stencil, summed); return (H, W) float32 in [0, 1]."""
    n_cells_r, n_cells_c, n_bins = hist.shape
    stencils = _glyph_stencils(cell_size, n_bins)
    tiles = np.einsum("rck,kyx->rycx", hist, stencils)  # (n_cells_r, cell_size, n_cells_c, cell_size)
    out = np.zeros(shape, dtype=np.float32)
    out[: n_cells_r * cell_size, : n_cells_c * cell_size] = tiles.reshape(
        n_cells_r * cell_size, n_cells_c * cell_size
    )
    peak = out.max()
    if peak > 0:
        out /= peak
    return out
