"""Low-level helpers behind :mod:`ferviz.data.datasets`: decoding, CSV pixel parsing, skip records, folders.

Nothing here knows about a particular dataset; the readers in :mod:`ferviz.data.datasets` combine these
pieces. Every helper either returns data or raises :class:`~ferviz.errors.DatasetError` /
:class:`~ferviz.errors.ImageError` with a message that names the file (and line) and what was expected.
"""

from __future__ import annotations

import csv
import logging
import os
import re
import struct
import warnings
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from ferviz.data.labels import ALL_LABELS
from ferviz.data.preprocess import resize_square
from ferviz.errors import DatasetError, ImageError

logger = logging.getLogger("ferviz.data.datasets")

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".pgm", ".gif", ".webp"})

# What a decoder may raise on a corrupt, truncated or hostile file (UnidentifiedImageError is an OSError).
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, IndexError, struct.error,
                  Image.DecompressionBombError)

# Characters allowed in a CSV ``pixels`` field; anything left after deleting them is not a number.
_NOT_PIXEL = str.maketrans("", "", "0123456789 \t\r\n")


class SkipLog:
    """Collects one line per skipped item; in strict mode the first skip raises instead.

    Parameters
    ----------
    what : str
        The input being read (a file or folder name), used in the closing warning.
    strict : bool
        If True, :meth:`skip` raises :class:`DatasetError` with the message instead of recording it.
    """

    def __init__(self, what: str, strict: bool) -> None:
        self.what = what
        self.strict = strict
        self.lines: list[str] = []

    def skip(self, message: str) -> None:
        """Record ``message`` (one human-readable line), or raise it when strict."""
        if self.strict:
            raise DatasetError(f"{message} (strict=True turns this skip into an error)")
        self.lines.append(message)

    def report(self, kept: int) -> None:
        """Log one warning with the number of skipped items (nothing when none were skipped)."""
        if self.lines:
            logger.warning("%s: skipped %d item(s), kept %d; first: %s (all in FaceDataset.skipped)",
                           self.what, len(self.lines), kept, self.lines[0])

    def fail_if_empty(self, kept: int, expected: str) -> None:
        """Raise when nothing usable was read: an empty input is always an error."""
        if kept == 0:
            detail = f"; {len(self.lines)} skipped, first: {self.lines[0]}" if self.lines else ""
            raise DatasetError(f"{self.what}: no usable items (expected {expected}){detail}")


def decode_image(path: Path) -> np.ndarray:
    """Read one image file as grayscale.

    Colour is converted with Pillow's ``convert('L')`` (ITU-R 601-2 luma, palettes resolved through
    their colour table); 16-bit grayscale keeps its 8 most significant bits.

    Returns
    -------
    image : (H, W) ndarray of uint8

    Raises
    ------
    ImageError
        When the file cannot be opened or fully decoded (corrupt, truncated, not an image).
    """
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode.startswith("I;16"):
                return (np.asarray(im, dtype=np.uint16) >> 8).astype(np.uint8)
            return np.asarray(im.convert("L"), dtype=np.uint8)
    except _DECODE_ERRORS as exc:
        raise ImageError(f"cannot decode image ({type(exc).__name__}: {exc})") from exc


def rgb_to_gray(images: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma of ``(..., 3)`` uint8 RGB with Pillow's integer rounding (same as ``convert('L')``)."""
    rgb = images.astype(np.uint32)
    luma = rgb[..., 0] * 19595 + rgb[..., 1] * 38470 + rgb[..., 2] * 7471 + 0x8000
    return (luma >> 16).astype(np.uint8)


def check_size(size: int | None) -> int | None:
    """Return ``size`` unchanged, or raise ``ValueError`` unless it is None or a positive integer."""
    if size is not None and (isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1):
        raise ValueError(f"size must be None or a positive integer (pixels per side), got {size!r}")
    return size


#: Mixed-size images read without ``size`` are resized to their median shorter side, at most this many
#: pixels (the models take 48-64 px faces; whole photos stay large enough for the face detector).
MIXED_SIDE_MAX = 256


class ImageStack:
    """Gathers grayscale images into one ``(N, S, S)`` array.

    With ``size`` every image is resized to ``size x size`` as it arrives. Without it, images that all
    have one shape are kept as they are; when the shapes differ, every image is resized at the end to
    their median shorter side (at most :data:`MIXED_SIDE_MAX`) and :attr:`note` says so.
    """

    def __init__(self, size: int | None) -> None:
        self.size = check_size(size)
        self.images: list[np.ndarray] = []
        self.note = ""

    def add(self, image: np.ndarray, source: str) -> None:
        """Append ``image`` (H, W) uint8, read from ``source``."""
        if self.size is not None:
            image = resize_square(image, self.size)
        self.images.append(image)

    def array(self) -> np.ndarray:
        """The stacked images, ``(N, H, W)`` uint8 (``(0, 0, 0)`` when empty); mixed sizes: see the class."""
        if not self.images:
            side = self.size or 0
            return np.zeros((0, side, side), dtype=np.uint8)
        shapes = {image.shape for image in self.images}
        if len(shapes) == 1:
            return np.stack(self.images)
        side = min(int(np.median([min(image.shape) for image in self.images])), MIXED_SIDE_MAX)
        small, large = min(shapes, key=lambda s: s[0] * s[1]), max(shapes, key=lambda s: s[0] * s[1])
        self.note = (f"the images differ in size ({len(shapes)} sizes, from {small[0]}x{small[1]} to "
                     f"{large[0]}x{large[1]} pixels, height x width); every image was resized to "
                     f"{side}x{side} (their median shorter side, at most {MIXED_SIDE_MAX}; non-square "
                     "images are stretched); ferviz train|evaluate --size N chooses another size")
        return np.stack([resize_square(image, side) for image in self.images])


def parse_pixels(text: str, count: int) -> np.ndarray:
    """Parse a CSV ``pixels`` field of ``count`` space-separated integers 0-255.

    Fast path: one character check and one ``np.fromstring`` (C parser) per row; the slow path only
    runs to explain a bad row.

    Returns
    -------
    pixels : (count,) ndarray of uint8

    Raises
    ------
    ValueError
        Saying what is wrong (non-numeric token, wrong count, value out of range); the caller adds
        the file and line.
    """
    leftover = text.translate(_NOT_PIXEL)
    if leftover:
        bad = next((token for token in text.split() if leftover[0] in token), leftover[0])
        raise ValueError(f"non-numeric pixel value {bad[:20]!r}; expected {count} integers 0-255")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values = np.fromstring(text, dtype=np.int64, sep=" ") if text.strip() else np.zeros(0, np.int64)
    if values.size != count:
        raise ValueError(f"expected {count} pixel values, found {values.size}")
    if values.max() > 255:
        raise ValueError(f"pixel value {values.max()} out of range; expected integers 0-255")
    return values.astype(np.uint8)


def csv_rows(path: Path, required: tuple[str, ...], skips: SkipLog) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line_number, row)`` for each well-formed, non-blank data row of a CSV file with a header.

    Column names are matched case-insensitively and stripped (Kaggle's ``icml_face_data.csv`` writes
    `` pixels``); rows are dicts keyed by the lower-case names. Line numbers are 1-based, in the file.
    A row with the wrong number of fields is recorded in ``skips`` and not yielded.

    Raises
    ------
    DatasetError
        When the file cannot be read as CSV text, is empty, or lacks one of the ``required`` columns.
    """
    line = 1
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = _check_header(path, next(reader, []), required)
            for row in reader:
                line = reader.line_num
                if len(row) == len(header):
                    yield line, dict(zip(header, row, strict=True))
                elif row:
                    skips.skip(f"{path.name} line {line}: {len(row)} fields, expected {len(header)} "
                               f"({', '.join(header)})")
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{path.name} line {line}: cannot be read as CSV text ({exc})") from exc
    except OSError as exc:
        raise DatasetError(f"{path.name}: cannot be read ({exc})") from exc


def _check_header(path: Path, header: list[str], required: tuple[str, ...]) -> list[str]:
    """Normalised column names, or :class:`DatasetError` when the header is absent or lacks a column."""
    names = [name.strip().lower() for name in header]
    if not names:
        raise DatasetError(f"{path.name}: empty file; expected a header line with columns "
                           f"{', '.join(required)}")
    missing = [name for name in required if name not in names]
    if missing:
        raise DatasetError(f"{path.name} line 1: missing column(s) {', '.join(missing)}; expected columns "
                           f"{', '.join(required)} (found: {', '.join(header)})")
    return names


def listing(folder: Path) -> list[Path]:
    """Entries of ``folder`` by name, hidden ones (``.x``, macOS ``._x``) left out; warns if unreadable."""
    try:
        return sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    except OSError as exc:
        logger.warning("cannot list folder %s (%s); treated as empty", folder, exc)
        return []


def child_dirs(folder: Path) -> list[Path]:
    """Visible sub-folders of ``folder``, sorted by name (``__MACOSX``-like ones left out too)."""
    return [p for p in listing(folder) if not p.name.startswith("__") and p.is_dir()]


def image_files(folder: Path) -> list[Path]:
    """Visible image files directly in ``folder`` (by suffix, case-insensitive), sorted by name."""
    return [p for p in listing(folder) if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]


def first_image(folder: Path) -> Path | None:
    """One image file in ``folder``, found without listing it all (cheap on folders of thousands)."""
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                suffix = Path(entry.name).suffix.lower()
                if suffix in IMAGE_SUFFIXES and not entry.name.startswith(".") and entry.is_file():
                    return Path(entry.path)
    except OSError:
        return None
    return None


def search(path: Path, finder: Callable[[Path], list]) -> tuple[Path, list]:
    """Apply ``finder`` to the folder ``path``, then to each sub-folder, until it finds something.

    This is what lets a reader take the release's root or the folder above it.

    Returns
    -------
    folder : Path
        The folder where ``finder`` returned a non-empty list (the dataset root, used for relative
        source paths), or ``path`` when none did.
    found : list
        What ``finder`` returned there, or ``[]``.
    """
    if path.is_dir():
        for folder in [path, *child_dirs(path)]:
            found = finder(folder)
            if found:
                return folder, found
    return path, []


def has_class_dirs(folder: Path, label_of: Callable[[str], int | None]) -> bool:
    """Whether ``folder`` has a sub-folder whose name ``label_of`` maps to a label."""
    return any(label_of(d.name) is not None for d in child_dirs(folder))


def class_roots(folder: Path, label_of: Callable[[str], int | None]) -> list[Path]:
    """``[folder]`` if it holds class folders, else its sub-folders that do (split folders: train, test)."""
    if has_class_dirs(folder, label_of):
        return [folder]
    return [d for d in child_dirs(folder) if has_class_dirs(d, label_of)]


def class_files(base: Path, roots: list[Path], label_of: Callable[[str], int | None], expected: str,
                skips: SkipLog) -> list[tuple[Path, int]]:
    """``(file, label)`` for each image in ``<root>/<class>/``; other folders are recorded in ``skips``."""
    files = []
    for root in roots:
        for folder in child_dirs(root):
            label = label_of(folder.name)
            if label is None:
                where = folder.relative_to(base).as_posix()
                skips.skip(f"{where}/: folder name is not a class; expected {expected}")
                continue
            files += [(file, label) for file in image_files(folder)]
    return files


def peek_name(roots: list[Path], label_of: Callable[[str], int | None]) -> str:
    """Name of one image in the first class folder under ``roots`` (``''`` if none), to recognise a layout."""
    for root in roots:
        for folder in child_dirs(root):
            file = first_image(folder) if label_of(folder.name) is not None else None
            if file is not None:
                return file.name
    return ""


def load_npz(file: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The arrays ``keys`` found in the archive (no pickle); ``images`` and ``labels`` are required."""
    try:
        with open(file, "rb") as handle:  # ours to close, even when numpy fails half-way
            is_zip = zipfile.is_zipfile(handle)  # reads from the end: start again before anything else
            handle.seek(0)
            if not is_zip and handle.read(6) != b"\x93NUMPY":
                raise DatasetError(f"{file.name}: not an .npz archive (np.savez writes a zip file; this is another "
                                   "kind of file, or one cut short)")
            handle.seek(0)
            archive = np.load(handle, allow_pickle=False)
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise DatasetError(f"{file.name}: not an .npz archive (a single array?)")
            with archive:
                missing = [key for key in ("images", "labels") if key not in archive.files]
                if missing:
                    raise DatasetError(f"{file.name}: missing array(s) {', '.join(missing)}; expected images "
                                       "(N, H, W) uint8 and labels (N,) int "
                                       f"(found: {', '.join(archive.files)})")
                return {key: archive[key] for key in keys if key in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DatasetError(f"{file.name}: cannot read the archive ({type(exc).__name__}: {exc})") from exc


def npz_images(images: np.ndarray, where: str) -> np.ndarray:
    """Check an archive's images and return ``(N, H, W)`` uint8 (RGB ``(N, H, W, 3)`` through 601 luma)."""
    if images.ndim == 4 and images.shape[-1] in (1, 3):
        images = images[..., 0] if images.shape[-1] == 1 else rgb_to_gray(_as_uint8(images, where))
    if images.ndim != 3 or images.shape[0] == 0:
        raise DatasetError(f"{where}: 'images' has shape {images.shape}; expected (N, H, W) or "
                           "(N, H, W, 3) with N > 0")
    return _as_uint8(images, where)


def _as_uint8(images: np.ndarray, where: str) -> np.ndarray:
    if images.dtype == np.uint8:
        return images
    if images.dtype.kind in "iu" and images.min() >= 0 and images.max() <= 255:
        return images.astype(np.uint8)
    raise DatasetError(f"{where}: 'images' has dtype {images.dtype} (range {images.min()}..{images.max()}); "
                       "expected uint8 pixel values 0-255")


def npz_column(array: np.ndarray, name: str, n: int, where: str, kinds: str) -> np.ndarray:
    """Check that an archive's ``array`` has one entry per image, ``(n,)``, of a dtype kind in ``kinds``."""
    if array.shape != (n,) or array.dtype.kind not in kinds:
        raise DatasetError(f"{where}: '{name}' has shape {array.shape} and dtype {array.dtype}; "
                           f"expected ({n},), one entry per image")
    return array


def npz_strings(array: np.ndarray, name: str, n: int, where: str) -> np.ndarray:
    """An archive's per-image text column (str, bytes or integers such as subject numbers) as ``str``."""
    array = npz_column(array, name, n, where, "USiu")
    if array.dtype.kind == "S":
        return np.char.decode(array, "utf-8", errors="replace")
    return array.astype(str)


def npz_labels(array: np.ndarray, n: int, where: str) -> np.ndarray:
    """An archive's ``labels`` as int64 (floats accepted when whole numbers)."""
    array = npz_column(array, "labels", n, where, "iuf")
    if array.dtype.kind == "f" and not np.all(np.isfinite(array) & (array == np.round(array))):
        raise DatasetError(f"{where}: 'labels' holds non-integer values; expected integer class indices 0-7")
    return array.astype(np.int64)


def find_csv(path: Path, name: re.Pattern) -> Path | None:
    """``path`` if it is a CSV file, else the first CSV in it or a sub-folder whose name matches ``name``."""
    if path.is_file():
        return path if path.suffix.lower() == ".csv" else None
    for folder in [path, *child_dirs(path)]:
        for file in listing(folder):
            if file.suffix.lower() == ".csv" and name.search(file.name.lower()) and file.is_file():
                return file
    return None


def find_npz(path: Path) -> Path:
    """``path`` if it is an ``.npz`` file, else the only ``*.npz`` in that folder, else DatasetError."""
    files = [path] if path.is_file() else npz_files(path)
    if len(files) != 1 or files[0].suffix.lower() != ".npz":
        found = f" (found {', '.join(f.name for f in files)})" if len(files) > 1 else ""
        raise DatasetError(f"{path}: expected one .npz archive, or a folder holding exactly one{found}")
    return files[0]


def npz_files(folder: Path) -> list[Path]:
    """The ``.npz`` files directly in ``folder`` (any case), sorted by name."""
    return [p for p in listing(folder) if p.suffix.lower() == ".npz" and p.is_file()]


def read_text(file: Path) -> str:
    """The text of a small file (UTF-8, BOM tolerated), or :class:`DatasetError` naming it."""
    try:
        return file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{file.name}: cannot be read as text ({exc})") from exc


def code_label(text: str, codes: dict[int, int]) -> int:
    """A release's integer class code (text) as our label index; ``ValueError`` saying what is expected."""
    try:
        code = int(text.strip())
    except ValueError:
        raise ValueError(f"emotion {text.strip()[:20]!r} is not an integer code") from None
    if code not in codes:
        names = ", ".join(f"{c} {ALL_LABELS[i]}" for c, i in codes.items())
        raise ValueError(f"unknown emotion code {code}; expected one of {names}")
    return codes[code]
