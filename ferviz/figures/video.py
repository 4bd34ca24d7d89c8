"""Figures of a processed video: each face's expression probabilities over time, one panel per track;
the colour key of the Live overlay."""

from __future__ import annotations

import html

import cv2
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ferviz.figures.predict import label_colour


def timeline_figure(rows: pd.DataFrame, labels: list[str], max_tracks: int = 6) -> go.Figure:
    """Stacked probability areas over time, one panel per track (the ``max_tracks`` longest-lived).

    Parameters
    ----------
    rows : DataFrame
        :attr:`ferviz.pipeline.video.VideoPrediction.rows`: ``time``, ``track``, ``status`` and one column per label.
    labels : list of str
        The model's classes, in order (the probability columns).
    max_tracks : int
        Panels shown; the tracks seen in the most frames come first.

    Returns
    -------
    plotly Figure
        Time in seconds on x, probability (0-1, stacked to 1) on y; an empty figure with a note when
        no face was found in the video.
    """
    faces = rows[rows["status"] == "face"] if len(rows) else rows
    if not len(faces):
        fig = go.Figure()
        fig.add_annotation(text="No face found in the processed frames", showarrow=False, font=dict(size=16))
        fig.update_layout(height=200, xaxis_visible=False, yaxis_visible=False)
        return fig
    order = faces["track"].value_counts().index[:max_tracks].tolist()
    order.sort(key=lambda t: faces.loc[faces["track"] == t, "time"].min())
    fig = make_subplots(rows=len(order), cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        subplot_titles=[f"face #{int(t)}" for t in order])
    for i, track in enumerate(order, start=1):
        part = faces[faces["track"] == track].sort_values("time")
        for name in labels:
            shown = html.escape(name)
            fig.add_trace(go.Scatter(x=part["time"], y=part[name], name=shown, stackgroup=f"t{track}",
                                     mode="lines", line=dict(width=0.5, color=label_colour(name)),
                                     legendgroup=name, showlegend=i == 1,
                                     hovertemplate=f"{shown} %{{y:.0%}} at %{{x:.2f}} s<extra></extra>"),
                          row=i, col=1)
        fig.update_yaxes(range=[0, 1], tickformat=".0%", title_text="probability", row=i, col=1)
    fig.update_xaxes(title_text="time (s)", row=len(order), col=1)
    fig.update_layout(height=180 + 170 * len(order), margin=dict(l=60, r=20, t=40, b=40),
                      legend=dict(orientation="h", y=-0.12 if len(order) > 1 else -0.3))
    return fig


def overlay_legend(width: int = 256, height: int = 14) -> np.ndarray:
    """The Live overlay's colour key: OpenCV's JET map from 0 (left, blue) to 1 (right, red), RGB uint8.

    The same colour map :func:`ferviz.pipeline.live.draw_live` lays over each face, so the key matches
    the video pixel for pixel. Shape ``(height, width, 3)``.
    """
    ramp = np.tile(np.linspace(0, 255, width).astype(np.uint8), (height, 1))
    return cv2.applyColorMap(ramp, cv2.COLORMAP_JET)[:, :, ::-1].copy()
