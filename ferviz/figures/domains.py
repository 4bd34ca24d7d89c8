"""The domain table as a heatmap (every model on every domain, one metric in percent), one model's recall of
each expression by domain, the logit-adjustment sweep, and the trade-off between FER+'s majority and the
balanced posed sets."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ferviz.results.domains import ADJUSTMENT_FILE, DOMAINS, FERPLUS_TARGET, TRADEOFF_SOURCES


def _percent_heatmap(table: pd.DataFrame, hover: Callable[[str, str, str], str], title: str,
                     scale: str) -> go.Figure:
    """A 0-100 % heatmap of ``table`` with every cell written out ("—" where NaN); ``hover(row, column,
    cell text)`` gives each cell's hover text."""
    values = table.to_numpy(dtype=float)
    text = [["—" if pd.isna(v) else f"{v:.1f}" for v in row] for row in values]
    fig = go.Figure(go.Heatmap(
        z=values, x=list(table.columns), y=list(table.index), text=text, texttemplate="%{text}",
        hovertext=[[hover(name, column, cell) for column, cell in zip(table.columns, row, strict=True)]
                   for name, row in zip(table.index, text, strict=True)],
        hoverinfo="text", colorscale="Blues", zmin=0, zmax=100, colorbar=dict(title=scale)))
    fig.update_layout(height=90 + 40 * len(table.index), margin=dict(l=10, r=10, t=30, b=10),
                      yaxis=dict(autorange="reversed"), title=title)
    return fig


def domain_heatmap(table: pd.DataFrame, metric: str = "accuracy") -> go.Figure:
    """A heatmap of a :func:`ferviz.results.domains.table_frame` (models x domains, percent).

    Each cell is written out; an empty cell (a model not measured there) is shown as "—". The column
    headers are the domain keys, with their meaning in the hover.
    """
    if table.empty:
        fig = go.Figure()
        fig.update_layout(title="no domain table yet (ferviz domains ... --out models/reports/domains/domains.json)",
                          height=120)
        return fig
    return _percent_heatmap(table, lambda model, domain, cell: f"{model}<br>{DOMAINS.get(domain, domain)}<br>"
                                                               f"{metric}: {cell}",
                            f"{metric.replace('_', '-').replace('-accuracy', ' accuracy')} by domain (%)",
                            f"{metric.replace('_', ' ')} %")


def recall_heatmap(frame: pd.DataFrame, model: str) -> go.Figure:
    """A :func:`ferviz.results.domains.recall_frame` as a heatmap: one model's recall of each expression
    (columns) on each domain (rows), every cell written out, "—" where a domain has none of that class."""
    if frame.empty:
        fig = go.Figure()
        fig.update_layout(title=f"{model} has no per-class scores by domain", height=120)
        return fig
    return _percent_heatmap(frame, lambda domain, emotion, cell: f"{DOMAINS.get(domain, domain)}<br>{emotion}: "
                                                                 f"{cell} % of its faces named {emotion}",
                            f"{model}: recall of each expression by domain (%)", "recall %")


def adjustment_figure(frame: pd.DataFrame, chosen: float | None = None) -> go.Figure:
    """The logit-adjustment sweep (:func:`ferviz.results.domains.adjustment_frame`): each domain's accuracy
    (left) and macro-F1 (right) against tau, one line per domain; ``chosen`` (the shipped tau) dotted."""
    if frame.empty:
        fig = go.Figure()
        fig.update_layout(title="no logit-adjustment sweep yet (step adjust_sweep of scripts/reproduce.sh)",
                          height=120)
        return fig
    fig = make_subplots(rows=1, cols=2, subplot_titles=("accuracy (agreement for photos), %", "macro-F1, %"),
                        horizontal_spacing=0.08)
    colours = dict(zip(DOMAINS, ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"), strict=True))
    for col, metric in enumerate(("acc", "F1"), start=1):
        for domain in DOMAINS:
            if f"{domain} {metric}" not in frame.columns:
                continue
            fig.add_trace(go.Scatter(x=frame["tau"], y=frame[f"{domain} {metric}"], mode="lines+markers",
                                     name=domain, legendgroup=domain, showlegend=col == 1,
                                     line=dict(color=colours[domain]),
                                     hovertemplate=f"{domain}<br>tau %{{x}}<br>%{{y:.1f}} %<extra></extra>"),
                          row=1, col=col)
        if chosen is not None:  # a legend entry, not a label on the plot: it would cover a line
            values = frame[[c for c in frame.columns if c.endswith(f" {metric}")]].to_numpy(dtype=float)
            fig.add_trace(go.Scatter(x=[chosen, chosen], y=[np.nanmin(values), np.nanmax(values)], mode="lines",
                                     name=f"shipped: tau = {chosen:g}", legendgroup="shipped",
                                     showlegend=col == 1, line=dict(color="gray", dash="dot"), hoverinfo="skip"),
                          row=1, col=col)
    fig.update_xaxes(title_text="tau (0 = as trained, 1 = classes equally likely)")
    fig.update_layout(height=380, margin=dict(l=10, r=10, t=40, b=10), hovermode="closest",
                      legend=dict(orientation="h", y=-0.25))
    return fig


#: The trade-off plot's y axes: column of :func:`ferviz.results.domains.tradeoff_frame` -> (axis title, plot title,
#: hover label). The strings the Compare page offers.
TRADEOFF_Y: dict[str, tuple[str, str, str]] = {
    "posed": ("mean macro-F1 on CK+ and JAFFE, %",
              "FER+'s majority against the posed sets where every expression is as common", "CK+/JAFFE macro-F1"),
    "balanced": ("balanced accuracy against FER+'s majority, %",
                 "FER+'s majority: on FER2013's mix, and with every expression weighted alike",
                 "FER+ balanced accuracy"),
}


#: About the trade-off plot's drawing area in pixels (Streamlit's wide column; the figure's height less its
#: title, axes and legend), and an 11 px name's character width and line height: enough to keep names apart.
PLOT_PX = (820.0, 300.0)
CHAR_PX, LINE_PX = 6.3, 15.0


def _x_range(frame: pd.DataFrame, target: float) -> tuple[float, float]:
    """The trade-off plot's x range: 2 points left of the lowest point, 9 right of the target or the highest
    point (room for the names)."""
    return float(frame["ferplus"].min()) - 2, max(float(frame["ferplus"].max()), target) + 9


#: Where a point's name may go, in the order tried: the tau sweep's above or below its point (its line runs
#: left to right), the others' right or left of it. Each place: (xanchor, yanchor, xshift, yshift) in pixels.
NAME_PLACES: dict[str, tuple[str, str, int, int]] = {
    "above": ("center", "bottom", 0, 7), "below": ("center", "top", 0, -7),
    "right": ("left", "middle", 9, 0), "left": ("right", "middle", -9, 0)}


def _name_box(x: float, y: float, text: str, place: str) -> tuple[float, float, float, float]:
    """The pixel box (left, right, bottom, top) of a point's name written at ``place`` of :data:`NAME_PLACES`,
    for a point at pixel (x, y)."""
    width = CHAR_PX * len(text)
    xanchor, yanchor, dx, dy = NAME_PLACES[place]
    left = {"left": x + dx, "right": x + dx - width, "center": x - width / 2}[xanchor]
    bottom = {"bottom": y + dy, "top": y + dy - LINE_PX, "middle": y - LINE_PX / 2}[yanchor]
    return left, left + width, bottom, bottom + LINE_PX


class PointName(NamedTuple):
    """A point's name on the trade-off plot and where it is written (a key of :data:`NAME_PLACES`); both ""
    for a point left unnamed."""

    text: str
    place: str


def _point_names(frame: pd.DataFrame, first: str | None, y: str = "posed",
                 target: float = FERPLUS_TARGET) -> list[PointName]:
    """Each point's name on a trade-off frame, and where it goes: at the first place of :data:`NAME_PLACES`
    open to it (the sweep's above, then below; the others' right, then left) where its box (:func:`_name_box`,
    at about the plot's scale) stays inside the plot and overlaps no name already written and no other point's
    marker. A point close to one already named (within 1.5 points across and 2 up on the ``y`` column), or with
    no open place, is not named. ``first`` is named before the rest, then the rows in order."""
    order = sorted(range(len(frame)), key=lambda i: frame["model"].iloc[i] != first)
    low_x, high_x = _x_range(frame, target)
    low_y, high_y = float(frame[y].min()), float(frame[y].max())
    pad = max(high_y - low_y, 1.0) * 0.1
    per_x, per_y = PLOT_PX[0] / (high_x - low_x), PLOT_PX[1] / (high_y - low_y + 2 * pad)
    pixels = [((float(frame["ferplus"].iloc[i]) - low_x) * per_x, (float(frame[y].iloc[i]) - low_y + pad) * per_y)
              for i in range(len(frame))]
    markers = [(px - 6, px + 6, py - 6, py + 6) for px, py in pixels]
    sweep = TRADEOFF_SOURCES[ADJUSTMENT_FILE]

    def clear(box, against):
        return all(b[1] <= box[0] or box[1] <= b[0] or b[3] <= box[2] or box[3] <= b[2] for b in against)

    names = [PointName("", "")] * len(frame)
    named: list[tuple[float, float]] = []
    boxes: list[tuple[float, float, float, float]] = []
    for i in order:
        x, y_value = float(frame["ferplus"].iloc[i]), float(frame[y].iloc[i])
        if not all(abs(x - a) >= 1.5 or abs(y_value - b) >= 2.0 for a, b in named):
            continue
        model = frame["model"].iloc[i]
        text = (f"{model} (default)" if model == first
                else "tau " + model.removeprefix("tau_") if model.startswith("tau_") else model)
        others = markers[:i] + markers[i + 1:]
        for place in (("above", "below") if frame["family"].iloc[i] == sweep else ("right", "left")):
            box = _name_box(*pixels[i], text, place)
            if 0 <= box[0] and box[1] <= PLOT_PX[0] and clear(box, boxes) and clear(box, others):
                names[i] = PointName(text, place)
                named.append((x, y_value))
                boxes.append(box)
                break
    return names


def tradeoff_figure(frame: pd.DataFrame, target: float = FERPLUS_TARGET, default: str | None = None,
                    y: str = "posed") -> go.Figure:
    """A :func:`ferviz.results.domains.tradeoff_frame` as a scatter: FER+-majority accuracy (x) against a
    column ``y`` of :data:`TRADEOFF_Y` (the mean macro-F1 on CK+ and JAFFE, or the balanced accuracy against
    FER+'s majority, with 95 % error bars where ``balanced_se`` is known), one colour per family, the tau sweep
    joined by a line in tau order,
    and ``target`` as a dashed vertical line. ``default`` (a model name) is drawn as a star and named first;
    names go where they overlap no other name or marker, or are left out (:func:`_point_names`), as annotations
    on a pale ground, readable over a neighbour's error bar.
    The hover names every point and adds FER2013-label accuracy and photo macro-F1."""
    if y not in TRADEOFF_Y:
        raise ValueError(f"unknown y axis {y!r}; choose one of {', '.join(TRADEOFF_Y)}")
    y_title, title, y_label = TRADEOFF_Y[y]
    fig = go.Figure()
    if frame.empty:
        fig.update_layout(title="no domain table yet (ferviz domains ... --out models/reports/domains/...)",
                          height=120)
        return fig
    colours = dict(zip(TRADEOFF_SOURCES.values(), ("#1f77b4", "#8c8c8c", "#d62728", "#2ca02c", "#9467bd"), strict=True))
    sweep = TRADEOFF_SOURCES[ADJUSTMENT_FILE]
    frame = frame.reset_index(drop=True)
    names = _point_names(frame, default, y, target)
    for family, part in frame.groupby("family", sort=False):
        colour = colours[family]
        star = (part["model"] == default).to_numpy()
        fig.add_trace(go.Scatter(
            x=part["ferplus"], y=part[y], mode="lines+markers" if family == sweep else "markers",
            name=family, line={"color": colour, "dash": "dot"},
            marker={"size": np.where(star, 18, 10), "symbol": np.where(star, "star", "circle"), "color": colour},
            error_y=({"type": "data", "array": 1.96 * part["balanced_se"].to_numpy(dtype=float), "thickness": 1,
                      "width": 3, "color": colour}
                     if y == "balanced" and "balanced_se" in part and part["balanced_se"].notna().any() else None),
            customdata=part[["fer2013", "photos"]].to_numpy(dtype=float), hovertext=list(part["model"]),
            hovertemplate="%{hovertext}<br>FER+ majority %{x:.1f} %<br>" + y_label + " %{y:.1f} %"
                          "<br>FER2013 labels %{customdata[0]:.1f} %<br>photos macro-F1 %{customdata[1]:.1f} %"
                          "<extra></extra>"))
    fig.add_vline(x=target, line={"color": "black", "dash": "dash", "width": 1},
                  annotation_text=f"target: {target:g} %", annotation_position="top left")
    for row, name in zip(frame.itertuples(), names, strict=True):  # over the error bars, on a pale ground
        if name.text:
            xanchor, yanchor, dx, dy = NAME_PLACES[name.place]
            fig.add_annotation(x=row.ferplus, y=getattr(row, y), text=name.text, showarrow=False,
                               font={"size": 11, "color": "#31333f"}, bgcolor="rgba(255,255,255,0.8)", borderpad=1,
                               xanchor=xanchor, yanchor=yanchor, xshift=dx, yshift=dy)
    fig.update_xaxes(title_text="accuracy against FER+'s majority (PublicTest), %", range=list(_x_range(frame, target)))
    fig.update_yaxes(title_text=y_title)
    fig.update_layout(height=460, margin={"l": 10, "r": 10, "t": 40, "b": 10}, hovermode="closest",
                      legend={"orientation": "h", "y": -0.2}, title=title)
    return fig
