"""What people said about a face beside what the model said: FER+ votes as a bar, a strip or a table cell.

* :func:`votes_bar` — a small plotly bar chart of one face's 10 votes (7 classes + contempt / unknown /
  not a face), the given label's bar outlined, for pages that show one face (the explain pages, Predict);
* :func:`votes_strip` — the same votes as a tiny RGB image, one coloured cell per annotator, with the
  model's probabilities as a second strip below, for galleries of many faces (no chart per face);
* :func:`votes_caption` — one line of text: given label, the crowd's majority and agreement, the model;
* :func:`agreement_band_figure` — accuracy per agreement band with its interval.

Colours are per class (:data:`CLASS_COLOURS`), the same in every figure.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

#: One colour per FER2013 class (and grey for contempt / unknown / not a face).
CLASS_COLOURS: dict[str, str] = {"angry": "#d62728", "disgust": "#8c564b", "fear": "#9467bd", "happy": "#f2b701",
                                 "sad": "#1f77b4", "surprise": "#17becf", "neutral": "#7f7f7f",
                                 "contempt": "#e377c2", "other": "#c7c7c7"}
OTHER = "other"


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    h = hex_colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def votes_bar(counts: Sequence[int], class_names: Sequence[str], other: int = 0, given: str | None = None,
              predicted: Sequence[float] | None = None, height: int = 180) -> go.Figure:
    """One face's FER+ votes as bars (and the model's probabilities as markers, when given).

    Parameters
    ----------
    counts : sequence of K int
        Votes per class, in ``class_names`` order (:func:`ferviz.results.agreement.model_order`).
    class_names : sequence of K str
    other : int
        Votes for contempt, unknown or not a face.
    given : str, optional
        The dataset's label: its bar is outlined in black.
    predicted : sequence of K float, optional
        The model's probabilities, drawn as diamonds on the same 0-10 scale (probability x 10).
    """
    names = [*map(str, class_names), OTHER]
    values = [int(c) for c in counts] + [int(other)]
    fig = go.Figure(go.Bar(x=names, y=values, marker={
        "color": [CLASS_COLOURS.get(n, "#999999") for n in names],
        "line": {"color": ["black" if n == given else "rgba(0,0,0,0)" for n in names], "width": 2}},
        name="annotators", hovertemplate="%{x}: %{y} of 10 annotators<extra></extra>"))
    if predicted is not None:
        fig.add_trace(go.Scatter(x=names[:-1], y=[10 * float(p) for p in predicted], mode="markers",
                                 marker={"symbol": "diamond", "size": 9, "color": "black"}, name="model × 10",
                                 customdata=[100 * float(p) for p in predicted],
                                 hovertemplate="model: %{x} %{customdata:.0f} %<extra></extra>"))
    total = sum(values)
    title = f"FER+: {total} annotators" + (f" · label: {given} (outlined)" if given else "")
    fig.update_layout(height=height, margin={"t": 30, "l": 10, "r": 10, "b": 10}, title={"text": title,
                      "font": {"size": 12}}, yaxis={"range": [0, 10], "dtick": 5}, showlegend=False)
    return fig


def votes_strip(counts: Sequence[int], class_names: Sequence[str], other: int = 0,
                probs: Sequence[float] | None = None, width: int = 80, cell_height: int = 8) -> np.ndarray:
    """(H, width, 3) uint8: one cell per annotator in its class's colour; a second strip of probabilities.

    The first strip has one equal cell per vote (sorted by class, empty when there is none); the second,
    when ``probs`` is given, splits the width in proportion to the model's probabilities. A white line
    separates them.
    """
    names = [*map(str, class_names), OTHER]
    votes = [int(c) for c in counts] + [int(other)]
    rows = [_strip(np.repeat(np.arange(len(names)), votes), names, width, cell_height)]
    if probs is not None:
        p = np.clip(np.asarray(probs, float), 0, None)
        edges = np.round(np.cumsum(p / max(p.sum(), 1e-12)) * width).astype(int)
        cells = np.searchsorted(edges, np.arange(width), side="right")
        rows += [np.full((2, width, 3), 255, np.uint8),
                 _strip(np.minimum(cells, len(names) - 2), names, width, cell_height, per_pixel=True)]
    return np.concatenate(rows)


def _strip(classes: np.ndarray, names: list[str], width: int, height: int, per_pixel: bool = False) -> np.ndarray:
    out = np.full((height, width, 3), 240, np.uint8)
    if per_pixel:
        for x, k in enumerate(classes):
            out[:, x] = _rgb(CLASS_COLOURS.get(names[k], "#999999"))
        return out
    n = len(classes)
    if n == 0:
        return out
    bounds = np.round(np.linspace(0, width, n + 1)).astype(int)
    for v, k in enumerate(classes):
        out[:, bounds[v]:bounds[v + 1]] = _rgb(CLASS_COLOURS.get(names[k], "#999999"))
        if v:
            out[:, bounds[v]] = 255  # a thin gap between annotators
    return out


def votes_caption(given: str, counts: Sequence[int], class_names: Sequence[str], majority: int,
                  probs: Sequence[float] | None = None) -> str:
    """One line: ``label fear · people: neutral 10/10 · model: neutral 71 %`` (``people: no majority``)."""
    crowd = (f"people: {class_names[majority]} {int(counts[majority])}/10" if majority >= 0
             else ("people: no majority" if sum(int(c) for c in counts) else "people: no votes"))
    model = ""
    if probs is not None:
        k = int(np.argmax(probs))
        model = f" · model: {class_names[k]} {100 * float(probs[k]):.0f} %"
    return f"label {given} · {crowd}{model}"


def legend_markdown(class_names: Sequence[str]) -> str:
    """The strip colours as a line of coloured squares (Streamlit markdown)."""
    parts = [f":{_streamlit_colour(n)}[■] {n}" for n in [*class_names, OTHER]]
    return "Colours: " + " · ".join(parts)


def _streamlit_colour(name: str) -> str:
    return {"angry": "red", "disgust": "orange", "fear": "violet", "happy": "yellow", "sad": "blue",
            "surprise": "blue", "neutral": "gray", "contempt": "violet"}.get(name, "gray")


def agreement_band_figure(bands: Sequence[dict[str, Any]], title: str = "Accuracy by human agreement") -> go.Figure:
    """Bars of accuracy per agreement band (``agreement_metrics()['bands']``) with 95 % intervals, in %."""
    rows = [b for b in bands if b.get("accuracy")]
    est = [100 * b["accuracy"]["estimate"] for b in rows]
    fig = go.Figure(go.Bar(
        # level lines of at most 8 characters (the band, then its faces): three bars share a half-width
        # column, about 55 px a bar in a 1024-px window
        x=["<br>".join([*textwrap.wrap(b["band"], 8), f"{b['n']:,}"]) for b in rows], y=est,
        marker_color="#4c78a8",
        error_y={"type": "data", "symmetric": False,
                 "array": [100 * b["accuracy"]["high"] - e for b, e in zip(rows, est, strict=True)],
                 "arrayminus": [e - 100 * b["accuracy"]["low"] for b, e in zip(rows, est, strict=True)]},
        customdata=[[b["band"], b["n"]] for b in rows],
        hovertemplate="%{customdata[0]}, %{customdata[1]:,} faces: %{y:.1f} %<extra></extra>"))
    fig.update_layout(title=title, height=320, yaxis={"range": [0, 100], "title": "accuracy (%)"},
                      xaxis={"tickangle": 0, "title": "agree · faces"},
                      margin={"t": 40, "l": 10, "r": 10, "b": 10})
    return fig
