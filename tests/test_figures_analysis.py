"""Tests for the analysis figures: confusion matrix, reliability diagram, HOG walk-through, comparison."""

import numpy as np
import pandas as pd
import pytest

from ferviz.figures.compare import (
    audit_styler,
    comparison_figure,
    measured_table,
    series_colours,
    side_by_side_table,
)
from ferviz.figures.evaluate import (
    confusion_figure,
    most_confused,
    per_class_figure,
    reliability_arrays,
    reliability_figure,
    row_normalised,
)
from ferviz.figures.hog import (
    block_figure,
    block_origin,
    block_values,
    cell_grid_figure,
    cell_histogram_figure,
    descriptor_figure,
    gradient_figures,
    input_planes,
    input_planes_figure,
)
from ferviz.hog import hog_steps
from ferviz.metrics import compute_report, reliability
from ferviz.reported import consistency_audit, reported_frame
from ferviz.reports import comparison_frame


@pytest.fixture(scope="module")
def face():
    yy, xx = np.mgrid[0:64, 0:64]
    return (127 + 100 * np.sin(xx / 5.0) * np.cos(yy / 7.0)).astype(np.uint8)


@pytest.fixture(scope="module")
def scored():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 120)
    y[y == 3] = 2  # class 3 never occurs: an empty row
    probs = rng.dirichlet(np.ones(4), 120)
    return y, probs, compute_report(y, None, ["a", "b", "c", "d"], probs=probs)


def test_confusion_heatmap_has_one_cell_per_pair_and_normalised_rows_sum_to_one(scored):
    _, _, report = scored
    counts = confusion_figure(report.matrix(), report.class_names)
    assert np.asarray(counts.data[0].z).shape == (4, 4)
    assert np.array_equal(np.asarray(counts.data[0].z), report.matrix())
    fig = confusion_figure(report.matrix(), report.class_names, normalise=True, highlight=(2, 1))
    z = np.asarray(fig.data[0].z)
    assert np.allclose(z[:3].sum(axis=1), 1.0) and np.all(z[3] == 0)
    assert len(fig.layout.shapes) == 1 and fig.layout.shapes[0].x0 == 0.5 and fig.layout.shapes[0].y0 == 1.5
    assert np.array_equal(row_normalised([[1, 3], [0, 0]]), [[0.25, 0.75], [0.0, 0.0]])
    assert most_confused([[5, 1, 0], [4, 5, 0], [0, 0, 5]]) == (1, 0)
    assert most_confused(np.eye(3, dtype=int)) == (0, 0)
    with pytest.raises(ValueError, match="class names"):
        confusion_figure(report.matrix(), ["a", "b"])


def test_reliability_diagram_has_a_bar_per_bin_at_the_bin_accuracy(scored):
    y, probs, report = scored
    rel = reliability(probs, y)
    fig = reliability_figure(rel)
    bars = fig.data[0]
    assert bars.type == "bar" and len(bars.x) == len(rel.counts) == 15
    assert np.allclose(np.asarray(bars.y, dtype=float), rel.accuracy, equal_nan=True)
    assert f"{100 * rel.ece:.2f}" in fig.layout.title.text
    from_dict = reliability_arrays(report.reliability)  # JSON form: None for empty bins
    assert np.allclose(from_dict.accuracy, rel.accuracy, equal_nan=True)
    assert from_dict.ece == pytest.approx(rel.ece)
    assert len(reliability_figure(report.reliability).data[0].x) == 15


def test_per_class_figure_groups_three_rates(scored):
    fig = per_class_figure(scored[2].per_class_frame())
    assert [t.name for t in fig.data] == ["precision", "recall", "f1"] and len(fig.data[0].x) == 4


@pytest.mark.parametrize(("cell", "bins", "block"), [(8, 9, 2), (16, 6, 4), (6, 18, 1)])
def test_hog_figures_have_the_shapes_of_the_steps(face, cell, bins, block):
    steps = hog_steps(face, cell, bins, block)
    for fig in gradient_figures(steps).values():
        assert np.asarray(fig.data[0].z).shape == (64, 64)
    n_cells = 64 // cell
    hist = cell_histogram_figure(steps, n_cells - 1, 0)
    assert len(hist.data[0].x) == bins and np.allclose(hist.data[0].y, steps.cell_histograms[-1, 0])
    table = block_values(steps, n_cells - 1, n_cells - 1)
    assert len(table) == block * block * bins
    br, bc = block_origin(steps, n_cells - 1, n_cells - 1)
    assert (br, bc) == (n_cells - block, n_cells - block)
    assert np.allclose(table["after"], steps.blocks[br, bc].ravel())
    assert np.allclose(table["before"], steps.cell_histograms[br:br + block, bc:bc + block].ravel())
    fig = block_figure(steps, 0, 0)
    assert [len(t.y) for t in fig.data] == [block * block * bins] * 2
    assert len(descriptor_figure(steps).data[0].y) == steps.descriptor.size
    grid = cell_grid_figure(steps, 1, 2)
    assert len(grid.layout.shapes) == 2 * (n_cells - 1) + 2  # grid lines, block, cell


def test_input_planes_per_mode(face):
    planes = input_planes(face)
    assert {k: v.shape for k, v in planes.items()} == {"gray": (1, 64, 64), "hog": (1, 64, 64),
                                                      "gray+hog": (2, 64, 64)}
    assert np.array_equal(planes["gray"][0], face) and np.array_equal(planes["gray+hog"][1], planes["hog"][0])
    fig = input_planes_figure(planes, current="hog")
    assert len(fig.data) == 4 and "hog (this model): HOG plane" in [a.text for a in fig.layout.annotations]


def test_comparison_figure_draws_one_trace_per_source_series():
    frame = comparison_frame(found=None, models_dir="/nonexistent")
    fig = comparison_figure(frame, "accuracy", ["FER2013", "CK+"])
    names = {t.name for t in fig.data}
    assert names == {"reported (Table 4)", "published"}
    bars = sum(len(t.x) for t in fig.data)
    expected = frame[(frame.metric == "accuracy") & frame.dataset.isin(["FER2013", "CK+"])
                     & frame.value.notna()]
    assert bars == len(expected)
    empty = comparison_figure(frame, "gar", ["nowhere"])
    assert not empty.data and "No gar" in empty.layout.title.text
    colours = series_colours(["measured · a", "reported (Table 4)", "published", "measured · b"])
    assert colours["measured · a"] != colours["measured · b"] and colours["published"] == "#8c8c8c"


def test_tables_for_the_compare_page():
    frame = comparison_frame(models_dir="/nonexistent")
    table = side_by_side_table(frame, "FER2013")
    reported = table[table.source == "reported (Tables 4-10)"]
    assert len(reported) == 4 and reported[["accuracy", "gar", "far"]].notna().all().all()
    assert measured_table(pd.DataFrame()).empty
    audit = consistency_audit()
    html = audit_styler(audit).to_html()
    assert (audit.verdict == "violated").any() and "#fbd5d5" in html
    consistent = consistency_audit(reported_frame().assign(value=0.0).query("metric in ['gar', 'recall']"))
    assert "#fbd5d5" not in audit_styler(consistent).to_html()
