"""Plotly figures for attention: maps over the face, group grids, channel matrices, the PCP panel.

Images are drawn as heatmaps with row 0 at the top and square pixels; a map is laid over the
grayscale face with some transparency. Every builder returns a ``go.Figure`` and computes nothing
beyond what it draws.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
import torch
import torch.nn.functional as F
from plotly.subplots import make_subplots

from ferviz.model import pcp

# Colour scales with transparency at "nothing here", so the face stays visible under a map.
HEAT = [[0.0, "rgba(0,0,4,0)"], [0.2, "rgba(87,16,110,0.35)"], [0.5, "rgba(188,55,84,0.65)"],
        [0.75, "rgba(249,142,9,0.8)"], [1.0, "rgba(252,255,164,0.9)"]]  # non-negative maps (inferno-like)
DIVERGING = [[0.0, "rgba(33,102,172,0.9)"], [0.5, "rgba(247,247,247,0)"],
             [1.0, "rgba(178,24,43,0.9)"]]  # signed maps, centred on 0 (red: for the class, blue: against)


def face_trace(face: np.ndarray) -> go.Heatmap:
    """(H, W) uint8 grayscale face as a heatmap trace (no colour bar, no hover)."""
    return go.Heatmap(z=np.asarray(face, dtype=np.float32), colorscale="gray", zmin=0, zmax=255,
                      showscale=False, hoverinfo="skip")


def heat_trace(heat: np.ndarray, *, signed: bool = False, opacity: float = 1.0, showscale: bool = True,
               name: str = "", zmax: float | None = None) -> go.Heatmap:
    """(H, W) map as a heatmap trace, transparent where the map is low (signed: near 0).

    Signed maps get a diverging scale symmetric about 0; ``opacity`` scales the whole trace; ``zmax``
    fixes the top of the scale (0 to zmax, or -zmax to zmax when signed) so that maps can be compared.
    """
    heat = np.asarray(heat, dtype=np.float32)
    extra = {}
    if signed:
        lim = zmax or float(np.abs(heat).max()) or 1.0
        extra = {"zmin": -lim, "zmax": lim}
    elif zmax is not None:
        extra = {"zmin": 0.0, "zmax": zmax}
    return go.Heatmap(z=heat, colorscale=DIVERGING if signed else HEAT, opacity=opacity, showscale=showscale,
                      name=name, hovertemplate="x %{x}, y %{y}: %{z:.3g}<extra></extra>", **extra)


def marker_trace(xy: tuple[float, float], label: str = "query") -> go.Scatter:
    """A cross at (x, y) in pixel-index units (e.g. from ``attention.grid_to_pixel``)."""
    return go.Scatter(x=[xy[0]], y=[xy[1]], mode="markers", name=label, showlegend=False,
                      marker={"symbol": "x-thin-open", "size": 16, "color": "cyan", "line": {"width": 3}},
                      hovertemplate=f"{label}<extra></extra>")


def image_axes(fig: go.Figure, rows: int = 1, cols: int = 1) -> None:
    """Row 0 at the top, square pixels, no ticks, on every subplot."""
    for i in range(1, rows * cols + 1):
        suffix = "" if i == 1 else str(i)
        bare = {"showticklabels": False, "ticks": "", "showgrid": False, "zeroline": False}
        fig.update_layout({f"yaxis{suffix}": {"autorange": "reversed", "scaleanchor": f"x{suffix}", **bare},
                           f"xaxis{suffix}": bare})


def overlay(face: np.ndarray, heat: np.ndarray, title: str = "", *, signed: bool = False,
            marker: tuple[float, float] | None = None, opacity: float = 1.0, height: int = 360,
            zmax: float | None = None) -> go.Figure:
    """(64, 64) ``heat`` over the (64, 64) uint8 face, optionally with a cross at ``marker`` = (x, y).

    ``zmax`` fixes the colour scale (see :func:`heat_trace`); by default it spans the map's own range.
    """
    fig = go.Figure([face_trace(face), heat_trace(heat, signed=signed, opacity=opacity, zmax=zmax)])
    if marker is not None:
        fig.add_trace(marker_trace(marker))
    image_axes(fig)
    fig.update_layout(title={"text": title}, height=height, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig


def overlay_grid(face: np.ndarray, maps: np.ndarray | Sequence[np.ndarray], titles: Sequence[str], *,
                 signed: bool | Sequence[bool] = False, marker: tuple[float, float] | None = None,
                 cols: int = 4, opacity: float = 1.0, title: str = "") -> go.Figure:
    """One overlay per map (each (64, 64)), ``cols`` per row; ``signed`` may differ per map."""
    maps = list(maps)
    signs = list(signed) if isinstance(signed, Sequence) else [signed] * len(maps)
    cols = max(1, min(cols, len(maps)))
    rows = math.ceil(len(maps) / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=list(titles),
                        horizontal_spacing=0.02, vertical_spacing=0.08)
    for i, (heat, sign) in enumerate(zip(maps, signs, strict=True)):
        r, c = divmod(i, cols)
        fig.add_trace(face_trace(face), row=r + 1, col=c + 1)
        fig.add_trace(heat_trace(heat, signed=sign, opacity=opacity, showscale=False), row=r + 1, col=c + 1)
        if marker is not None:
            fig.add_trace(marker_trace(marker), row=r + 1, col=c + 1)
    image_axes(fig, rows, cols)
    fig.update_layout(title={"text": title}, height=60 + 230 * rows,
                      margin={"l": 10, "r": 10, "t": 60, "b": 10})
    return fig


def channel_matrices(mats: np.ndarray | Sequence[np.ndarray], titles: Sequence[str], title: str = "",
                     cols: int = 4) -> go.Figure:
    """(G, CH, CH) channel attention matrices as heatmaps (row: query channel, column: key channel)."""
    mats = list(mats)
    cols = max(1, min(cols, len(mats)))
    rows = math.ceil(len(mats) / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=list(titles), horizontal_spacing=0.04)
    zmax = float(max(np.max(m) for m in mats))
    for i, m in enumerate(mats):
        r, c = divmod(i, cols)
        fig.add_trace(go.Heatmap(z=m, colorscale="Viridis", zmin=0, zmax=zmax, showscale=i == 0,
                                 hovertemplate="query ch %{y}, key ch %{x}: %{z:.3f}<extra></extra>"),
                      row=r + 1, col=c + 1)
    image_axes(fig, rows, cols)
    fig.update_layout(title={"text": title}, height=60 + 260 * rows,
                      margin={"l": 10, "r": 10, "t": 60, "b": 10})
    return fig


# --------------------------------------------------------------------------------------------------
# PCP beside ReLU and GELU (docs/DESIGN.md §5, eq. 19)
# --------------------------------------------------------------------------------------------------


def activation_curves(knot: float, alpha: float, lo: float = -3.0, hi: float = 3.0, points: int = 601
                      ) -> tuple[np.ndarray, dict[str, list[np.ndarray]]]:
    """x (points,) and, per activation ('PCP', 'ReLU', 'GELU'), [f, f', f''] computed by autograd.

    ReLU's second derivative is 0 wherever it exists (its first jumps at 0).
    """
    if knot <= 0:
        raise ValueError(f"the PCP knot a must be > 0, got {knot}")
    functions = {"PCP": lambda t: pcp(t, knot, alpha), "ReLU": F.relu, "GELU": F.gelu}
    x = torch.linspace(lo, hi, points, dtype=torch.float64)
    out = {}
    for name, fn in functions.items():
        xs = x.clone().requires_grad_(True)
        y = fn(xs)
        (d1,) = torch.autograd.grad(y.sum(), xs, create_graph=True)
        d2 = torch.autograd.grad(d1.sum(), xs)[0] if d1.requires_grad else torch.zeros_like(x)
        out[name] = [y.detach().numpy(), d1.detach().numpy(), d2.detach().numpy()]
    return x.numpy(), out


def pcp_panel(knot: float, alpha: float) -> go.Figure:
    """f, f' and f'' of PCP(knot a, left slope alpha) beside ReLU and GELU, knots marked at -a, 0, a."""
    span = max(3.0, 2.0 * knot)
    x, curves = activation_curves(knot, alpha, -span, span)
    fig = make_subplots(rows=1, cols=3, subplot_titles=["f(x)", "f'(x)", "f''(x)"])
    styles = {"PCP": {"color": "#d62728", "width": 3}, "ReLU": {"color": "#7f7f7f", "dash": "dot"},
              "GELU": {"color": "#1f77b4", "dash": "dash"}}
    for name, values in curves.items():
        for k, y in enumerate(values):
            fig.add_trace(go.Scatter(x=x, y=y, name=name, line=styles[name], legendgroup=name,
                                     showlegend=k == 0), row=1, col=k + 1)
    for k in range(1, 4):
        for v in (-knot, 0.0, knot):
            fig.add_vline(x=v, line={"color": "lightgray", "width": 1}, row=1, col=k)
    title = f"PCP with a = {knot:g}, alpha = {alpha:g}: C2-continuous, no exponentials"
    fig.update_layout(title={"text": title}, height=340, margin={"l": 10, "r": 10, "t": 70, "b": 10})
    return fig
