"""Tests for the analysis figures: confusion matrix, reliability diagram, HOG walk-through, comparison."""

import numpy as np
import pandas as pd
import pytest

from ferviz.data.hog import hog_steps
from ferviz.figures.compare import (
    ablation_spread_figure,
    audit_styler,
    comparison_figure,
    leakage_figure,
    measured_table,
    paired_figure,
    series_colours,
    side_by_side_table,
)
from ferviz.figures.evaluate import (
    clicked_cell,
    confusion_figure,
    disagreement_figure,
    most_confused,
    per_class_figure,
    reliability_arrays,
    reliability_figure,
    row_normalised,
    similarity_figure,
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
from ferviz.results.metrics import compute_report, reliability
from ferviz.results.reported import consistency_audit, reported_frame
from ferviz.results.reports import comparison_frame


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
    bars = sum(len(t.y) for t in fig.data)
    assert all(t.orientation == "h" for t in fig.data)  # entry names on the y axis, read level
    assert [a.text for a in fig.layout.annotations] == ["FER2013", "CK+"]  # one panel per dataset, in order
    assert len({t.name for t in fig.data if t.showlegend}) == len(names)  # each source once in the legend
    expected = frame[(frame.metric == "accuracy") & frame.dataset.isin(["FER2013", "CK+"])
                     & frame.value.notna()]
    assert bars == len(expected)
    for trace in fig.data:  # every bar says its value
        assert list(trace.text) == [f"{v:.1f}" for v in trace.x]
    empty = comparison_figure(frame, "gar", ["nowhere"])
    assert not empty.data and "No gar" in empty.layout.title.text
    colours = series_colours(["measured · a", "reported (Table 4)", "published", "measured · b"])
    assert colours["measured · a"] != colours["measured · b"] and colours["published"] == "#8c8c8c"


def test_comparison_bars_keep_a_models_numbers_together_and_each_bar_on_its_own_row():
    def row(entry, kind, series, value, std=np.nan):
        return {"dataset": "CK+", "metric": "accuracy", "entry": entry, "source_kind": kind, "series": series,
                "value": value, "std": std, "source": kind, "protocol": "", "model": "", "detail": ""}

    frame = pd.DataFrame([
        row("faceapi", "measured", "measured · all (cross-dataset)", 87.7),
        row("Rival", "published", "published", 90.0),
        row("Proposed / dam", "measured", "measured · all (cross-dataset)", 71.41),
        row("Proposed / dam", "measured", "measured · 10-fold CV", 86.42, 5.53),
        row("Base / b", "reported", "reported (Table 4)", 92.86),
        row("Proposed / dam", "reported", "reported (Table 4)", 96.78),
    ])
    fig = comparison_figure(frame, "accuracy")
    order = list(fig.layout.yaxis.categoryarray)[::-1]  # top to bottom
    assert order == ["Proposed / dam — reported (Table 4)", "Proposed / dam — measured, all (cross-dataset)",
                     "Proposed / dam — measured, 10-fold CV", "Base / b", "faceapi", "Rival"]
    texts = {y: t for trace in fig.data for y, t in zip(trace.y, trace.text, strict=True)}
    assert texts["Proposed / dam — measured, 10-fold CV"] == "86.4 ± 5.5"
    assert texts["Base / b"] == "92.9"
    assert fig.layout.barmode == "overlay" and len(set(order)) == len(frame)  # no bar behind another
    assert fig.layout.xaxis.range[1] == pytest.approx(96.78 * 1.16)  # room for the text right of the longest


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


def test_a_selectable_confusion_matrix_has_one_invisible_point_per_cell(scored):
    _, _, report = scored
    names = report.class_names
    fig = confusion_figure(report.matrix(), names, highlight=(1, 2), selectable=True)
    heat, cells = fig.data
    assert heat.type == "heatmap" and cells.type == "scatter" and heat.hoverinfo == "skip"
    assert len(cells.x) == 16 and cells.marker.color == "rgba(0,0,0,0)"
    data = np.asarray(cells.customdata)
    assert data[6, 0] == 1 and data[6, 1] == 2 and (cells.x[6], cells.y[6]) == ("c", "b")
    assert data[6, 2] == report.matrix()[1, 2]
    assert np.allclose(data[:, 3].reshape(4, 4), row_normalised(report.matrix()))
    assert fig.layout.clickmode == "event+select" and len(fig.layout.shapes) == 1
    assert len(confusion_figure(report.matrix(), names).data) == 1  # not selectable by default


def test_clicked_cell_reads_customdata_or_the_class_names():
    names = ["a", "b", "c"]
    assert clicked_cell([{"customdata": [2, 0, 5, 0.1], "x": "a", "y": "c"}], names) == (2, 0)
    assert clicked_cell([{"x": "b", "y": "a", "point_index": 3}], names) == (0, 1)  # no customdata
    assert clicked_cell([{"customdata": [0, 0]}, {"customdata": [1, 2]}], names) == (1, 2)  # the last one
    assert clicked_cell([{"customdata": [7, 0]}, {"x": "z", "y": "a"}], names) is None  # outside the matrix
    assert clicked_cell([], names) is None and clicked_cell(None, names) is None
    assert clicked_cell([{"customdata": ["x", "y"]}], names) is None


def test_disagreement_and_similarity_figures():
    fig = disagreement_figure([[60, 7], [3, 30]], "A", "B")
    assert np.asarray(fig.data[0].z).tolist() == [[60, 7], [3, 30]]
    assert list(fig.data[0].y) == ["A right", "A wrong"] and list(fig.data[0].x) == ["B right", "B wrong"]
    assert fig.data[0].text[0][1] == "7<br>7.0%" and len(fig.layout.shapes) == 2
    hist = {"edges": [0.5, 0.7, 0.9, 0.96, 1.0], "counts": [10, 5, 2, 3], "below": 4}
    sim = similarity_figure(hist, 0.95)
    assert list(sim.data[0].y) == [10, 5, 2, 3]
    assert list(sim.data[0].marker.color) == ["#1f77b4", "#1f77b4", "#f4a582", "#d62728"]  # 0.95 cuts bin 3
    assert "4 items below 0.50" in sim.layout.xaxis.title.text


def test_compare_figures_for_leakage_paired_tests_and_seed_spread():
    leak = pd.DataFrame({"model": ["a.pt", "b.pt"], "accuracy": [65.2, 66.0],
                         "on_exact_duplicates": [81.8, 83.9], "deduplicated_exact": [63.8, 64.4],
                         "deduplicated_exact_near": [63.5, 64.2]})
    fig = leakage_figure(leak)
    assert len(fig.data) == 4 and list(fig.data[1].y) == [81.8, 83.9]
    paired = pd.DataFrame({"model_a": ["a", "a"], "model_b": ["b", "c"], "items": ["all", "all"],
                           "n": [10, 10], "difference_pp": [-0.7, 1.1], "difference_low": [-1.8, 0.2],
                           "difference_high": [0.4, 2.0], "mcnemar_p": [0.2, 0.01],
                           "significant": [False, True]})
    forest = paired_figure(paired)
    assert list(forest.data[0].error_x.array) == pytest.approx([1.1, 0.9])
    assert list(forest.data[0].error_x.arrayminus) == pytest.approx([1.1, 0.9])
    assert list(forest.data[0].marker.color) == ["#8c8c8c", "#d62728"]
    spread = pd.DataFrame({"variant": ["dcnn_bilstm_dam", "relu_gate"], "epochs": [4, 4], "runs": [3, 1],
                           "seeds": ["3 seeds", "one seed"], "accuracy": [54.0, 53.5],
                           "accuracy_std": [0.4, np.nan],
                           "delta_accuracy": [0.0, -0.5], "change": ["none", "relu"], "files": ["x", "y"]})
    bars = ablation_spread_figure(spread, "accuracy")
    assert list(bars.data[0].y) == ["relu_gate (4 ep, one seed)", "dcnn_bilstm_dam (4 ep, 3 seeds)"]
    assert list(bars.data[0].error_x.array) == [0.0, 0.4] and "std over seeds" in bars.layout.title.text
    one = ablation_spread_figure(spread.assign(runs=1, accuracy_std=np.nan), "accuracy")
    assert one.data[0].error_x.visible is False and "one seed each" in one.layout.title.text


def test_lever_figure_colours_by_verdict_and_shades_the_baselines_spread():
    from ferviz.figures.compare import lever_figure
    from ferviz.results.studies import BASELINE_LEVER, LEVER_COLUMNS

    rows = [(BASELINE_LEVER, 51.0, 1.0, 0.0, "the reference"),
            ("ema", 53.0, 1.5, 2.0, "helps (p = 0.010, 3 seeds)"),
            ("mixup", 50.0, 0.5, -1.0, "within seed noise (p = 0.40, 3 seeds)"),
            ("erase", 48.0, 0.7, -3.0, "hurts (p = 0.020, 3 seeds)")]
    table = pd.DataFrame([{c: np.nan for c in LEVER_COLUMNS} | {
        "lever": lever, "accuracy": acc, "accuracy_std": std, "delta_accuracy": delta, "verdict": verdict,
        "budget": "16 epochs on 5,000 training faces", "seeds": "0, 1, 2", "change": lever, "files": "x"}
        for lever, acc, std, delta, verdict in rows])
    fig = lever_figure(table)
    bar = fig.data[0]
    assert list(bar.x) == [-3.0, -1.0, 2.0]  # the baseline is the zero line, not a bar
    assert list(bar.marker.color) == ["#d62728", "#9a9a9a", "#2ca02c"]
    assert list(bar.error_x.array) == [0.7, 0.5, 1.5]
    band = [s for s in fig.layout.shapes if s.type == "rect"]
    assert len(band) == 1 and (band[0].x0, band[0].x1) == (-1.0, 1.0)
    assert "baseline 51.00 % (seeds 0, 1, 2)" in fig.layout.title.text
    text = fig.data[1]  # the differences, beyond each error bar's end on its own side of zero
    assert list(text.text) == ["-3.00 pp", "-1.00 pp", "+2.00 pp"]
    np.testing.assert_allclose(text.x, [-3.95, -1.75, 3.75])
    assert list(text.textposition) == ["middle left", "middle left", "middle right"]
    assert fig.layout.xaxis.range[0] < -3.7 and fig.layout.xaxis.range[1] > 3.5


def test_ablation_differences_are_written_clear_of_the_error_bars():
    spread = pd.DataFrame({"variant": ["dcnn_bilstm_dam", "relu_gate"], "epochs": [16, 16], "runs": [3, 3],
                           "seeds": ["3 seeds", "3 seeds"], "accuracy": [50.0, 51.0],
                           "accuracy_std": [1.0, 0.5], "delta_accuracy": [0.0, 1.0],
                           "change": ["none", "relu"], "files": ["x", "y"]})
    text = ablation_spread_figure(spread, "accuracy").data[1]
    assert list(text.text) == ["full model", "+1.00 pp"]
    assert list(text.x) == pytest.approx([50 + 1.0 + 0.3, 51 + 0.5 + 0.3])  # right of mean + std
    assert ablation_spread_figure(spread, "accuracy").layout.showlegend is False
