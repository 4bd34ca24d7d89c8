"""Plotly figures for attention: maps over the face, group grids, channel matrices, the PCP panel.

Images are drawn as heatmaps with row 0 at the top and square pixels; a map is laid over the grayscale
face with some transparency. A map on the token grid (H x W, e.g. 9 x 9) is drawn as one block per
token over the part of the face it comes from, with the grid lines; a (64, 64) map is drawn pixel by
pixel. Every heat map gets a colour bar with its unit, and its colour range comes from a :class:`Scale`:
*absolute* (0 to the largest value) or *relative* (stretched from the smallest to the largest value);
where the values are attention weights the uniform level 1/N is marked on the colour bar, so that
near-uniform attention is seen as such. Every builder returns a ``go.Figure``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import torch
import torch.nn.functional as F
from plotly.subplots import make_subplots

from ferviz.explain import attention as att
from ferviz.model.network import pcp

FACE_SIZE = 64
SCALE_MODES = ("absolute", "relative")
# Colour scales with transparency at "nothing here", so the face stays visible under a map.
HEAT = [[0.0, "rgba(0,0,4,0)"], [0.2, "rgba(87,16,110,0.35)"], [0.5, "rgba(188,55,84,0.65)"],
        [0.75, "rgba(249,142,9,0.8)"], [1.0, "rgba(252,255,164,0.9)"]]  # non-negative maps (inferno-like)
DIVERGING = [[0.0, "rgba(33,102,172,0.9)"], [0.5, "rgba(247,247,247,0)"],
             [1.0, "rgba(178,24,43,0.9)"]]  # signed maps, centred on 0 (red: for the class, blue: against)
GRID_LINE = "rgba(120,220,255,0.55)"


@dataclass(frozen=True)
class Scale:
    """The colour range of a map and what its colour bar says.

    Attributes
    ----------
    zmin, zmax : float
        The values drawn with the first and the last colour (values beyond are clipped).
    unit : str
        The colour bar's title: what the values are.
    n_uniform : int or None
        For attention weights over N entries: N, and 1/N (what every entry would get if the attention
        were uniform) is marked on the colour bar.
    signed : bool
        Diverging colours centred on 0 (``zmin == -zmax``).
    """

    zmin: float
    zmax: float
    unit: str = ""
    n_uniform: int | None = None
    signed: bool = False

    @property
    def uniform(self) -> float | None:
        """1/N, or None."""
        return 1.0 / self.n_uniform if self.n_uniform else None


def map_scale(values: np.ndarray | Sequence[np.ndarray], *, mode: str = "absolute", signed: bool = False,
              unit: str = "", n_uniform: int | None = None, percentile: float = 100.0) -> Scale:
    """The colour range for one map, or one range shared by several.

    Parameters
    ----------
    values : ndarray or sequence of ndarray
        The map(s); NaN is ignored.
    mode : {'absolute', 'relative'}
        Absolute: from 0 (or the smallest value, if negative) to the largest value, and never below
        the uniform level 1/N, so that a near-uniform map looks pale and even. Relative: from the
        smallest to the largest value, which stretches any difference over the whole colour range.
    signed : bool
        Symmetric about 0 (from -m to m, m the largest absolute value); ``mode`` is then ignored.
    unit : str
        The colour bar's title.
    n_uniform : int, optional
        N for attention weights over N entries (the uniform level 1/N is marked).
    percentile : float
        In (0, 100]: the top of the range is this percentile of the values (of the absolute values when
        signed) instead of the maximum, so that a few extreme pixels do not wash out the rest; the
        values above are drawn in the last colour.

    Returns
    -------
    Scale
        Always with ``zmax > zmin`` (a constant map gets a range around its value).
    """
    if mode not in SCALE_MODES:
        raise ValueError(f"unknown colour scale {mode!r}; choose one of {', '.join(SCALE_MODES)}")
    if not 0 < percentile <= 100:
        raise ValueError(f"the clipping percentile must be in (0, 100], got {percentile}")
    arrays = [values] if isinstance(values, np.ndarray) else list(values)
    flat = np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in arrays] or [np.zeros(0)])
    flat = flat[np.isfinite(flat)]
    if flat.size == 0:
        return Scale(-1.0 if signed else 0.0, 1.0, unit, n_uniform, signed)
    if signed:
        lim = float(np.percentile(np.abs(flat), percentile)) or float(np.abs(flat).max()) or 1.0
        return Scale(-lim, lim, unit, n_uniform, True)
    top = float(np.percentile(flat, percentile))
    if mode == "absolute":
        lo, hi = min(0.0, float(flat.min())), max(top, 1.0 / n_uniform if n_uniform else -math.inf)
    else:
        lo, hi = float(flat.min()), top
    if not hi > lo:
        hi = lo + (abs(lo) or 1.0)
    return Scale(lo, hi, unit, n_uniform, False)


def colorbar(scale: Scale, **place) -> dict:
    """A colour bar titled with the unit, five ticks, and the uniform level 1/N where it lies in range.

    ``place`` (``x``, ``y``, ``len``, ...) positions the bar, e.g. beside one subplot.
    """
    ticks = list(np.linspace(scale.zmin, scale.zmax, 5))
    u = scale.uniform
    if u is not None and scale.zmin <= u <= scale.zmax:  # drop regular ticks that would overlap the mark
        ticks = [t for t in ticks if abs(t - u) > 0.08 * (scale.zmax - scale.zmin)]
    text = [f"{t:.3g}" for t in ticks]
    if u is not None and scale.zmin <= u <= scale.zmax:
        ticks.append(u)
        text.append(f"uniform 1/{scale.n_uniform} = {u:.3g}")
    return {"title": {"text": scale.unit, "side": "right"}, "tickvals": ticks, "ticktext": text,
            "thickness": 12, "outlinewidth": 0, **place}


def face_trace(face: np.ndarray) -> go.Heatmap:
    """(H, W) uint8 grayscale face as a heatmap trace (no colour bar, no hover)."""
    return go.Heatmap(z=np.asarray(face, dtype=np.float32), colorscale="gray", zmin=0, zmax=255,
                      showscale=False, hoverinfo="skip")


def _grid_geometry(shape: tuple[int, int], size: int) -> dict:
    """Heatmap placement that lays an (H, W) grid over a size x size face: cell r spans size/H pixels."""
    h, w = shape
    return {"x0": size / w / 2 - 0.5, "dx": size / w, "y0": size / h / 2 - 0.5, "dy": size / h}


def heat_trace(heat: np.ndarray, scale: Scale | None = None, *, signed: bool = False, opacity: float = 1.0,
               showscale: bool = True, name: str = "", size: int = FACE_SIZE, bar: dict | None = None
               ) -> go.Heatmap:
    """(h, w) map as a heatmap trace, transparent where the map is low (signed: near 0).

    A map smaller than ``size`` x ``size`` is a grid map: each cell is stretched over its share of the
    face (cell (r, c) covers rows ``[r * size/h, (r+1) * size/h)``), and hovering names the cell.

    Parameters
    ----------
    heat : (h, w) ndarray
        The map.
    scale : Scale, optional
        Its colour range and unit; by default :func:`map_scale` of the map itself.
    signed : bool
        Used only without ``scale``: a diverging range symmetric about 0.
    opacity : float
        Scales the whole trace.
    showscale : bool
        Draw the colour bar.
    name : str
        Trace name.
    size : int
        Side of the face the map lies over.
    bar : dict, optional
        Colour bar placement (see :func:`colorbar`).
    """
    heat = np.asarray(heat, dtype=np.float32)
    scale = scale or map_scale(heat, signed=signed)
    if heat.shape != (size, size):
        rows, cols = np.mgrid[0: heat.shape[0], 0: heat.shape[1]]
        extra = {**_grid_geometry(heat.shape, size), "customdata": np.dstack([rows, cols]),
                 "hovertemplate": "token (%{customdata[0]}, %{customdata[1]}): %{z:.3g}<extra></extra>"}
    else:
        extra = {"hovertemplate": "x %{x}, y %{y}: %{z:.3g}<extra></extra>"}
    return go.Heatmap(z=heat, colorscale=DIVERGING if scale.signed else HEAT, zmin=scale.zmin,
                      zmax=scale.zmax, opacity=opacity, showscale=showscale,
                      colorbar=colorbar(scale, **(bar or {})), name=name, **extra)


def grid_lines(grid: tuple[int, int], size: int = FACE_SIZE, color: str = GRID_LINE) -> go.Scatter:
    """The borders between the cells of an (H, W) token grid laid over a size x size face, as one trace."""
    h, w = grid
    xs, ys = [], []
    for c in range(1, w):
        x = c * size / w - 0.5
        xs += [x, x, None]
        ys += [-0.5, size - 0.5, None]
    for r in range(1, h):
        y = r * size / h - 0.5
        xs += [-0.5, size - 0.5, None]
        ys += [y, y, None]
    return go.Scatter(x=xs, y=ys, mode="lines", line={"color": color, "width": 1}, hoverinfo="skip",
                      showlegend=False, name="token grid")


def marker_trace(xy: tuple[float, float], label: str = "query") -> go.Scatter:
    """A cross at (x, y) in pixel-index units (e.g. from ``attention.grid_to_pixel``)."""
    return go.Scatter(x=[xy[0]], y=[xy[1]], mode="markers", name=label, showlegend=False,
                      marker={"symbol": "x-thin-open", "size": 16, "color": "cyan", "line": {"width": 3}},
                      hovertemplate=f"{label}<extra></extra>")


def image_axes(fig: go.Figure, rows: int = 1, cols: int = 1, size: int | None = None) -> None:
    """Row 0 at the top, square pixels, no ticks, on every subplot; ``size`` fixes the range to the image."""
    bare = {"showticklabels": False, "ticks": "", "showgrid": False, "zeroline": False, "constrain": "domain"}
    for i in range(1, rows * cols + 1):
        suffix = "" if i == 1 else str(i)
        yaxis = {"range": [size - 0.5, -0.5]} if size else {"autorange": "reversed"}
        xaxis = {"range": [-0.5, size - 0.5]} if size else {}
        fig.update_layout({f"yaxis{suffix}": {"scaleanchor": f"x{suffix}", **bare, **yaxis},
                           f"xaxis{suffix}": {**bare, **xaxis}})


def place_colorbars(fig: go.Figure) -> None:
    """Put the colour bar of every heatmap that shows one just right of its own subplot."""
    for trace in fig.data:
        if not isinstance(trace, go.Heatmap) or trace.showscale is False:
            continue
        xname = "xaxis" + (trace.xaxis or "x")[1:]
        yname = "yaxis" + (trace.yaxis or "y")[1:]
        xd, yd = fig.layout[xname].domain or (0, 1), fig.layout[yname].domain or (0, 1)
        trace.colorbar.update(x=xd[1] + 0.005, xanchor="left", y=(yd[0] + yd[1]) / 2, yanchor="middle",
                              len=yd[1] - yd[0], lenmode="fraction")


def overlay(face: np.ndarray, heat: np.ndarray, title: str = "", *, scale: Scale | None = None,
            signed: bool = False, marker: tuple[float, float] | None = None, opacity: float = 1.0,
            height: int = 360, bar: dict | None = None) -> go.Figure:
    """``heat`` over the (S, S) uint8 face, with a colour bar, optionally with a cross at ``marker``.

    Parameters
    ----------
    face : (S, S) uint8 ndarray
        The face crop.
    heat : (S, S) or (H, W) ndarray
        A pixel map, or a token-grid map drawn cell by cell with the grid lines.
    title : str
        Figure title.
    scale : Scale, optional
        Colour range and unit (default: :func:`map_scale` of ``heat``, diverging when ``signed``).
    signed : bool
        Used only without ``scale``.
    marker : (float, float), optional
        (x, y) in pixel-index units.
    opacity : float
        Of the map.
    height : int
        Figure height in pixels.
    bar : dict, optional
        Colour bar placement and style (e.g. horizontal, below the face), see :func:`colorbar`.
    """
    size = int(np.asarray(face).shape[0])
    heat = np.asarray(heat)
    traces = [face_trace(face), heat_trace(heat, scale, signed=signed, opacity=opacity, size=size, bar=bar)]
    if heat.shape != (size, size):
        traces.append(grid_lines(heat.shape, size))
    fig = go.Figure(traces)
    if marker is not None:
        fig.add_trace(marker_trace(marker))
    image_axes(fig, size=size)
    fig.update_layout(title={"text": title}, height=height, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig


def overlay_grid(face: np.ndarray, maps: np.ndarray | Sequence[np.ndarray], titles: Sequence[str], *,
                 scale: Scale | Sequence[Scale] | None = None, signed: bool | Sequence[bool] = False,
                 marker: tuple[float, float] | None = None, cols: int = 4, opacity: float = 1.0,
                 title: str = "") -> go.Figure:
    """One overlay per map (each (S, S) pixels or (H, W) token grid), ``cols`` per row, with colour bars.

    Parameters
    ----------
    face : (S, S) uint8 ndarray
        The face every map is drawn over.
    maps : sequence of ndarray
        The maps.
    titles : sequence of str
        One per map.
    scale : Scale or sequence of Scale, optional
        One :class:`Scale` shared by every map (one colour bar, at the right), or one per map (a colour
        bar beside each); by default each map gets its own range (diverging where ``signed``).
    signed : bool or sequence of bool
        Used only without ``scale``; may differ per map.
    marker : (float, float), optional
        A cross drawn on every map.
    cols : int
        Maps per row.
    opacity : float
        Of the maps.
    title : str
        Figure title.
    """
    maps = [np.asarray(m) for m in maps]
    size = int(np.asarray(face).shape[0])
    shared = isinstance(scale, Scale)
    if shared:
        scales = [scale] * len(maps)
    elif scale is not None:
        scales = list(scale)
    else:
        signs = list(signed) if isinstance(signed, Sequence) else [signed] * len(maps)
        scales = [map_scale(m, signed=s) for m, s in zip(maps, signs, strict=True)]
    cols = max(1, min(cols, len(maps)))
    rows = math.ceil(len(maps) / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=list(titles),
                        horizontal_spacing=0.02 if shared else 0.1, vertical_spacing=0.08)
    for i, (heat, sc) in enumerate(zip(maps, scales, strict=True)):
        r, c = divmod(i, cols)
        fig.add_trace(face_trace(face), row=r + 1, col=c + 1)
        fig.add_trace(heat_trace(heat, sc, opacity=opacity, showscale=not shared or i == 0, size=size),
                      row=r + 1, col=c + 1)
        if heat.shape != (size, size):
            fig.add_trace(grid_lines(heat.shape, size), row=r + 1, col=c + 1)
        if marker is not None:
            fig.add_trace(marker_trace(marker), row=r + 1, col=c + 1)
    image_axes(fig, rows, cols, size=size)
    if not shared:
        place_colorbars(fig)
    fig.update_layout(title={"text": title}, height=60 + 250 * rows,
                      margin={"l": 10, "r": 10, "t": 60, "b": 10})
    return fig


def channel_matrices(mats: np.ndarray | Sequence[np.ndarray], titles: Sequence[str] | None = None,
                     title: str = "", cols: int = 4, *, mode: str = "absolute") -> go.Figure:
    """(G, CH, CH) channel attention matrices, labelled with the model's channel indices.

    Group g holds channels ``g * CH`` to ``g * CH + CH - 1`` (docs/DESIGN.md §4.2): row i is how query
    channel i mixes the key channels of its group, and sums to 1. One colour range is shared by the
    groups (``mode`` as in :func:`map_scale`), with the uniform level 1/CH marked.
    """
    mats = [np.asarray(m) for m in mats]
    ch = mats[0].shape[0]
    titles = list(titles) if titles is not None else [f"group {g}: channels {g * ch}–{g * ch + ch - 1}"
                                                      for g in range(len(mats))]
    scale = map_scale(mats, mode=mode, unit="attention weight", n_uniform=ch)
    cols = max(1, min(cols, len(mats)))
    rows = math.ceil(len(mats) / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=0.06,
                        vertical_spacing=0.12)
    for g, m in enumerate(mats):
        r, c = divmod(g, cols)
        index = np.arange(g * ch, g * ch + ch)
        fig.add_trace(go.Heatmap(z=m, x=index, y=index, colorscale="Viridis", zmin=scale.zmin,
                                 zmax=scale.zmax, showscale=g == 0, colorbar=colorbar(scale),
                                 hovertemplate="query channel %{y}, key channel %{x}: %{z:.3f}"
                                               "<extra></extra>"),
                      row=r + 1, col=c + 1)
        tick = {"tickmode": "linear", "tick0": int(index[0]), "dtick": max(1, ch // 4), "showgrid": False,
                "zeroline": False, "constrain": "domain"}
        lo, hi = index[0] - 0.5, index[-1] + 0.5
        fig.update_xaxes(title_text="key channel" if r == rows - 1 else None, range=[lo, hi], **tick,
                         row=r + 1, col=c + 1)
        fig.update_yaxes(title_text="query channel" if c == 0 else None, range=[hi, lo],
                         scaleanchor=f"x{g + 1 if g else ''}", **tick, row=r + 1, col=c + 1)
    fig.update_layout(title={"text": title}, height=90 + 290 * rows,
                      margin={"l": 10, "r": 10, "t": 60, "b": 10})
    return fig


# --------------------------------------------------------------------------------------------------
# The Attention page's figures, from an AttentionSet
# --------------------------------------------------------------------------------------------------


def spatial_figures(face: np.ndarray, aset: att.AttentionSet, layer: int, group: int | None,
                    query: tuple[int, int], mode: str = "absolute") -> dict[str, go.Figure]:
    """Spatial attention of one layer over the face, on the token grid.

    Returns
    -------
    dict of str to go.Figure
        ``received`` (mean over all queries, on its own colour range), ``query`` (where the query at grid
        cell ``query`` = (row, col) attends, marked by a cross) and ``groups`` (that query, per group),
        these two on one shared range. The uniform level 1/N_k is marked on every colour bar.
    """
    row, col = query
    mark = att.grid_to_pixel(aset.grid, row, col, int(np.asarray(face).shape[0]))
    received = att.received_cells(aset, layer, group)
    where = att.query_cells(aset, layer, row, col, group)
    cells = att.group_cells(aset, layer, query)
    n_k = att.n_keys(aset, layer)
    own = map_scale(received, mode=mode, unit="attention weight", n_uniform=n_k)
    scale = map_scale([where, *cells], mode=mode, unit="attention weight", n_uniform=n_k)
    return {
        "received": overlay(face, received, "attention received (mean over all queries)", scale=own),
        "query": overlay(face, where, f"where the query at ({row}, {col}) attends", scale=scale, marker=mark),
        "groups": overlay_grid(face, list(cells), [f"group {g}" for g in range(len(cells))], scale=scale,
                               marker=mark, title=f"every group, query ({row}, {col})"),
    }


def token_figure(face: np.ndarray, aset: att.AttentionSet, mode: str = "absolute") -> go.Figure:
    """Every token-norm map (C3 tokens, BiLSTM, fused) over the face, each with its own colour bar."""
    names = list(aset.token_maps)
    maps = [aset.token_maps[n] for n in names]
    return overlay_grid(face, maps, names, cols=len(names),
                        scale=[map_scale(m, mode=mode, unit="L2 norm") for m in maps],
                        title="L2 norm of each token over its channels (each map on its own scale)")


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
