"""Plotly figures for attributions, faithfulness curves and the model walk-through."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ferviz.explain.faithfulness import Faithfulness, SanityCheck
from ferviz.explain.walkthrough import Stage
from ferviz.figures.attention import image_axes, overlay_grid

PALETTE = ("#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2")


def attribution_grid(face: np.ndarray, maps: Mapping[str, np.ndarray], signed: Mapping[str, bool],
                     cols: int = 4) -> go.Figure:
    """Each (64, 64) map of ``maps`` (title -> map) over the face; signed maps on a diverging scale."""
    titles = list(maps)
    return overlay_grid(face, [maps[t] for t in titles], titles,
                        signed=[signed.get(t, False) for t in titles], cols=cols)


def faithfulness_curves(results: Mapping[str, Faithfulness]) -> go.Figure:
    """Deletion (left) and insertion (right) curves of every map, with the random-order curve dashed."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=["deletion (lower area is better)",
                                                        "insertion (higher area is better)"])
    def add(pair, name: str, line: dict) -> None:
        label = f"{name}: AUC {pair[0].auc:.3f} deletion, {pair[1].auc:.3f} insertion"
        for k, curve in enumerate(pair):
            fig.add_trace(go.Scatter(x=curve.fractions, y=curve.probs, name=label, line=line,
                                     legendgroup=name, showlegend=k == 0), row=1, col=k + 1)

    for i, (name, res) in enumerate(results.items()):
        add((res.deletion, res.insertion), name, {"color": PALETTE[i % len(PALETTE)]})
    if results:  # the random curves depend on the face, target and baseline only: draw them once
        first = next(iter(results.values()))
        add((first.random_deletion, first.random_insertion), "random order",
            {"color": "gray", "dash": "dash"})
    fig.update_xaxes(title_text="fraction of pixels changed", range=[0, 1])
    fig.update_yaxes(title_text="target probability", range=[0, 1.02])
    fig.update_layout(height=400, margin={"l": 10, "r": 10, "t": 50, "b": 10},
                      legend={"orientation": "h", "y": -0.25})
    return fig


def sanity_figure(face: np.ndarray, check: SanityCheck, signed: bool = False) -> go.Figure:
    """The trained and the randomised-weights maps side by side, with their rank correlation in the title."""
    fig = overlay_grid(face, [check.trained, check.randomised], ["trained weights", "randomised weights"],
                       signed=signed, cols=2)
    title = f"{check.method}: Spearman correlation of |maps| = {check.correlation:.2f}"
    fig.update_layout(title={"text": title})
    return fig


# --------------------------------------------------------------------------------------------------
# Walk-through stages
# --------------------------------------------------------------------------------------------------


def _maps_figure(stage: Stage, cols: int = 6, colorscale: str = "Viridis") -> go.Figure:
    maps = stage.array
    cols = max(1, min(cols, len(maps)))
    rows = math.ceil(len(maps) / cols)
    titles = list(stage.titles) or [f"{i}" for i in range(len(maps))]
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=0.02,
                        vertical_spacing=0.1)
    for i, m in enumerate(maps):
        r, c = divmod(i, cols)
        fig.add_trace(go.Heatmap(z=m, colorscale=colorscale, showscale=False,
                                 hovertemplate="row %{y}, col %{x}: %{z:.3g}<extra></extra>"),
                      row=r + 1, col=c + 1)
    image_axes(fig, rows, cols)
    fig.update_layout(height=40 + 200 * rows, width=None if cols > 2 else 200 * cols + 40)
    return fig


def _matrix_figure(stage: Stage) -> go.Figure:
    fig = go.Figure(go.Heatmap(z=stage.array, colorscale="RdBu_r", zmid=0,
                               hovertemplate="row %{y}, col %{x}: %{z:.3g}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", title_text="token (raster order)")
    fig.update_xaxes(title_text="channel")
    fig.update_layout(height=320)
    return fig


def _vector_figure(stage: Stage) -> go.Figure:
    x = list(stage.titles) if stage.titles else list(range(len(stage.array)))
    fig = go.Figure(go.Bar(x=x, y=stage.array, marker={"color": "#1f77b4"}))
    fig.update_layout(height=260, bargap=0.1 if len(x) > 20 else 0.3)
    return fig


def stage_figure(stage: Stage) -> go.Figure:
    """The picture of one walk-through stage: input planes, small maps, a token x channel matrix, or bars."""
    builders = {"image": lambda s: _maps_figure(s, colorscale="gray"), "maps": _maps_figure,
                "matrix": _matrix_figure, "vector": _vector_figure}
    if stage.kind not in builders:
        raise ValueError(f"unknown stage kind {stage.kind!r}; expected one of {', '.join(builders)}")
    fig = builders[stage.kind](stage)
    fig.update_layout(margin={"l": 10, "r": 10, "t": 30, "b": 10})
    return fig
