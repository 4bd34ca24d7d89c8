"""Plotly figures for the Predict page: the picture with its faces boxed and labelled, a face's probabilities.

Text that may come from outside (class names of a user's checkpoint) is HTML-escaped before it goes
into a figure, since Plotly renders a subset of HTML in titles, annotations and tick labels.
"""

from __future__ import annotations

import base64
import html
import io

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from ferviz.data.labels import ALL_LABELS
from ferviz.figures.labels import label_origins
from ferviz.pipeline.inference import FacePrediction, ImagePrediction

#: Okabe-Ito colours (distinguishable with the common colour-vision deficiencies), one per class of
#: :data:`ferviz.data.labels.ALL_LABELS`; unknown class names get one chosen from their spelling.
PALETTE: tuple[str, ...] = ("#D55E00", "#009E73", "#CC79A7", "#E69F00", "#0072B2", "#56B4E9", "#7F7F7F",
                            "#F0E442")
FALLBACK_TEXT = "centre crop (no face found)"
OTHER_BAR = "#C8CDD2"
#: Caption text: font size, and upper bounds on a character's width and a line's height, in screen pixels.
FONT_PX, CHAR_PX, LINE_PX, PAD_PX = 13, 8.0, 17, 3
#: The narrowest the picture is drawn (a phone, or a third of a laptop screen): captions are sized for it.
MIN_WIDTH_PX = 420
DISPLAY_SIDE = 1024  # the picture goes to the browser at most this large (boxes keep full-size coordinates)


def label_colour(label: str) -> str:
    """The fixed colour of a class name (hex ``#RRGGBB``)."""
    if label in ALL_LABELS:
        return PALETTE[ALL_LABELS.index(label)]
    return PALETTE[sum(map(ord, label)) % len(PALETTE)]


def box_text(face: FacePrediction) -> str:
    """The caption drawn on a face's box, e.g. ``#0 happy 87%`` (HTML-escaped), short to fit group photos."""
    verdict = f"{html.escape(face.label)} {face.confidence:.0%}"
    return f"{FALLBACK_TEXT} · {verdict}" if face.fallback else f"#{face.index} {verdict}"


def image_uri(rgb: np.ndarray, max_side: int = DISPLAY_SIDE) -> tuple[str, float]:
    """Encode an RGB image as a JPEG data URI, shrunk so its longer side is at most ``max_side``.

    Parameters
    ----------
    rgb : (H, W, 3) uint8 ndarray
    max_side : int

    Returns
    -------
    uri : str
        ``data:image/jpeg;base64,...``
    scale : float
        Shrink factor in (0, 1]: one encoded pixel spans ``1 / scale`` pixels of ``rgb``.
    """
    height, width = rgb.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    image = Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8))
    if scale < 1.0:
        image = image.resize((max(1, round(width * scale)), max(1, round(height * scale))),
                             Image.Resampling.BOX)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=88)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii"), scale


def faces_figure(pred: ImagePrediction, *, max_height: int = 640) -> go.Figure:
    """The decoded picture with one rectangle and caption per face.

    Detected faces get a solid box in their predicted class's colour; the centre-crop fallback (no
    face found) gets a dashed box captioned :data:`FALLBACK_TEXT`. Coordinates are the decoded
    image's pixels (``pred.image.rgb``), the frame of :class:`ferviz.pipeline.faces.FaceBox`.

    Parameters
    ----------
    pred : ImagePrediction
    max_height : int
        Figure height in screen pixels for a portrait picture; landscape ones get less.

    Returns
    -------
    go.Figure
        One ``go.Image`` trace, ``len(pred.faces)`` rectangle shapes and as many annotations.
    """
    height, width = pred.image.rgb.shape[:2]
    uri, scale = image_uri(pred.image.rgb)
    fig = go.Figure(go.Image(source=uri, x0=0, y0=0, dx=1 / scale, dy=1 / scale, hoverinfo="skip"))
    fig_height = round(min(max_height, max(240, max_height * height / max(width, 1))))
    screen = _screen_scale(width, height, fig_height)
    texts = [box_text(face) for face in pred.faces]
    extents = [((CHAR_PX * len(html.unescape(t)) + 2 * PAD_PX) / screen, (LINE_PX + 2 * PAD_PX) / screen)
               for t in texts]
    corners = label_origins([(f.box.x, f.box.y, f.box.w, f.box.h) for f in pred.faces], extents, (width, height))
    for face, text, corner in zip(pred.faces, texts, corners, strict=True):
        _add_box(fig, face, text, corner)
    # In a column narrower than the figure is tall, the picture keeps its shape and sits at the top left
    # (beside the probabilities), not in the middle of an empty band.
    fig.update_xaxes(visible=False, range=[0, width], constrain="domain", constraintoward="left")
    fig.update_yaxes(visible=False, range=[height, 0], scaleanchor="x", constrain="domain", constraintoward="top")
    fig.update_layout(margin=dict(l=0, r=0, t=0, b=0), showlegend=False, height=fig_height)
    return fig


def _add_box(fig: go.Figure, face: FacePrediction, text: str, corner: tuple[float, float]) -> None:
    """One face's rectangle and its caption ``text`` with its top-left at ``corner`` (picture pixels)."""
    box, colour = face.box, label_colour(face.label)
    fig.add_shape(type="rect", x0=box.x, y0=box.y, x1=box.x + box.w, y1=box.y + box.h,
                  line=dict(color=colour, width=3, dash="dash" if face.fallback else "solid"),
                  name=f"face #{face.index}")
    fig.add_annotation(x=corner[0], y=corner[1], text=text, showarrow=False, xanchor="left", yanchor="top",
                       font=dict(color=_ink(colour), size=FONT_PX), bgcolor=colour, opacity=0.9,
                       borderpad=PAD_PX - 1, name=f"label {face.index}")


def _screen_scale(width: int, height: int, fig_height: int) -> float:
    """Screen pixels per picture pixel when the figure is drawn at most :data:`MIN_WIDTH_PX` wide."""
    return min(fig_height / max(height, 1), MIN_WIDTH_PX / max(width, 1))


def probs_figure(face: FacePrediction, labels: list[str] | tuple[str, ...]) -> go.Figure:
    """Horizontal bars of one face's class probabilities (percent), in the model's label order.

    Parameters
    ----------
    face : FacePrediction
    labels : sequence of str
        The model's class names (``LoadedModel.labels``); a class missing from ``face.probs`` shows 0.

    Returns
    -------
    go.Figure
        One ``go.Bar`` trace with ``len(labels)`` bars; the predicted class in its colour, the rest grey.
    """
    values = [100.0 * face.probs.get(name, 0.0) for name in labels]
    colours = [label_colour(name) if name == face.label else OTHER_BAR for name in labels]
    names = [html.escape(name) for name in labels]
    fig = go.Figure(go.Bar(x=values, y=names, orientation="h", marker_color=colours,
                           text=[f"{v:.1f}%" for v in values], textposition="outside", cliponaxis=False,
                           hovertemplate="%{y}: %{x:.2f}%<extra></extra>"))
    title = f"face #{face.index}: {html.escape(face.label)} ({face.confidence:.0%})"
    if face.fallback:
        title += " — centre crop"
    fig.update_xaxes(range=[0, 100], title="probability (%)", fixedrange=True)
    fig.update_yaxes(autorange="reversed", fixedrange=True)
    fig.update_layout(title=dict(text=title, font=dict(size=14)), height=60 + 26 * len(labels),
                      margin=dict(l=0, r=30, t=36, b=0), showlegend=False)
    return fig


def _ink(hex_colour: str) -> str:
    """Black or white, whichever reads better on ``hex_colour`` (by relative luminance)."""
    r, g, b = (int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return "#000000" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.5 else "#FFFFFF"


def faces_probs_figure(faces: list[FacePrediction], labels: list[str] | tuple[str, ...]) -> go.Figure:
    """Every face's class probabilities in one compact grid: a row per face, a column per class (percent).

    Parameters
    ----------
    faces : list of FacePrediction
        In the order they are numbered (reading order).
    labels : sequence of str
        The model's class names; a class missing from a face's ``probs`` shows 0.

    Returns
    -------
    go.Figure
        One ``go.Heatmap`` (``len(faces)`` x ``len(labels)``, values in [0, 100]) with each cell's percent
        written in it; each row's predicted class is outlined in its colour.
    """
    values = np.array([[100.0 * f.probs.get(name, 0.0) for name in labels] for f in faces]).reshape(
        len(faces), len(labels))
    rows = [f"{'centre crop' if f.fallback else f'#{f.index}'} {html.escape(f.label)}" for f in faces]
    names = [html.escape(name) for name in labels]
    fig = go.Figure(go.Heatmap(z=values, x=names, y=rows, zmin=0, zmax=100, colorscale="Blues",
                               text=np.round(values).astype(int), texttemplate="%{text}",
                               hovertemplate="%{y}<br>%{x}: %{z:.1f}%<extra></extra>",
                               colorbar=dict(title="%", thickness=10, len=1.0)))
    for row, face in enumerate(faces):
        if face.label in labels:
            col = list(labels).index(face.label)
            fig.add_shape(type="rect", x0=col - 0.5, x1=col + 0.5, y0=row - 0.5, y1=row + 0.5,
                          line=dict(color=label_colour(face.label), width=3))
    fig.update_xaxes(side="top", fixedrange=True, tickangle=-90)  # upright names never overlap, however narrow
    fig.update_yaxes(autorange="reversed", fixedrange=True)
    fig.update_layout(height=90 + 30 * len(faces), margin=dict(l=0, r=0, t=70, b=0))
    return fig
