"""Tests of ferviz.data.hog: agreement with scikit-image, hand-computed values, shapes, ranges, errors."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from skimage.feature import hog as skimage_hog

from ferviz.data.hog import HogSteps, hog_descriptor, hog_steps, render_hog
from ferviz.errors import ImageError


def _skimage(image, cell_size=8, n_bins=9, block_size=2):
    """skimage's descriptor and its glyph image for the same parameters, 'L2' block norm."""
    return skimage_hog(
        image, orientations=n_bins, pixels_per_cell=(cell_size, cell_size),
        cells_per_block=(block_size, block_size), block_norm="L2", visualize=True, feature_vector=True,
    )


def _ramp(shape=(64, 64), degrees=30.0):
    """A linear ramp rising along ``degrees`` (counter-clockwise from +x, y up), in [0, 1]."""
    rows, cols = np.mgrid[: shape[0], : shape[1]].astype(float)
    values = cols * np.cos(np.deg2rad(degrees)) - rows * np.sin(np.deg2rad(degrees))
    return (values - values.min()) / np.ptp(values)


def _blobs(shape=(64, 64)):
    """Smooth blobs and a disc: gradients in every direction, many of them zero."""
    rows, cols = np.mgrid[: shape[0], : shape[1]].astype(float)
    image = 0.5 + 0.25 * np.sin(cols / 5.0) * np.cos(rows / 7.0)
    image[(rows - 30) ** 2 + (cols - 20) ** 2 < 100] = 0.9
    return image


def _step(vertical=True, size=16):
    """Dark left (top) half, bright right (bottom) half."""
    image = np.zeros((size, size))
    if vertical:
        image[:, size // 2 :] = 1.0
    else:
        image[size // 2 :, :] = 1.0
    return image


RNG_IMAGES = [np.random.default_rng(seed).random((64, 64)) for seed in (0, 1, 2)]


@pytest.mark.parametrize(
    "image", RNG_IMAGES + [_ramp(), _ramp(degrees=135.0), _blobs()],
    ids=["rand0", "rand1", "rand2", "ramp30", "ramp135", "blobs"],
)
def test_agrees_with_skimage_default_parameters(image):
    reference, glyphs = _skimage(image)
    steps = hog_steps(image)
    np.testing.assert_allclose(steps.descriptor, reference, rtol=0, atol=1e-6)
    np.testing.assert_allclose(steps.rendered, glyphs / glyphs.max(), rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    ("shape", "cell_size", "n_bins", "block_size"),
    [((48, 70), 6, 6, 3), ((37, 41), 7, 7, 2), ((64, 64), 4, 12, 1), ((20, 24), 2, 4, 2)],
)
def test_agrees_with_skimage_other_parameters(shape, cell_size, n_bins, block_size):
    image = np.random.default_rng(3).random(shape)
    reference, glyphs = _skimage(image, cell_size, n_bins, block_size)
    steps = hog_steps(image, cell_size, n_bins, block_size)
    np.testing.assert_allclose(steps.descriptor, reference, rtol=0, atol=1e-6)
    np.testing.assert_allclose(steps.rendered, glyphs / glyphs.max(), rtol=0, atol=1e-6)


@settings(max_examples=25, deadline=None)
@given(
    rows=st.integers(16, 40), cols=st.integers(16, 40), cell_size=st.integers(2, 8),
    n_bins=st.integers(1, 12), block_size=st.integers(1, 3), seed=st.integers(0, 2**16),
)
def test_agrees_with_skimage_any_geometry(rows, cols, cell_size, n_bins, block_size, seed):
    if min(rows, cols) < cell_size * block_size:
        return
    image = np.random.default_rng(seed).random((rows, cols))
    reference, _ = _skimage(image, cell_size, n_bins, block_size)
    np.testing.assert_allclose(hog_descriptor(image, cell_size, n_bins, block_size), reference,
                               rtol=0, atol=1e-6)


def test_uint8_is_divided_by_255():
    image = np.random.default_rng(4).integers(0, 256, (64, 64)).astype(np.uint8)
    steps = hog_steps(image)
    np.testing.assert_array_equal(steps.image, image / 255.0)
    np.testing.assert_allclose(steps.descriptor, _skimage(image / 255.0)[0], rtol=0, atol=1e-6)


def test_shapes_for_a_64x64_image():
    steps = hog_steps(RNG_IMAGES[0])
    for name in ("image", "gx", "gy", "magnitude", "angle", "rendered"):
        assert getattr(steps, name).shape == (64, 64), name
    assert steps.cell_histograms.shape == (8, 8, 9)
    assert steps.blocks.shape == (7, 7, 2, 2, 9)
    assert steps.descriptor.shape == (1764,)
    assert steps.descriptor.dtype == np.float64 and steps.rendered.dtype == np.float32
    assert (steps.cell_size, steps.n_bins, steps.block_size) == (8, 9, 2)
    np.testing.assert_allclose(steps.bin_edges, np.arange(0, 181, 20))


def test_partial_cells_are_ignored():
    steps = hog_steps(np.random.default_rng(5).random((70, 50)))
    assert steps.cell_histograms.shape == (8, 6, 9)
    assert steps.blocks.shape == (7, 5, 2, 2, 9)
    assert np.all(steps.rendered[64:, :] == 0) and np.all(steps.rendered[:, 48:] == 0)


def test_vertical_step_edge_by_hand():
    steps = hog_steps(_step(vertical=True))  # 16x16: columns 0-7 dark, 8-15 bright
    expected_gx = np.zeros((16, 16))
    expected_gx[:, 7:9] = 1.0  # I(r, 8) - I(r, 6) and I(r, 9) - I(r, 7), on every row
    np.testing.assert_array_equal(steps.gx, expected_gx)
    np.testing.assert_array_equal(steps.gy, np.zeros((16, 16)))
    np.testing.assert_array_equal(steps.magnitude, expected_gx)
    assert np.all(steps.angle == 0.0)
    # Each cell in columns 0-7 or 8-15 holds one edge column: 8 pixels of magnitude 1, averaged over 64.
    expected_hist = np.zeros((2, 2, 9))
    expected_hist[..., 0] = 8 / 64
    np.testing.assert_allclose(steps.cell_histograms, expected_hist)
    # One block of four equal votes: each becomes 0.125 / sqrt(4 * 0.125**2 + 1e-10), about 0.5.
    np.testing.assert_allclose(steps.descriptor, expected_hist.ravel() * 4, atol=1e-8)


def test_bright_left_edge_also_votes_in_bin_0():
    steps = hog_steps(1.0 - _step(vertical=True))  # arctan2(0, -1) = 180 degrees wraps to 0
    assert steps.gx[0, 7] == -1.0
    assert np.all(steps.angle == 0.0)
    assert steps.cell_histograms[..., 1:].sum() == 0


def test_horizontal_step_edge_votes_at_90_degrees():
    steps = hog_steps(_step(vertical=False))  # rows 0-7 dark, 8-15 bright
    assert steps.gy[7, 3] == -1.0 and steps.gy[8, 3] == -1.0  # GT_Y points up: I(r-1) - I(r+1)
    assert steps.angle[7, 3] == 90.0
    hist = steps.cell_histograms
    assert np.all(hist[..., 4] == 8 / 64) and hist.sum() == pytest.approx(4 * 8 / 64)


def test_angle_is_measured_clockwise_on_screen():
    """Brighter towards the upper right: the paper's arctan(GT_Y / GT_X) is 45, skimage's angle 135."""
    steps = hog_steps(_ramp(degrees=45.0))
    inner = (slice(1, -1), slice(1, -1))
    assert np.all(steps.gx[inner] > 0) and np.all(steps.gy[inner] > 0)
    np.testing.assert_allclose(steps.angle[inner], 135.0)
    assert np.argmax(steps.cell_histograms.sum(axis=(0, 1))) == 6  # [120, 140)


def test_angle_range_including_a_rounding_to_180():
    image = np.full((16, 16), 0.3)
    image[4, 5], image[6, 5] = 0.30000000000000004, 0.3  # row difference of -5.6e-17 at (5, 5)
    image[5, 4], image[5, 6] = 0.0, 1.0  # column difference of 1
    steps = hog_steps(image)
    assert steps.angle[5, 5] == 0.0  # -3e-15 degrees mod 180 rounds to 180.0, folded back to 0
    for angle in [steps.angle] + [hog_steps(other).angle for other in RNG_IMAGES]:
        assert angle.min() >= 0.0 and angle.max() < 180.0


@pytest.mark.parametrize("image", RNG_IMAGES + [_blobs(), _step()], ids=["r0", "r1", "r2", "blobs", "step"])
def test_each_block_has_norm_at_most_one(image):
    blocks = hog_steps(image).blocks
    norms = np.sqrt(np.sum(blocks**2, axis=(2, 3, 4)))
    assert np.all(norms <= 1.0)
    assert np.all(blocks >= 0.0)


def test_flat_image_gives_zeros_not_nans():
    steps = hog_steps(np.full((32, 32), 0.5))
    assert np.all(steps.descriptor == 0) and np.all(steps.rendered == 0)


def test_rendered_image_range_and_determinism():
    image = _blobs()
    first, second = render_hog(image), render_hog(image.copy())
    assert first.shape == (64, 64) and first.dtype == np.float32
    assert first.min() >= 0.0 and first.max() == 1.0
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first, hog_steps(image).rendered)
    np.testing.assert_array_equal(hog_descriptor(image), hog_steps(image).descriptor)


def test_steps_are_frozen_and_input_untouched():
    image = RNG_IMAGES[1].copy()
    steps = hog_steps(image)
    assert isinstance(steps, HogSteps)
    with pytest.raises(dataclasses.FrozenInstanceError):
        steps.n_bins = 3
    with pytest.raises(ValueError, match="read-only"):
        steps.gx[0, 0] = 1.0
    np.testing.assert_array_equal(image, RNG_IMAGES[1])
    assert steps.image is not image


@pytest.mark.parametrize(
    ("image", "match"),
    [
        (np.zeros((64, 64, 3)), r"grayscale image of shape \(H, W\); got shape \(64, 64, 3\)"),
        (np.zeros(64), r"shape \(64,\)"),
        (np.zeros((15, 64)), "at least 16x16 for 8-px cells and 2x2 blocks; got 15x64"),
        (np.zeros((64, 10), dtype=np.uint8), "at least 16x16 .* got 64x10"),
        (np.zeros((64, 64), dtype=np.int32), "uint8 or float .* got dtype int32"),
        (np.full((64, 64), 255.0), r"finite grey levels in \[0, 1\]"),
        (np.full((64, 64), np.nan), r"finite grey levels in \[0, 1\]"),
    ],
    ids=["rgb", "1d", "short", "narrow", "int32", "0-255-float", "nan"],
)
def test_bad_images_raise_image_error(image, match):
    with pytest.raises(ImageError, match=match):
        hog_steps(image)
    with pytest.raises(ImageError, match=match):
        render_hog(image)


def test_minimum_size_follows_the_parameters():
    with pytest.raises(ImageError, match="at least 18x18 for 6-px cells and 3x3 blocks"):
        hog_descriptor(np.zeros((17, 40)), cell_size=6, block_size=3)
    assert hog_descriptor(np.zeros((18, 18)), cell_size=6, block_size=3).shape == (81,)


@pytest.mark.parametrize("kwargs", [{"cell_size": 0}, {"n_bins": -1}, {"block_size": 1.5}])
def test_bad_parameters_raise_value_error(kwargs):
    with pytest.raises(ValueError, match="must be a positive integer"):
        hog_descriptor(np.zeros((64, 64)), **kwargs)
