"""Figures for one evaluation: confusion matrix, reliability diagram, per-class rates.

Every builder takes plain arrays or :mod:`ferviz.metrics` objects and returns a ``go.Figure``; none
computes a metric that :mod:`ferviz.metrics` already gives.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ferviz.metrics import Reliability

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
                     highlight: tuple[int, int] | None = None) -> go.Figure:
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
    fig.update_yaxes(title="true class", autorange="reversed")
    fig.update_xaxes(title="predicted class", side="bottom")
    if highlight is not None:
        i, j = highlight
        fig.add_shape(type="rect", x0=j - 0.5, x1=j + 0.5, y0=i - 0.5, y1=i + 0.5,
                      line={"color": HIGHLIGHT, "width": 3})
    title = "Confusion matrix, rows normalised" if normalise else "Confusion matrix (counts)"
    fig.update_layout(title=title, height=480, margin={"t": 50, "l": 10, "r": 10, "b": 10})
    return fig


def reliability_arrays(rel: Reliability | dict) -> Reliability:
    """A :class:`~ferviz.metrics.Reliability` from itself or from its ``to_dict()`` (``None`` -> NaN)."""
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
    """Grouped bars of per-class rates (a :meth:`~ferviz.metrics.MetricReport.per_class_frame`), in %."""
    fig = go.Figure([go.Bar(x=per_class.index.astype(str), y=100 * per_class[rate], name=rate)
                     for rate in rates])
    fig.update_layout(barmode="group", title="Per-class rates (%)", height=360, yaxis={"range": [0, 100]},
                      margin={"t": 50, "l": 10, "r": 10, "b": 10})
    return fig
