"""Figures that walk through HOG (paper eqs. 1-8) on one face, from a :class:`ferviz.hog.HogSteps`.

Images are drawn as heatmaps with row 0 at the top and square pixels; values are shown as computed
(gradients in grey levels per two pixels, angles in degrees, histograms as mean magnitude per pixel).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ferviz.hog import HogSteps
from ferviz.model import INPUT_MODES
from ferviz.preprocess import Preprocessing, prepare_images

_MARGIN = {"t": 40, "l": 10, "r": 10, "b": 10}


def heatmap_figure(z: np.ndarray, title: str, colorscale: str = "gray", zmin: float | None = None,
                   zmax: float | None = None, colorbar: str = "", height: int = 320) -> go.Figure:
    """An (H, W) array as an image-like heatmap (row 0 on top, square pixels)."""
    fig = go.Figure(go.Heatmap(z=np.asarray(z), colorscale=colorscale, zmin=zmin, zmax=zmax,
                               colorbar={"title": colorbar}, hovertemplate="row %{y}, col %{x}: %{z:.3f}"
                               "<extra></extra>"))
    fig.update_yaxes(autorange="reversed", scaleanchor="x", showticklabels=False)
    fig.update_xaxes(showticklabels=False, constrain="domain")
    fig.update_layout(title=title, height=height, margin=_MARGIN)
    return fig


def gradient_figures(steps: HogSteps) -> dict[str, go.Figure]:
    """Eqs. 1-4 as heatmaps: ``gx``, ``gy`` (diverging, symmetric), ``magnitude``, ``angle`` (degrees)."""
    bound = float(max(np.abs(steps.gx).max(), np.abs(steps.gy).max(), 1e-6))
    return {
        "gx": heatmap_figure(steps.gx, "GT_X = I(r, c+1) − I(r, c−1)  (eq. 1)", "RdBu", -bound, bound),
        "gy": heatmap_figure(steps.gy, "GT_Y = I(r−1, c) − I(r+1, c)  (eq. 2)", "RdBu", -bound, bound),
        "magnitude": heatmap_figure(steps.magnitude, "magnitude √(GT_X² + GT_Y²)  (eq. 3)", "Viridis", 0.0),
        "angle": heatmap_figure(steps.angle, "unsigned angle, degrees  (eq. 4)", "Twilight", 0.0, 180.0, "°"),
    }


def cell_grid_figure(steps: HogSteps, row: int, col: int) -> go.Figure:
    """The face with the cell grid, the chosen cell (red) and the block that starts there (orange)."""
    fig = heatmap_figure(steps.image, f"{steps.cell_size}-px cells; cell ({row}, {col}) and its block",
                         "gray", 0.0, 1.0)
    fig.update_traces(showscale=False)
    size, n_r, n_c = steps.cell_size, *steps.cell_histograms.shape[:2]
    for k in range(1, max(n_r, n_c)):
        if k < n_c:
            fig.add_vline(x=k * size - 0.5, line={"color": "rgba(0,200,255,0.5)", "width": 1})
        if k < n_r:
            fig.add_hline(y=k * size - 0.5, line={"color": "rgba(0,200,255,0.5)", "width": 1})
    br, bc = block_origin(steps, row, col)
    span = steps.block_size * size
    fig.add_shape(type="rect", x0=bc * size - 0.5, x1=bc * size + span - 0.5, y0=br * size - 0.5,
                  y1=br * size + span - 0.5, line={"color": "orange", "width": 3})
    fig.add_shape(type="rect", x0=col * size - 0.5, x1=(col + 1) * size - 0.5, y0=row * size - 0.5,
                  y1=(row + 1) * size - 0.5, line={"color": "red", "width": 3})
    return fig


def bin_labels(steps: HogSteps) -> list[str]:
    """``'0–20°'``-style names of the orientation bins (eqs. 5-6)."""
    edges = steps.bin_edges
    return [f"{edges[k]:.0f}–{edges[k + 1]:.0f}°" for k in range(steps.n_bins)]


def cell_histogram_figure(steps: HogSteps, row: int, col: int) -> go.Figure:
    """One cell's orientation histogram (eqs. 5-6): mean magnitude per pixel voted into each bin."""
    values = steps.cell_histograms[row, col]
    fig = go.Figure(go.Bar(x=bin_labels(steps), y=values, marker_color="#1f77b4",
                           hovertemplate="%{x}: %{y:.4f}<extra></extra>"))
    fig.update_layout(title=f"Cell ({row}, {col}): {steps.n_bins} bins of {180 / steps.n_bins:g}°",
                      height=320, xaxis_title="gradient direction", yaxis_title="mean magnitude per pixel",
                      margin=_MARGIN)
    return fig


def block_origin(steps: HogSteps, row: int, col: int) -> tuple[int, int]:
    """The block starting at cell (row, col), moved up/left where the grid has no block that far out."""
    n_br, n_bc = steps.blocks.shape[:2]
    return min(row, n_br - 1), min(col, n_bc - 1)


def block_values(steps: HogSteps, row: int, col: int) -> pd.DataFrame:
    """The block at :func:`block_origin` before and after L2 normalisation (eqs. 7-8).

    Returns
    -------
    DataFrame
        ``block_size**2 * n_bins`` rows in descriptor order: ``cell`` ('(r, c)'), ``bin``, ``before``
        (cell histogram value) and ``after`` (normalised value).
    """
    br, bc = block_origin(steps, row, col)
    b = steps.block_size
    raw = steps.cell_histograms[br:br + b, bc:bc + b]  # (b, b, n_bins)
    cells = [f"({br + i}, {bc + j})" for i in range(b) for j in range(b) for _ in range(steps.n_bins)]
    return pd.DataFrame({"cell": cells, "bin": bin_labels(steps) * (b * b), "before": raw.ravel(),
                         "after": steps.blocks[br, bc].ravel()})


def block_figure(steps: HogSteps, row: int, col: int) -> go.Figure:
    """Two bar rows over the block's values: the raw cell histograms and the L2-normalised block."""
    table = block_values(steps, row, col)
    norm = float(np.sqrt(np.sum(table["before"] ** 2)))
    x = np.arange(len(table))
    labels = table["cell"] + " " + table["bin"]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.12, subplot_titles=(
        f"before: cell histograms, ||v|| = {norm:.4f}", "after: v / √(||v||² + ε²)  (eqs. 7-8)"))
    fig.add_trace(go.Bar(x=x, y=table["before"], customdata=labels, name="before", marker_color="#7f7f7f",
                         hovertemplate="%{customdata}: %{y:.4f}<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Bar(x=x, y=table["after"], customdata=labels, name="after", marker_color="#ff7f0e",
                         hovertemplate="%{customdata}: %{y:.4f}<extra></extra>"), row=2, col=1)
    for k in range(1, steps.block_size ** 2):
        fig.add_vline(x=k * steps.n_bins - 0.5, line={"color": "gray", "dash": "dot"})
    fig.update_xaxes(title="value index in the block (cell by cell, bin by bin)", row=2, col=1)
    fig.update_layout(height=420, showlegend=False, margin=_MARGIN)
    return fig


def descriptor_figure(steps: HogSteps) -> go.Figure:
    """The whole descriptor as a line: every normalised block, concatenated."""
    d = steps.descriptor
    n_br, n_bc = steps.blocks.shape[:2]
    fig = go.Figure(go.Scatter(x=np.arange(d.size), y=d, mode="lines", line={"width": 1}))
    fig.update_layout(title=f"Descriptor: {n_br} × {n_bc} blocks × {steps.block_size ** 2} cells × "
                      f"{steps.n_bins} bins = {d.size} values", height=300, xaxis_title="index",
                      yaxis_title="value", margin=_MARGIN)
    return fig


def input_planes(face: np.ndarray, size: int = 64) -> dict[str, np.ndarray]:
    """``{input mode: (C, size, size) uint8 planes}`` of one (H, W) uint8 face, via :func:`prepare_images`.

    The HOG planes always use the paper's parameters (8-px cells, 9 bins, 2x2 blocks), as the model does.
    """
    faces = np.asarray(face, dtype=np.uint8)[None]
    return {mode: prepare_images(faces, Preprocessing(input_mode=mode, size=size))[0] for mode in INPUT_MODES}


def input_planes_figure(planes: Mapping[str, np.ndarray], current: str | None = None) -> go.Figure:
    """What the network receives per input mode: ``{mode: (C, S, S) uint8 planes}`` side by side."""
    panels = [(mode, k, plane) for mode, stack in planes.items() for k, plane in enumerate(stack)]
    plane_name = {("gray", 0): "gray", ("hog", 0): "HOG", ("gray+hog", 0): "gray", ("gray+hog", 1): "HOG"}
    titles = [f"{mode}{' (this model)' if mode == current else ''}: {plane_name.get((mode, k), k)} plane"
              for mode, k, _ in panels]
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=titles, horizontal_spacing=0.02)
    for i, (_, _, plane) in enumerate(panels, start=1):
        fig.add_trace(go.Heatmap(z=plane, colorscale="gray", zmin=0, zmax=255, showscale=False,
                                 hovertemplate="%{z}<extra></extra>"), row=1, col=i)
        fig.update_yaxes(autorange="reversed", scaleanchor=f"x{i if i > 1 else ''}", showticklabels=False,
                         row=1, col=i)
        fig.update_xaxes(showticklabels=False, row=1, col=i)
    fig.update_layout(height=300, margin=_MARGIN)
    return fig
