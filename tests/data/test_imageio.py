"""Tests for ferviz.data.imageio: every bad upload becomes one ImageError, every good one an RGB array."""

import io
import resource
import struct
import time
import zlib

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile

from ferviz.data.imageio import SUPPORTED_FORMATS, DecodedImage, decode_image
from ferviz.errors import ImageError


def encode(img: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def sample_rgb(width: int = 40, height: int = 30) -> np.ndarray:
    """A smooth colour gradient, (height, width, 3) uint8."""
    yy, xx = np.mgrid[0:height, 0:width]
    return np.stack([xx * 255 // max(width - 1, 1), yy * 255 // max(height - 1, 1),
                     np.full_like(xx, 128)], axis=2).astype(np.uint8)


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def bilevel_png(width: int, height: int) -> bytes:
    """A valid all-black 1-bit PNG, built row by row so that no width x height buffer is ever allocated."""
    compressor = zlib.compressobj(9)
    rows = (b"\x00" + bytes((width + 7) // 8)) * 500
    idat = b"".join(compressor.compress(rows) for _ in range(height // 500))
    idat += compressor.compress((b"\x00" + bytes((width + 7) // 8)) * (height % 500)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat)
            + png_chunk(b"IEND", b""))


VALID = {fmt: encode(Image.fromarray(sample_rgb()), fmt) for fmt in SUPPORTED_FORMATS}


@pytest.mark.parametrize("fmt", SUPPORTED_FORMATS)
def test_every_supported_format_decodes(fmt):
    out = decode_image(VALID[fmt], name=f"x.{fmt.lower()}")
    assert isinstance(out, DecodedImage) and out.format == fmt
    assert out.rgb.shape == (30, 40, 3) and out.rgb.dtype == np.uint8 and out.rgb.flags.c_contiguous
    assert out.original_size == (40, 30) and out.scale == 1.0


def test_lossless_png_round_trip_is_exact():
    assert np.array_equal(decode_image(VALID["PNG"]).rgb, sample_rgb())


@pytest.mark.parametrize(("data", "match"), [
    (b"", r"photo\.jpg: the file is empty \(0 bytes\); accepted: JPEG, PNG"),
    (b"Dear reviewer,\nplease find attached my photo.\n", r"photo\.jpg: not an image: the file is text"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >>", r"photo\.jpg: not an image: .*PDF"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", r"not an image: .*SVG"),
    (b"\x00\x01\x02\x03\x04\x05\x06\x07" * 8, r"not an image: .*match no known image format"),
    (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", r"unsupported image format \(HEIC"),
])
def test_non_images_are_named_as_such(data, match):
    with pytest.raises(ImageError, match=match):
        decode_image(data, name="photo.jpg")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_files_are_errors(fmt):
    whole = encode(Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), np.uint8)), fmt)
    assert not ImageFile.LOAD_TRUNCATED_IMAGES
    with pytest.raises(ImageError, match=rf"cut\.{fmt.lower()}: the {fmt} file is truncated or corrupt"):
        decode_image(whole[: len(whole) // 2], name=f"cut.{fmt.lower()}")


def test_decompression_bomb_is_refused_before_decoding(monkeypatch):
    bomb = bilevel_png(20_000, 20_000)  # 400 megapixels in about 60 KB
    assert len(bomb) < 200_000
    loads = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: loads.append(1) or real_load(self))
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    with pytest.raises(ImageError, match=r"bomb\.png: refused.*accepted: images up to 40 megapixels"):
        decode_image(bomb, name="bomb.png")
    assert time.perf_counter() - start < 1.0
    assert loads == []
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 100_000  # KiB


def test_pixel_limit_is_checked_from_the_header():
    with pytest.raises(ImageError,
                       match=r"8000x6000 is 48\.0 megapixels; accepted: images up to 40 megapixels"):
        decode_image(bilevel_png(8000, 6000))
    with pytest.raises(ImageError, match="up to 0.001 megapixels"):
        decode_image(VALID["PNG"], max_pixels=1000)


def test_sixteen_bit_gray_png_is_scaled_to_eight_bits():
    wide = np.array([[0, 257, 32896, 65535]], dtype=np.uint16)
    out = decode_image(encode(Image.fromarray(wide), "PNG"))
    assert out.rgb[0, :, 0].tolist() == [0, 1, 128, 255]
    assert np.array_equal(out.rgb[..., 0], out.rgb[..., 2])
    assert "16-bit PNG converted to 8 bits" in out.notes


def test_sixteen_bit_rgb_png_gets_a_note():
    wide = np.zeros((4, 4, 3), np.uint16)
    wide[..., 2] = 65535  # OpenCV writes BGR: channel 2 is red
    ok, buf = cv2.imencode(".png", wide)
    out = decode_image(buf.tobytes())
    assert ok and out.rgb[0, 0].tolist() == [255, 0, 0]
    assert "16-bit PNG converted to 8 bits" in out.notes


def test_rgba_alpha_is_dropped_over_white():
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[0, 0] = (10, 20, 30, 255)  # opaque keeps its colour
    rgba[0, 1] = (10, 20, 30, 0)  # transparent becomes white
    out = decode_image(encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert out.rgb[0, 0].tolist() == [10, 20, 30] and out.rgb[0, 1].tolist() == [255, 255, 255]
    assert any(note.startswith("alpha channel dropped") for note in out.notes)


def test_palette_png_decodes_to_its_colours():
    pal = Image.new("P", (3, 1))
    pal.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * 759)
    pal.putdata([0, 1, 2])
    out = decode_image(encode(pal, "PNG"))
    assert out.rgb[0].tolist() == [[255, 0, 0], [0, 255, 0], [0, 0, 255]] and out.notes == ()


def test_cmyk_jpeg_becomes_rgb():
    cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # pure red
    out = decode_image(encode(cmyk, "JPEG", quality=95))
    red, green, blue = out.rgb[8, 8].astype(int)
    assert red > 230 and green < 30 and blue < 30
    assert "CMYK converted to RGB" in out.notes


def test_grayscale_jpeg_has_three_equal_channels():
    out = decode_image(encode(Image.fromarray(sample_rgb()[..., 0]), "JPEG"))
    assert out.rgb.shape == (30, 40, 3)
    assert np.array_equal(out.rgb[..., 0], out.rgb[..., 1])
    assert np.array_equal(out.rgb[..., 1], out.rgb[..., 2])


@pytest.mark.parametrize(("fmt", "note"), [
    ("GIF", "first frame of an animated GIF (3 frames)"),
    ("PNG", "first frame of an animated PNG (3 frames)"),
    ("WEBP", "first frame of an animated WEBP (3 frames)"),
    ("TIFF", "first page of a multi-page TIFF (3 pages)"),
])
def test_animations_and_multi_page_files_use_the_first_frame(fmt, note):
    frames = [Image.new("RGB", (8, 8), colour) for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    extra = {"lossless": True} if fmt == "WEBP" else {}
    out = decode_image(encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, **extra))
    assert out.rgb[4, 4].tolist() == [255, 0, 0]
    assert note in out.notes


def test_exif_orientation_is_applied():
    stored = np.zeros((20, 40, 3), np.uint8)  # 40 wide, 20 high, red block in the top-left corner
    stored[:8, :8] = (255, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = 6  # display = stored rotated 90 degrees clockwise
    out = decode_image(encode(Image.fromarray(stored), "JPEG", quality=95, exif=exif.tobytes()))
    assert out.rgb.shape == (40, 20, 3) and out.original_size == (20, 40)
    assert out.rgb[3, 16, 0] > 200 and out.rgb[3, 3, 0] < 50  # the block is now top-right
    assert "EXIF orientation applied" in out.notes


def test_one_pixel_image_decodes():
    out = decode_image(encode(Image.new("RGB", (1, 1), (7, 8, 9)), "PNG"))
    assert out.rgb.tolist() == [[[7, 8, 9]]]


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_large_photo_is_downscaled_with_a_note(fmt):
    out = decode_image(encode(Image.new("RGB", (5000, 3000), (200, 100, 50)), fmt))
    assert out.rgb.shape == (1229, 2048, 3) and out.original_size == (5000, 3000)
    assert out.scale == pytest.approx(2048 / 5000)
    assert "downscaled from 5000x3000 to 2048x1229" in out.notes
    assert np.abs(out.rgb[600, 1000].astype(int) - [200, 100, 50]).max() <= 3


def test_paths_and_file_objects(tmp_path):
    path = tmp_path / "face.png"
    path.write_bytes(VALID["PNG"])
    assert decode_image(path).name == str(path)
    assert decode_image(str(path), name="mine.png").name == "mine.png"
    assert decode_image(io.BytesIO(VALID["PNG"])).rgb.shape == (30, 40, 3)
    with pytest.raises(ImageError, match="missing.jpg: no such file"):
        decode_image(tmp_path / "missing.jpg")
    with pytest.raises(ImageError, match="is a folder"):
        decode_image(tmp_path)


def test_messages_are_one_line_even_for_hostile_names():
    with pytest.raises(ImageError) as info:
        decode_image(b"", name="evil\nname\r.jpg")
    assert "\n" not in str(info.value) and "\r" not in str(info.value)


def _valid_files() -> list[bytes]:
    rng = np.random.default_rng(1)
    noise = Image.fromarray(rng.integers(0, 256, (24, 32, 3), np.uint8))
    return [encode(noise, "PNG"), encode(noise, "JPEG"), encode(noise.convert("P"), "GIF"), VALID["WEBP"],
            VALID["TIFF"], VALID["BMP"]]


FILES = _valid_files()


def _decodes_or_refuses(data: bytes) -> None:
    try:
        out = decode_image(data, name="fuzz", max_pixels=4_000_000)
    except ImageError as exc:
        assert str(exc).startswith("fuzz: ") and "\n" not in str(exc)
    else:
        assert out.rgb.dtype == np.uint8 and out.rgb.ndim == 3 and out.rgb.shape[2] == 3


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Pillow warns about broken metadata it skips ("Corrupt EXIF data", ...); those files still decode or raise
PILLOW_NOISE = pytest.mark.filterwarnings("ignore::UserWarning:PIL",
                                          "ignore::PIL.Image.DecompressionBombWarning")


@PILLOW_NOISE
@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes_never_escape(data):
    _decodes_or_refuses(data)


@PILLOW_NOISE
@FUZZ
@given(st.sampled_from(FILES), st.floats(0, 1))
def test_prefixes_of_valid_files_never_escape(whole, fraction):
    _decodes_or_refuses(whole[: int(len(whole) * fraction)])


@PILLOW_NOISE
@FUZZ
@given(st.sampled_from(FILES), st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)),
                                        min_size=1, max_size=8))
def test_corrupted_valid_files_never_escape(whole, edits):
    data = bytearray(whole)
    for where, value in edits:
        data[int(where * len(data))] = value
    _decodes_or_refuses(bytes(data))
