"""Figures for one evaluation: confusion matrix, reliability diagram, per-class rates.

Every builder takes plain arrays or :mod:`ferviz.results.metrics` objects and returns a ``go.Figure``; none
computes a metric that :mod:`ferviz.results.metrics` already gives.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ferviz.results.metrics import Reliability

HIGHLIGHT = "#d62728"


def row_normalised(matrix: Any) -> np.ndarray:
    """(K, K) confusion counts -> each row divided by its sum (the class's recall profile); empty rows stay 0.

    Returns
    -------
    (K, K) float64 ndarray
        Rows with support sum to 1; rows without any sample are all 0.
    """
    counts = np.asarray(matrix, dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


def most_confused(matrix: np.ndarray) -> tuple[int, int]:
    """(true, predicted) of the largest off-diagonal cell of a (K, K) confusion matrix; (0, 0) if none."""
    off = np.array(matrix, dtype=float)
    np.fill_diagonal(off, -1.0)
    if off.size == 0 or off.max() <= 0:
        return 0, 0
    i, j = np.unravel_index(int(off.argmax()), off.shape)
    return int(i), int(j)


def confusion_figure(matrix: Any, class_names: Sequence[str], normalise: bool = False,
                     highlight: tuple[int, int] | None = None, selectable: bool = False) -> go.Figure:
    """Heatmap of a confusion matrix, true classes as rows (top to bottom) and predictions as columns.

    Parameters
    ----------
    matrix : (K, K) array of int
        Counts, ``matrix[i, j]`` = items of true class ``i`` predicted as ``j``.
    class_names : sequence of K str
    normalise : bool
        Show each row as fractions of its class (cells print as percent) instead of counts.
    highlight : (int, int), optional
        A (true, predicted) cell to outline.
    selectable : bool
        Add a second trace of invisible markers, one at each cell centre with ``customdata`` ``[i, j]``,
        so that clicking a cell selects a point (heatmaps have no selectable points);
        :func:`clicked_cell` reads the cell back from the selection.
    """
    counts = np.asarray(matrix, dtype=np.int64)
    names = [str(c) for c in class_names]
    if counts.shape != (len(names), len(names)):
        raise ValueError(f"a {counts.shape} matrix does not fit {len(names)} class names")
    z = row_normalised(counts) if normalise else counts
    text = "%{z:.1%}" if normalise else "%{z:d}"
    hover = "true %{y}<br>predicted %{x}<br>" + ("%{z:.1%} of the row" if normalise else "%{z:d} items")
    fig = go.Figure(go.Heatmap(z=z, x=names, y=names, colorscale="Blues", texttemplate=text,
                               hovertemplate=hover + "<extra></extra>", zmin=0, zmax=1 if normalise else None,
                               colorbar={"title": "row share" if normalise else "items"}))
    if selectable:
        rows, cols = np.divmod(np.arange(counts.size), len(names))
        shares = row_normalised(counts)[rows, cols]
        fig.data[0].hoverinfo = "skip"
        fig.add_trace(go.Scatter(
            x=[names[j] for j in cols], y=[names[i] for i in rows], mode="markers", name="cells",
            showlegend=False, customdata=np.stack([rows, cols, counts.ravel(), shares], axis=1),
            marker={"size": 36, "symbol": "square", "color": "rgba(0,0,0,0)"},
            selected={"marker": {"opacity": 0}}, unselected={"marker": {"opacity": 0}},
            hovertemplate="true %{y}<br>predicted %{x}<br>%{customdata[2]:d} items (%{customdata[3]:.1%} of "
                          "the row)<br>click to see these faces<extra></extra>"))
        fig.update_layout(clickmode="event+select", dragmode=False)
    fig.update_yaxes(title="true class", autorange="reversed")
    fig.update_xaxes(title="predicted class", side="bottom")
    if highlight is not None:
        i, j = highlight
        fig.add_shape(type="rect", x0=j - 0.5, x1=j + 0.5, y0=i - 0.5, y1=i + 0.5,
                      line={"color": HIGHLIGHT, "width": 3})
    title = "Confusion matrix, rows normalised" if normalise else "Confusion matrix (counts)"
    fig.update_layout(title=title, height=480, margin={"t": 50, "l": 10, "r": 10, "b": 10})
    return fig


def clicked_cell(points: Sequence[dict] | None, class_names: Sequence[str]) -> tuple[int, int] | None:
    """The (true, predicted) cell of a click on a ``selectable`` :func:`confusion_figure`, or None.

    Parameters
    ----------
    points : list of dict or None
        The ``selection.points`` of a Streamlit plotly event: each point has ``customdata`` ``[i, j, ...]``
        (else its ``x`` and ``y`` class names are looked up). The last point counts.
    class_names : sequence of K str
        The figure's classes; a point outside them is ignored.
    """
    names = [str(c) for c in class_names]
    for point in reversed(list(points or [])):
        data = point.get("customdata")
        if isinstance(data, list | tuple) and len(data) >= 2:
            try:
                i, j = int(data[0]), int(data[1])
            except (TypeError, ValueError):
                continue
        elif str(point.get("y")) in names and str(point.get("x")) in names:
            i, j = names.index(str(point["y"])), names.index(str(point["x"]))
        else:
            continue
        if 0 <= i < len(names) and 0 <= j < len(names):
            return i, j
    return None


def reliability_arrays(rel: Reliability | dict) -> Reliability:
    """A :class:`~ferviz.results.metrics.Reliability` from itself or from its ``to_dict()`` (``None`` -> NaN)."""
    if isinstance(rel, Reliability):
        return rel

    def floats(values):
        return np.array([np.nan if v is None else v for v in values], dtype=float)

    return Reliability(floats(rel["edges"]), floats(rel["confidence"]), floats(rel["accuracy"]),
                       np.asarray(rel["counts"], dtype=np.int64), float(rel["ece"]))


def reliability_figure(rel: Reliability | dict) -> go.Figure:
    """Reliability diagram: a bar per confidence bin (its accuracy), the bins' mean confidence, the diagonal.

    A perfectly calibrated model has every bar reach the diagonal; bars below it are over-confident.
    Empty bins have no bar. The title gives the expected calibration error (ECE) in percent.
    """
    rel = reliability_arrays(rel)
    centres = (rel.edges[:-1] + rel.edges[1:]) / 2
    widths = np.diff(rel.edges)
    custom = np.stack([rel.counts, rel.confidence], axis=1)
    fig = go.Figure()
    fig.add_trace(go.Bar(x=centres, y=rel.accuracy, width=widths, name="accuracy in bin",
                         marker={"color": "#1f77b4", "line": {"color": "white", "width": 1}},
                         customdata=custom, hovertemplate="accuracy %{y:.1%}<br>mean confidence "
                         "%{customdata[1]:.1%}<br>%{customdata[0]} items<extra></extra>"))
    fig.add_trace(go.Scatter(x=rel.confidence, y=rel.confidence, mode="markers", name="mean confidence",
                             marker={"color": HIGHLIGHT, "symbol": "line-ew-open", "size": 14}))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect calibration",
                             line={"dash": "dash", "color": "gray"}))
    fig.update_xaxes(title="confidence (top-class probability)", range=[0, 1], tickformat=".0%")
    fig.update_yaxes(title="accuracy", range=[0, 1], tickformat=".0%")
    fig.update_layout(title=f"Reliability diagram — ECE {100 * rel.ece:.2f} %", height=420, bargap=0,
                      legend={"orientation": "h", "y": -0.2}, margin={"t": 50, "l": 10, "r": 10, "b": 10})
    return fig


def per_class_figure(per_class: pd.DataFrame,
                     rates: Sequence[str] = ("precision", "recall", "f1")) -> go.Figure:
    """Grouped bars of per-class rates (a :meth:`~ferviz.results.metrics.MetricReport.per_class_frame`), in %."""
    fig = go.Figure([go.Bar(x=per_class.index.astype(str), y=100 * per_class[rate], name=rate)
                     for rate in rates])
    fig.update_layout(barmode="group", title="Per-class rates (%)", height=360, yaxis={"range": [0, 100]},
                      margin={"t": 50, "l": 10, "r": 10, "b": 10})
    return fig


def disagreement_figure(matrix: Any, name_a: str, name_b: str) -> go.Figure:
    """The 2x2 table of two models' correctness on the same items, outlined where they disagree.

    ``matrix`` is a :func:`ferviz.results.significance.disagreement_matrix`: rows A right / wrong, columns B
    right / wrong. The off-diagonal cells, where exactly one model is right, are the only ones McNemar's
    test uses.
    """
    counts = np.asarray(matrix, dtype=np.int64).reshape(2, 2)
    rows, cols = [f"{name_a} right", f"{name_a} wrong"], [f"{name_b} right", f"{name_b} wrong"]
    total = max(int(counts.sum()), 1)
    text = [[f"{counts[i, j]:,}<br>{counts[i, j] / total:.1%}" for j in range(2)] for i in range(2)]
    fig = go.Figure(go.Heatmap(z=counts, x=cols, y=rows, text=text, texttemplate="%{text}",
                               colorscale="Greys", showscale=False,
                               hovertemplate="%{y}, %{x}: %{z} items<extra></extra>"))
    for i, j in ((0, 1), (1, 0)):
        fig.add_shape(type="rect", x0=j - 0.5, x1=j + 0.5, y0=i - 0.5, y1=i + 0.5,
                      line={"color": HIGHLIGHT, "width": 3})
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(title="Where the two models agree and disagree", height=320,
                      margin={"t": 50, "l": 10, "r": 10, "b": 10})
    return fig


def similarity_figure(histogram: dict, threshold: float) -> go.Figure:
    """Histogram of each test item's similarity to its best training match (exact copies left out).

    Parameters
    ----------
    histogram : dict
        :meth:`ferviz.results.leakage.Duplicates.histogram` (``edges``, ``counts``, ``below``).
    threshold : float
        The near-duplicate threshold, drawn as a dashed line: bars right of it are near duplicates (a bin
        the line cuts is pale red).
    """
    edges = np.asarray(histogram["edges"], dtype=float)
    counts = np.asarray(histogram["counts"], dtype=np.int64)
    centres = (edges[:-1] + edges[1:]) / 2
    colours = [HIGHLIGHT if lo >= threshold else "#f4a582" if hi > threshold else "#1f77b4"
               for lo, hi in zip(edges[:-1], edges[1:], strict=True)]  # pale: a bin the threshold cuts
    fig = go.Figure(go.Bar(x=centres, y=counts, width=np.diff(edges), marker_color=colours,
                           hovertemplate="similarity %{x:.2f}: %{y} items<extra></extra>"))
    fig.add_vline(x=float(threshold), line_dash="dash", line_color="#555555",
                  annotation_text=f"near-duplicate threshold {threshold:.2f}")
    below = int(histogram.get("below", 0))
    fig.update_xaxes(title=f"best similarity to a training image ({below} items below {edges[0]:.2f} "
                           "not shown)")
    fig.update_yaxes(title="test items")
    fig.update_layout(title="How close is each test image to the training set?", height=340, bargap=0,
                      margin={"t": 50, "l": 10, "r": 10, "b": 10})
    return fig
