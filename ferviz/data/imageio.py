"""Safe decoding of untrusted images (web uploads, CLI paths) into RGB arrays.

Every failure is an :class:`~ferviz.errors.ImageError` whose one-line message names the file, says
what is wrong and what is accepted. No other exception escapes :func:`decode_image`, whatever the
bytes. The defences, in the order they run:

1. the file is read whole, up to :data:`MAX_FILE_BYTES`;
2. its first bytes are checked against the supported formats (so a PDF or a text file renamed
   ``.jpg`` is named as such, and Pillow is only ever asked to parse a supported format);
3. the pixel count is read from the header with Pillow's lazy open and refused *before* any pixel
   is decoded. Pillow's own guard (``Image.MAX_IMAGE_PIXELS``) is left as it is: it raises
   ``DecompressionBombError`` above twice its limit (caught here) and warns above it, which only
   happens when a caller raises ``max_pixels`` past Pillow's 89 megapixels;
4. truncated files are errors: this module never sets ``ImageFile.LOAD_TRUNCATED_IMAGES`` (and logs
   a warning if someone else did). A PNG whose pixel data is complete but lacks its ``IEND``
   trailer still decodes, as it does in browsers.
"""

import io
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
from PIL import Image, ImageFile, ImageOps

from ferviz.errors import ImageError
from ferviz.text import printable

log = logging.getLogger(__name__)

SUPPORTED_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP")
MAX_FILE_BYTES = 256 * 2**20  # no supported image under the default 40-megapixel limit needs more
_ACCEPTED = "accepted: JPEG, PNG, GIF, BMP, TIFF or WEBP images"
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"), (b"GIF87a", "GIF"), (b"GIF89a", "GIF"),
    (b"BM", "BMP"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"),
)
_OTHER_IMAGES: tuple[tuple[bytes, str], ...] = (
    (b"8BPS", "a Photoshop PSD file"), (b"\x00\x00\x01\x00", "a Windows icon (ICO)"),
    (b"\x00\x00\x00\x0cjP  ", "a JPEG 2000 image"), (b"\xff\x0a", "a JPEG XL image"),
)
_NOT_IMAGES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "the file is a PDF document"),
    (b"PK\x03\x04", "the file is a ZIP archive or an Office document"),
    (b"\x1f\x8b", "the file is gzip-compressed data"), (b"\x7fELF", "the file is a program (ELF)"),
)
_ORIENTATION_TAG = 0x0112
_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")
_ALPHA_MODES = ("RGBA", "LA", "PA", "La", "RGBa")


@dataclass(frozen=True, eq=False)
class DecodedImage:
    """An image ready for face detection.

    Attributes
    ----------
    rgb : (H, W, 3) uint8 ndarray
        C-contiguous RGB pixels, EXIF orientation applied, downscaled so ``max(H, W) <= max_side``.
    name : str
        The file name used in messages (control characters removed).
    original_size : tuple of int
        ``(width, height)`` of the image as displayed (after EXIF orientation), before downscaling.
    scale : float
        Downscale factor applied, in (0, 1]: ``rgb`` is about ``original_size * scale``. Divide
        coordinates in ``rgb`` by it to get coordinates in the uploaded file.
    notes : tuple of str
        What was done to the pixels, one short sentence each (orientation, frames, bit depth, ...).
    format : str
        The file's format, one of :data:`SUPPORTED_FORMATS`.
    """

    rgb: np.ndarray
    name: str
    original_size: tuple[int, int]
    scale: float
    notes: tuple[str, ...] = ()
    format: str = ""


def decode_image(
    data: bytes | str | Path | BinaryIO,
    *,
    name: str | None = None,
    max_pixels: int = 40_000_000,
    max_side: int = 2048,
) -> DecodedImage:
    """Decode an untrusted image file into an RGB array, refusing anything unsafe or broken.

    Parameters
    ----------
    data : bytes, str, Path or binary file object
        The file's bytes, a path to it, or an open binary file (e.g. a Streamlit upload).
    name : str, optional
        Name used in messages; defaults to the path, the file object's ``name`` or "uploaded image".
    max_pixels : int
        Images with more than ``width * height`` pixels are refused before decoding.
    max_side : int
        Larger images are downscaled (``cv2.INTER_AREA``) so that their longer side is ``max_side``.

    Returns
    -------
    DecodedImage

    Raises
    ------
    ImageError
        For every input that is not a complete, supported image within the limits.
    """
    if max_pixels < 1 or max_side < 1:
        raise ValueError(f"max_pixels and max_side must be positive, got {max_pixels} and {max_side}")
    raw, label = _read_input(data, name)
    fmt = _sniff_format(raw, label)
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        log.warning("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is set globally: truncated files may decode")
    try:
        return _decode(raw, label, fmt, max_pixels, max_side)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"{label}: refused, the image declares too many pixels ({exc}); "
                         f"accepted: images up to {max_pixels / 1e6:g} megapixels") from exc
    except MemoryError as exc:
        raise ImageError(f"{label}: not enough memory to decode this image; try a smaller one") from exc
    except (OSError, SyntaxError, EOFError) as exc:
        raise ImageError(f"{label}: the {fmt} file is truncated or corrupt ({_one_line(exc)}); "
                         f"accepted: complete {', '.join(SUPPORTED_FORMATS)} files") from exc
    except Exception as exc:  # noqa: BLE001 - untrusted bytes can trip any parser bug; never leak it
        log.info("unexpected %s decoding %s", type(exc).__name__, label, exc_info=True)
        raise ImageError(f"{label}: could not decode the {fmt} file ({type(exc).__name__}: "
                         f"{_one_line(exc)}); {_ACCEPTED}") from exc


def _read_input(data: bytes | str | Path | BinaryIO, name: str | None) -> tuple[bytes, str]:
    """Return the file's bytes and a printable label for messages."""
    if isinstance(data, bytes | bytearray | memoryview):
        raw, label = bytes(data), name or "uploaded image"
    elif isinstance(data, str | Path):
        label = name or str(data)
        raw = _read_path(Path(data), printable(label))
    elif hasattr(data, "read"):
        label = name or str(getattr(data, "name", "") or "uploaded image")
        try:
            raw = data.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise ImageError(f"{printable(label)}: cannot read the upload ({_one_line(exc)})") from exc
        if not isinstance(raw, bytes):
            raise TypeError(f"expected a binary file object, its read() returned {type(raw).__name__}")
    else:
        raise TypeError(f"expected bytes, a path or a binary file object, got {type(data).__name__}")
    label = printable(label)
    if len(raw) > MAX_FILE_BYTES:
        raise ImageError(f"{label}: the file is larger than {MAX_FILE_BYTES // 2**20} MiB; "
                         f"{_ACCEPTED} up to that size")
    return raw, label


def _read_path(path: Path, label: str) -> bytes:
    """Read a file from disk, turning every OS error into an ImageError."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ImageError(f"{label}: the file is larger than {MAX_FILE_BYTES // 2**20} MiB; "
                             f"{_ACCEPTED} up to that size")
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise ImageError(f"{label}: no such file; "
                         "give the path of a JPEG, PNG, GIF, BMP, TIFF or WEBP image") from exc
    except IsADirectoryError as exc:
        raise ImageError(f"{label}: is a folder, not a file; give the path of one image") from exc
    except (OSError, ValueError) as exc:
        raise ImageError(f"{label}: cannot read the file ({_one_line(exc)})") from exc


def _one_line(exc: BaseException, limit: int = 160) -> str:
    """The exception's message on one short line."""
    return printable(" ".join(str(exc).split()) or type(exc).__name__, limit)


def _sniff_format(raw: bytes, label: str) -> str:
    """Return the supported format the magic bytes announce, or raise a precise ImageError."""
    if not raw:
        raise ImageError(f"{label}: the file is empty (0 bytes); {_ACCEPTED}")
    for magic, fmt in _MAGIC:
        if raw.startswith(magic):
            return fmt
    if raw[:4] == b"RIFF" and raw[8:12] == b"WEBP":
        return "WEBP"
    if raw[4:8] == b"ftyp" and raw[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"avif", b"hevc"):
        raise ImageError(f"{label}: unsupported image format (HEIC/HEIF or AVIF, as saved by phones); "
                         f"convert it to JPEG or PNG; {_ACCEPTED}")
    for magic, what in _OTHER_IMAGES:
        if raw.startswith(magic):
            raise ImageError(f"{label}: unsupported image format ({what}); {_ACCEPTED}")
    raise ImageError(f"{label}: not an image: {_describe_non_image(raw)}; {_ACCEPTED}")


def _describe_non_image(raw: bytes) -> str:
    """A few words on what a non-image file looks like."""
    for magic, what in _NOT_IMAGES:
        if raw.startswith(magic):
            return what
    text = raw[:1024].decode("utf-8", errors="replace")
    bad = sum(ch == "\ufffd" or (ch < " " and ch not in "\t\n\r\f") for ch in text)
    if bad <= 0.02 * len(text):
        if text.lstrip().startswith("<"):
            return "the file is HTML, XML or SVG text"
        return "the file is text"
    return f"its first bytes ({raw[:8].hex(' ')}) match no known image format"


def _decode(raw: bytes, label: str, fmt: str, max_pixels: int, max_side: int) -> DecodedImage:
    """Open lazily, check the size, decode, orient, convert to RGB and downscale."""
    notes: list[str] = []
    with Image.open(io.BytesIO(raw), formats=[fmt]) as im:
        width, height = _checked_size(im, label, max_pixels)
        frame_note = _frames_note(im, fmt)
        notes += [frame_note] if frame_note else []
        scale = min(1.0, max_side / max(width, height))
        if fmt == "JPEG" and scale < 1.0:  # let libjpeg decode at 1/2, 1/4 or 1/8 size: less memory
            im.draft(None, (math.ceil(width * scale), math.ceil(height * scale)))
        im.load()
        orientation = _orientation(im, notes)  # after load(): some formats keep EXIF after the pixels
        shown = (height, width) if orientation in (5, 6, 7, 8) else (width, height)
        oriented = _apply_orientation(im, orientation, notes)
        rgb = _to_rgb_array(oriented, fmt, raw, notes)
    rgb = _downscale(rgb, shown, scale, notes)
    return DecodedImage(rgb=rgb, name=label, original_size=shown, scale=scale, notes=tuple(notes), format=fmt)


def _checked_size(im: Image.Image, label: str, max_pixels: int) -> tuple[int, int]:
    """The header's (width, height), refused if empty or above ``max_pixels``."""
    width, height = im.size
    if width < 1 or height < 1:
        raise ImageError(f"{label}: the image has no pixels ({width}x{height}); {_ACCEPTED}")
    if width * height > max_pixels:
        raise ImageError(f"{label}: refused, {width}x{height} is {width * height / 1e6:.1f} megapixels; "
                         f"accepted: images up to {max_pixels / 1e6:g} megapixels")
    return width, height


def _frames_note(im: Image.Image, fmt: str) -> str | None:
    """Say that only the first frame (or page) is used, when there are several."""
    n_frames = int(getattr(im, "n_frames", 1))
    if n_frames <= 1:
        return None
    im.seek(0)
    if fmt == "TIFF":
        return f"first page of a multi-page TIFF ({n_frames} pages)"
    return f"first frame of an animated {fmt} ({n_frames} frames)"


def _orientation(im: Image.Image, notes: list[str]) -> int:
    """The EXIF orientation (1-8; 1 when absent or unreadable)."""
    try:
        value = im.getexif().get(_ORIENTATION_TAG, 1)
    except Exception:  # noqa: BLE001 - malformed EXIF must not make the whole image unusable
        log.debug("unreadable EXIF", exc_info=True)
        notes.append("EXIF data unreadable; orientation ignored")
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _apply_orientation(im: Image.Image, orientation: int, notes: list[str]) -> Image.Image:
    """Rotate/flip as the EXIF orientation asks (``PIL.ImageOps.exif_transpose``)."""
    if orientation == 1:
        return im
    notes.append("EXIF orientation applied")
    return ImageOps.exif_transpose(im)


def _to_rgb_array(im: Image.Image, fmt: str, raw: bytes, notes: list[str]) -> np.ndarray:
    """Convert any Pillow mode to a (H, W, 3) uint8 array, noting lossy steps."""
    mode = im.mode
    if mode in _SIXTEEN_BIT_MODES or (fmt == "PNG" and raw[12:16] == b"IHDR" and raw[24] == 16):
        notes.append(f"16-bit {fmt} converted to 8 bits")
    if mode in _SIXTEEN_BIT_MODES:
        wide = np.clip(np.asarray(im).astype(np.int64), 0, 65535)
        gray = ((wide * 255 + 32767) // 65535).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    if mode == "F":
        notes.append("floating-point image converted to 8 bits")
        values = np.nan_to_num(np.asarray(im, dtype=np.float64), nan=0.0, posinf=255.0, neginf=0.0)
        values = values * 255.0 if values.max(initial=0.0) <= 1.0 else values
        gray = np.clip(np.rint(values), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    if mode in _ALPHA_MODES or (mode == "P" and "transparency" in im.info):
        notes.append("alpha channel dropped (transparent areas shown on white)")
        return _over_white(np.asarray(im.convert("RGBA")))
    if mode == "CMYK":
        notes.append("CMYK converted to RGB")
    return np.ascontiguousarray(np.asarray(im.convert("RGB"), dtype=np.uint8))


def _over_white(rgba: np.ndarray) -> np.ndarray:
    """Composite a (H, W, 4) uint8 RGBA array over white; returns (H, W, 3) uint8."""
    alpha = rgba[:, :, 3:].astype(np.uint16)
    mixed = (rgba[:, :, :3].astype(np.uint16) * alpha + 255 * (255 - alpha) + 127) // 255
    return np.ascontiguousarray(mixed.astype(np.uint8))


def _downscale(rgb: np.ndarray, shown: tuple[int, int], scale: float, notes: list[str]) -> np.ndarray:
    """Resize to ``round(shown * scale)`` with INTER_AREA when ``scale < 1``."""
    if scale >= 1.0:
        return rgb
    target = (max(1, round(shown[0] * scale)), max(1, round(shown[1] * scale)))
    notes.append(f"downscaled from {shown[0]}x{shown[1]} to {target[0]}x{target[1]}")
    if (rgb.shape[1], rgb.shape[0]) == target:
        return rgb
    return np.ascontiguousarray(cv2.resize(rgb, target, interpolation=cv2.INTER_AREA))
