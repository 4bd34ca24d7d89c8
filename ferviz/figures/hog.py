"""Figures that walk through HOG (paper eqs. 1-8) on one face, from a :class:`ferviz.data.hog.HogSteps`.

Images are drawn as heatmaps with row 0 at the top, square pixels and axes in pixels; values are shown
as computed (grey levels in [0, 1], gradients as grey-level differences over two pixels, angles in
degrees, histograms as mean magnitude per pixel), each with a colour bar naming its unit. Two pictures
are prepared for reading rather than computed by the equations: the angle is blanked where the
gradient is too weak to have a direction (:func:`masked_angle`), and the glyphs of the rendered HOG
are drawn long and sharp at every cell size (:func:`glyph_picture`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ferviz.data.hog import HogSteps
from ferviz.data.preprocess import Preprocessing, prepare_images
from ferviz.model.network import INPUT_MODES

_MARGIN = {"t": 40, "l": 10, "r": 40, "b": 10}  # r: room for the colour bar's vertical title
#: Below this gradient magnitude (grey levels in [0, 1]; 0.02 is about 5 of 255 grey levels over two
#: pixels) the angle is noise and is not drawn.
ANGLE_MIN_MAGNITUDE = 0.02


def pixel_axes(fig: go.Figure, height: int, width: int, **where) -> None:
    """Axes in pixels (ticks every quarter of the side, no grid), row 0 on top, square pixels."""
    for axis, side, name in ((fig.update_xaxes, width, "x (px)"), (fig.update_yaxes, height, "y (px)")):
        step = max(1, side // 4)
        axis(title_text=name, tickmode="array", tickvals=list(range(0, side, step)), ticks="outside",
             showgrid=False, zeroline=False, **where)
    fig.update_yaxes(autorange=False, range=[height - 0.5, -0.5], scaleanchor="x", constrain="domain",
                     **where)
    fig.update_xaxes(autorange=False, range=[-0.5, width - 0.5], constrain="domain", **where)


def heatmap_figure(z: np.ndarray, title: str, colorscale: str = "gray", zmin: float | None = None,
                   zmax: float | None = None, colorbar: str = "", height: int = 320,
                   pixel: float = 1.0) -> go.Figure:
    """An (H, W) array as an image-like heatmap: row 0 on top, square pixels, axes in pixels.

    Parameters
    ----------
    z : (H, W) ndarray
        The values; NaN is drawn as nothing (the background shows).
    title : str
        Figure title.
    colorscale : str
        Plotly colour scale.
    zmin, zmax : float, optional
        Colour range.
    colorbar : str
        The colour bar's title: the unit of the values.
    height : int
        Figure height in pixels.
    pixel : float
        Size of one element of ``z`` in image pixels (0.25 for a picture drawn 4x finer), so that the
        axes count the image's pixels.
    """
    z = np.asarray(z)
    offset = pixel / 2 - 0.5  # element k covers image pixels [k * pixel - 0.5, (k + 1) * pixel - 0.5)
    fig = go.Figure(go.Heatmap(z=z, x0=offset, dx=pixel, y0=offset, dy=pixel, colorscale=colorscale,
                               zmin=zmin, zmax=zmax, colorbar={"title": {"text": colorbar, "side": "right"}},
                               hovertemplate="x %{x}, y %{y}: %{z:.3f}<extra></extra>"))
    rows, cols = z.shape
    pixel_axes(fig, round(rows * pixel), round(cols * pixel))
    fig.update_layout(title=title, height=height, margin=_MARGIN, plot_bgcolor="white")
    return fig


def masked_angle(steps: HogSteps, threshold: float = ANGLE_MIN_MAGNITUDE) -> np.ndarray:
    """(H, W) angle in degrees where the gradient magnitude is at least ``threshold``, NaN elsewhere.

    Where the image is flat, eq. 4's arctangent of two near-zero differences is pure noise; the
    histogram votes of those pixels are tiny anyway (each pixel votes its magnitude).
    """
    if threshold < 0:
        raise ValueError(f"the magnitude threshold must be >= 0, got {threshold}")
    return np.where(steps.magnitude >= threshold, steps.angle, np.nan)


def gradient_figures(steps: HogSteps, threshold: float = ANGLE_MIN_MAGNITUDE) -> dict[str, go.Figure]:
    """Eqs. 1-4 as heatmaps: ``gx``, ``gy`` (diverging, symmetric), ``magnitude``, ``angle`` (degrees).

    The angle is drawn only where the magnitude is at least ``threshold`` (see :func:`masked_angle`).
    """
    bound = float(max(np.abs(steps.gx).max(), np.abs(steps.gy).max(), 1e-6))
    unit = "grey-level difference"
    return {
        "gx": heatmap_figure(steps.gx, "GT_X = I(r, c+1) − I(r, c−1)  (eq. 1)", "RdBu", -bound, bound, unit),
        "gy": heatmap_figure(steps.gy, "GT_Y = I(r−1, c) − I(r+1, c)  (eq. 2)", "RdBu", -bound, bound, unit),
        "magnitude": heatmap_figure(steps.magnitude, "magnitude √(GT_X² + GT_Y²)  (eq. 3)", "Viridis", 0.0,
                                    None, unit),
        "angle": heatmap_figure(masked_angle(steps, threshold),
                                f"unsigned angle (eq. 4), where magnitude ≥ {threshold:g}", "Twilight", 0.0,
                                180.0, "degrees"),
    }


def glyph_picture(steps: HogSteps, upscale: int = 4, width: float = 0.6) -> np.ndarray:
    """The rendered HOG drawn for reading: one glyph per cell, legible at every cell size.

    Like :func:`ferviz.data.hog.render_hog`, every bin of every cell is a line through the cell centre
    perpendicular to the bin's middle direction (so along the edge). Here the lines are drawn on a grid
    ``upscale`` times finer, anti-aliased, ``width`` image pixels wide and almost as long as the cell
    (0.9 of its side, whatever the cell size); each line's brightness is its bin value divided by the
    largest bin value of the image (linear), and where lines cross the brighter one wins (no sums, so
    the cell centres do not outshine the glyphs).

    Returns
    -------
    (H * upscale, W * upscale) float64 ndarray
        In [0, 1]; 1 for the largest bin of the image, all zero for a flat image. Pixels outside whole
        cells stay 0.
    """
    if upscale < 1:
        raise ValueError(f"upscale must be >= 1, got {upscale}")
    hist = steps.cell_histograms
    n_r, n_c, n_bins = hist.shape
    size = steps.cell_size
    height, width_px = steps.image.shape
    out = np.zeros((height * upscale, width_px * upscale))
    top = float(hist.max())
    if top <= 0:
        return out
    # offsets of every fine pixel centre from its cell centre, in image pixels
    fine = (np.arange(size * upscale) + 0.5) / upscale - size / 2
    dy, dx = np.meshgrid(fine, fine, indexing="ij")  # (size*up, size*up)
    half, soft = 0.45 * size, 0.5 / upscale
    tiles = np.zeros((n_r, n_c, size * upscale, size * upscale))
    for k in range(n_bins):
        phi = np.pi * (k + 0.5) / n_bins  # the gradient moves by (sin, cos) in (row, col); the edge by:
        er, ec = np.cos(phi), -np.sin(phi)
        along = dy * er + dx * ec
        across = np.abs(dy * ec - dx * er)
        cover = np.clip((width / 2 + soft - across) / (2 * soft), 0, 1) * (np.abs(along) <= half)
        tiles = np.maximum(tiles, hist[:, :, k, None, None] / top * cover)
    out[: n_r * size * upscale, : n_c * size * upscale] = tiles.transpose(0, 2, 1, 3).reshape(
        n_r * size * upscale, n_c * size * upscale)
    return out


def glyph_figure(steps: HogSteps, upscale: int = 4) -> go.Figure:
    """:func:`glyph_picture` as a figure with axes in image pixels and a colour bar of bin values."""
    picture = glyph_picture(steps, upscale)
    top = float(steps.cell_histograms.max())
    fig = heatmap_figure(picture * top, f"rendered HOG: one glyph per {steps.cell_size}-px cell", "gray",
                         0.0, top or 1.0, "bin value (mean magnitude per pixel)", pixel=1 / upscale)
    fig.update_traces(hovertemplate="x %{x:.1f}, y %{y:.1f}: %{z:.4f}<extra></extra>")
    return fig


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
    bare = {"showticklabels": False, "ticks": "", "showgrid": False, "zeroline": False}
    for i, (_, _, plane) in enumerate(panels, start=1):
        fig.add_trace(go.Heatmap(z=plane, colorscale="gray", zmin=0, zmax=255, showscale=i == 1,
                                 colorbar={"title": {"text": "grey level (0-255)", "side": "right"}},
                                 hovertemplate="x %{x}, y %{y}: %{z}<extra></extra>"), row=1, col=i)
        fig.update_yaxes(autorange="reversed", scaleanchor=f"x{i if i > 1 else ''}", **bare, row=1, col=i)
        fig.update_xaxes(constrain="domain", **bare, row=1, col=i)
    fig.update_layout(height=300, margin=_MARGIN)
    return fig
