"""Plotly figures for attributions, faithfulness curves and the model walk-through.

Attribution maps are drawn over the face with a colour bar in the method's unit. Two views: *signed*
(red for the class, blue against it, symmetric about 0) and *absolute* (|value|, from 0); in both the
colour range ends at a percentile of the absolute values (99 by default), so that a method whose
credit sits in a few extreme pixels (Integrated Gradients) still shows the rest of its map.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ferviz.explain.attributions import METHODS
from ferviz.explain.faithfulness import Faithfulness, SanityCheck
from ferviz.explain.walkthrough import Stage
from ferviz.figures.attention import (
    Scale,
    channel_matrices,
    colorbar,
    image_axes,
    map_scale,
    overlay,
    overlay_grid,
)

PALETTE = ("#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2")
VIEWS = ("signed", "absolute")
CLIP_PERCENTILE = 99.0


def attribution_view(heat: np.ndarray, signed: bool, view: str = "signed") -> tuple[np.ndarray, bool]:
    """The values to draw for ``view`` and whether they are signed.

    'signed' keeps a signed map as it is; 'absolute' draws |value|. A non-negative map is the same in
    both views.
    """
    if view not in VIEWS:
        raise ValueError(f"unknown attribution view {view!r}; choose one of {', '.join(VIEWS)}")
    heat = np.asarray(heat, dtype=np.float32)
    if signed and view == "absolute":
        return np.abs(heat), False
    return heat, signed


def attribution_scale(heat: np.ndarray, *, signed: bool, unit: str = "attribution", view: str = "signed",
                      percentile: float = CLIP_PERCENTILE) -> Scale:
    """The colour range of an attribution map: up to ``percentile`` of |values|, symmetric when signed."""
    values, is_signed = attribution_view(heat, signed, view)
    shown_unit = f"|{unit}|" if signed and view == "absolute" else unit
    return map_scale(values, signed=is_signed, unit=shown_unit, percentile=percentile)


def attribution_figure(face: np.ndarray, heat: np.ndarray, title: str, *, signed: bool,
                       unit: str = "attribution", view: str = "signed", percentile: float = CLIP_PERCENTILE,
                       height: int = 380) -> go.Figure:
    """One (S, S) attribution map over the face, clipped at ``percentile``, with a colour bar in ``unit``.

    Parameters
    ----------
    face : (S, S) uint8 ndarray
        The face crop.
    heat : (S, S) ndarray
        The map.
    title : str
        The method's name for display.
    signed : bool
        Whether negative values mean evidence against the class.
    unit : str
        What a value is (the colour bar's title).
    view : {'signed', 'absolute'}
        See :func:`attribution_view`.
    percentile : float
        The colour range ends at this percentile of |values|; values beyond get the last colour.
    height : int
        Figure height in pixels.
    """
    values, _ = attribution_view(heat, signed, view)
    scale = attribution_scale(heat, signed=signed, unit=unit, view=view, percentile=percentile)
    clip = f"colours clipped at the {percentile:g}th percentile" if percentile < 100 else "full range"
    below = {"orientation": "h", "x": 0.5, "xanchor": "center", "y": -0.02, "yanchor": "top", "len": 0.95,
             "thickness": 10, "title": {"text": scale.unit, "side": "bottom"}}  # leaves the width to the face
    fig = overlay(face, values, f"{title}<br><sup>{clip}</sup>", scale=scale, height=height, bar=below)
    fig.update_layout(margin={"l": 10, "r": 10, "t": 60, "b": 10})
    return fig


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
    fig.update_yaxes(range=[0, 1.02])
    fig.update_yaxes(title_text="target probability", row=1, col=1)  # once: the right one ran into the left plot
    # the legend at the figure's foot (Plotly makes room for it): placed under the plot instead, its rows ran
    # into the axis titles once a narrow window wrapped them
    fig.update_layout(height=460, margin={"l": 10, "r": 10, "t": 50, "b": 10},
                      legend={"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom"})
    return fig


def sanity_figure(face: np.ndarray, check: SanityCheck, signed: bool = False, *, view: str = "signed",
                  percentile: float = CLIP_PERCENTILE) -> go.Figure:
    """The trained and the randomised-weights maps side by side, each with its own colour bar.

    The title names the method (its display name) and gives the rank correlation and the verdict.
    """
    method = METHODS.get(check.method)
    name, unit = (method.title, method.unit) if method else (check.method, "attribution")
    maps = [attribution_view(m, signed, view)[0] for m in (check.trained, check.randomised)]
    scales = [attribution_scale(m, signed=signed, unit=unit, view=view, percentile=percentile)
              for m in (check.trained, check.randomised)]
    fig = overlay_grid(face, maps, ["trained weights", "randomised weights"], scale=scales, cols=2)
    verdict = "PASS" if check.passes else "FAIL"
    title = (f"{name}: Spearman correlation of |maps| = {check.correlation:.2f} "
             f"({verdict}: below {check.threshold:g} passes)")
    fig.update_layout(title={"text": title}, height=360)
    return fig


# --------------------------------------------------------------------------------------------------
# Walk-through stages
# --------------------------------------------------------------------------------------------------


def _maps_figure(stage: Stage, scale: Scale, colorscale: str = "Viridis", cols: int = 6) -> go.Figure:
    """Small heatmaps sharing one colour range, with one colour bar at the right."""
    maps = stage.array
    cols = max(1, min(cols, len(maps)))
    rows = math.ceil(len(maps) / cols)
    titles = list(stage.titles) or [f"{i}" for i in range(len(maps))]
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=0.02,
                        vertical_spacing=0.1)
    for i, m in enumerate(maps):
        r, c = divmod(i, cols)
        fig.add_trace(go.Heatmap(z=m, colorscale=colorscale, zmin=scale.zmin, zmax=scale.zmax,
                                 showscale=i == 0, colorbar=colorbar(scale),
                                 hovertemplate="row %{y}, col %{x}: %{z:.3g}<extra></extra>"),
                      row=r + 1, col=c + 1)
    image_axes(fig, rows, cols)
    fig.update_layout(height=40 + 200 * rows, width=None if cols > 2 else 260 * cols + 80)
    return fig


def _matrix_figure(stage: Stage, scale: Scale) -> go.Figure:
    lim = max(abs(scale.zmin), abs(scale.zmax))
    fig = go.Figure(go.Heatmap(z=stage.array, colorscale="RdBu_r", zmin=-lim, zmax=lim, showscale=True,
                               colorbar=colorbar(Scale(-lim, lim, stage.unit or "value")),
                               hovertemplate="token %{y}, channel %{x}: %{z:.3g}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", title_text="token (raster order)", showgrid=False)
    fig.update_xaxes(title_text="channel", showgrid=False)
    fig.update_layout(height=320)
    return fig


def _vector_figure(stage: Stage) -> go.Figure:
    x = list(stage.titles) if stage.titles else list(range(len(stage.array)))
    fig = go.Figure(go.Bar(x=x, y=stage.array, marker={"color": "#1f77b4"}))
    fig.update_yaxes(title_text=stage.unit or "value")
    fig.update_xaxes(title_text="class" if stage.titles else "channel / cell index")
    fig.update_layout(height=260, bargap=0.1 if len(x) > 20 else 0.3)
    return fig


def stage_figure(stage: Stage, face: np.ndarray | None = None, mode: str = "absolute") -> go.Figure:
    """The picture of one walk-through stage, with colour bars in the stage's unit.

    Parameters
    ----------
    stage : Stage
        From :func:`ferviz.explain.walkthrough.walkthrough`.
    face : (S, S) uint8 ndarray, optional
        The face crop; maps on the token grid (kind 'grid') are drawn over it, cell by cell with the
        grid lines (over a plain grey square when it is not given).
    mode : {'absolute', 'relative'}
        The colour range of maps and matrices (see :func:`ferviz.figures.attention.map_scale`); the
        uniform level 1/N of attention weights is marked on the colour bar.
    """
    kind = stage.kind
    if kind not in ("image", "maps", "grid", "channels", "matrix", "vector"):
        raise ValueError(f"unknown stage kind {kind!r}; expected one of image, maps, grid, channels, "
                         "matrix, vector")
    if kind == "vector":
        fig = _vector_figure(stage)
    elif kind == "channels":
        fig = channel_matrices(stage.array, list(stage.titles) or None, mode=mode)
    elif kind == "grid":
        base = np.full((64, 64), 128, np.uint8) if face is None else np.asarray(face)
        scale = map_scale(list(stage.array), mode=mode, unit=stage.unit, n_uniform=stage.n_uniform)
        titles = list(stage.titles) or [f"{i}" for i in range(len(stage.array))]
        cols = min(len(stage.array), 6)
        fig = overlay_grid(base, list(stage.array), titles, scale=scale, cols=cols)
        fig.update_layout(height=60 + (250 if cols <= 4 else 200) * math.ceil(len(stage.array) / cols))
    elif kind == "matrix":
        fig = _matrix_figure(stage, map_scale(stage.array, mode=mode, unit=stage.unit))
    elif kind == "image":
        fig = _maps_figure(stage, map_scale(list(stage.array), mode="relative", unit=stage.unit), "gray")
    else:
        fig = _maps_figure(stage, map_scale(list(stage.array), mode=mode, unit=stage.unit))
    fig.update_layout(margin={"l": 10, "r": 10, "t": 30, "b": 10})
    return fig
