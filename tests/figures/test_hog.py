"""HOG figures: the angle masked where the gradient is weak, legible glyphs at every cell size, pixel axes."""

from __future__ import annotations

import numpy as np
import pytest

from ferviz.data.hog import hog_steps
from ferviz.figures.hog import (
    ANGLE_MIN_MAGNITUDE,
    glyph_figure,
    glyph_picture,
    gradient_figures,
    heatmap_figure,
    input_planes,
    input_planes_figure,
    masked_angle,
)


def _vertical_edge(side: int = 64, at: int = 40) -> np.ndarray:
    """Dark left of column ``at``, bright from it on: the gradient is horizontal (angle 0) on the edge."""
    image = np.zeros((side, side))
    image[:, at:] = 1.0
    return image


def test_angle_is_nan_where_the_magnitude_is_below_the_threshold():
    steps = hog_steps(_vertical_edge())
    angle = masked_angle(steps)
    weak = steps.magnitude < ANGLE_MIN_MAGNITUDE
    assert np.isnan(angle[weak]).all() and not np.isnan(angle[~weak]).any()
    np.testing.assert_array_equal(angle[~weak], steps.angle[~weak])
    # only the two columns either side of the edge have a gradient (centred difference = 1), at 0 degrees
    assert sorted(set(np.nonzero(~weak)[1])) == [39, 40]
    assert np.all(angle[:, 39:41] == 0.0)
    assert np.isnan(masked_angle(hog_steps(np.full((16, 16), 0.5)))).all()  # flat: no direction anywhere
    assert not np.isnan(masked_angle(steps, 0.0)).any()
    with pytest.raises(ValueError, match=">= 0"):
        masked_angle(steps, -1)


def test_the_angle_figure_draws_the_masked_angle_and_says_so():
    steps = hog_steps(_vertical_edge())
    figs = gradient_figures(steps)
    z = np.asarray(figs["angle"].data[0].z, dtype=float)
    assert np.isnan(z).sum() == (steps.magnitude < ANGLE_MIN_MAGNITUDE).sum()
    assert f"magnitude ≥ {ANGLE_MIN_MAGNITUDE:g}" in figs["angle"].layout.title.text
    units = {name: f.data[0].colorbar.title.text for name, f in figs.items()}
    assert units == {"gx": "grey-level difference", "gy": "grey-level difference",
                     "magnitude": "grey-level difference", "angle": "degrees"}


@pytest.mark.parametrize("cell", [4, 8, 16, 32])
def test_glyphs_are_full_brightness_and_as_long_as_the_cell_at_every_size(cell):
    steps = hog_steps(_vertical_edge(at=cell * (64 // cell // 2) + cell // 2), cell_size=cell, block_size=1)
    up = 4
    picture = glyph_picture(steps, upscale=up)
    assert picture.shape == (64 * up, 64 * up) and picture.max() == pytest.approx(1.0)
    # the edge runs down the middle of a column of cells; in each, the brightest glyph is bin 0's line,
    # perpendicular to 10 degrees: nearly vertical, 0.9 of the cell long whatever the cell size
    c0 = (64 // cell // 2) * cell * up
    rows, cols = np.nonzero(picture[: cell * up, c0: c0 + cell * up] > 0.99)
    tilt = np.deg2rad(10)
    assert np.ptp(rows) / up == pytest.approx(0.9 * cell * np.cos(tilt), abs=0.6)
    assert np.ptp(cols) / up == pytest.approx(0.9 * cell * np.sin(tilt), abs=0.9)
    assert glyph_picture(hog_steps(np.full((64, 64), 0.3))).max() == 0.0  # flat: nothing drawn


def test_glyph_figure_axes_count_image_pixels():
    steps = hog_steps(_vertical_edge(), cell_size=16)
    fig = glyph_figure(steps)
    trace = fig.data[0]
    assert trace.dx == 0.25 and trace.x0 == pytest.approx(-0.375)  # 4x finer, pixel 0 centred at 0
    assert tuple(fig.layout.xaxis.range) == (-0.5, 63.5) and tuple(fig.layout.yaxis.range) == (63.5, -0.5)
    assert trace.zmax == pytest.approx(steps.cell_histograms.max())
    assert "bin value" in trace.colorbar.title.text and "16-px cell" in fig.layout.title.text


def test_image_axes_are_in_pixels_or_hidden():
    fig = heatmap_figure(np.zeros((64, 64)), "face", colorbar="grey level (0-1)")
    assert fig.layout.xaxis.title.text == "x (px)" and fig.layout.yaxis.title.text == "y (px)"
    assert list(fig.layout.xaxis.tickvals) == [0, 16, 32, 48] and fig.layout.xaxis.showgrid is False
    assert fig.data[0].colorbar.title.text == "grey level (0-1)"
    planes = input_planes_figure(input_planes(np.zeros((64, 64), np.uint8)))
    assert all(planes.layout[f"xaxis{i if i > 1 else ''}"].showticklabels is False for i in range(1, 5))
    assert sum(1 for t in planes.data if t.showscale) == 1


def test_crossing_lines_are_not_summed():
    """At a cell centre every line crosses: the picture shows the cell's largest bin, not the sum of all."""
    image = np.random.default_rng(0).random((64, 64))
    steps = hog_steps(image, cell_size=16)
    picture = glyph_picture(steps, upscale=4)
    top = steps.cell_histograms.max()
    for r, c in [(0, 0), (1, 2), (3, 3)]:
        centre = picture[r * 64 + 32, c * 64 + 32]  # fine pixel just below-right of the cell centre
        assert centre == pytest.approx(steps.cell_histograms[r, c].max() / top)
        assert centre < steps.cell_histograms[r, c].sum() / top / 2  # a sum would be several times brighter
