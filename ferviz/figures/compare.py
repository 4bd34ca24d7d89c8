"""Figures and tables comparing measured, reported and published numbers (a :func:`comparison_frame`).

Colours say where a number comes from, and so do the legend and every table's ``source`` column:
blues for this project's measurements, orange for the paper's *reported* tables, grey for *published*
anchors.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from pandas.io.formats.style import Styler
from plotly.subplots import make_subplots

from ferviz.model.network import DEFAULT_VARIANT
from ferviz.results.studies import BASELINE_LEVER

VIOLATED = "background-color: #fbd5d5; color: #7a0000"
_MEASURED_COLOURS = ("#1f77b4", "#6baed6", "#08519c", "#9ecae1", "#3182bd", "#c6dbef")


def series_colours(series: Sequence[str]) -> dict[str, str]:
    """A colour per series: blues for ``measured · …``, orange for ``reported …``, grey for ``published``."""
    colours, k = {}, 0
    for name in dict.fromkeys(series):
        if name.startswith("measured"):
            colours[name] = _MEASURED_COLOURS[k % len(_MEASURED_COLOURS)]
            k += 1
        else:
            colours[name] = "#ff7f0e" if name.startswith("reported") else "#8c8c8c"
    return colours


def _series_note(series: str) -> str:
    """What tells two bars of one entry apart: ``measured, 10-fold …`` or ``reported (Table 4)``."""
    return series.replace("measured · ", "measured, ", 1)


def _bar_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """One panel's rows in reading order, each with its own y label (``bar``) and value text (``text``).

    Rows of one model sit together (an entry and its ``entry · checkpoint`` measurements), the paper's
    proposed model first, then the models the paper reports, then the others, published anchors last;
    inside a model the reported number comes first. An entry with several bars in the panel names the
    series on each, so every bar has a row of its own and none hides behind another.
    """
    rows = rows.copy()
    rows["group"] = rows["entry"].str.split(" · ").str[0]
    kinds = rows.groupby("group", sort=False)["source_kind"].agg(set)
    first_seen = {g: k for k, g in enumerate(kinds.index)}
    kind_rank = {"reported": 0, "measured": 1}

    def group_rank(group: str) -> tuple[int, int]:
        tier = (0 if group.startswith("Proposed") else 1 if "reported" in kinds[group]
                else 3 if kinds[group] == {"published"} else 2)
        return tier, first_seen[group]

    rows["_g"] = rows["group"].map(group_rank)
    rows["_k"] = rows["source_kind"].map(kind_rank).fillna(2)
    rows = rows.sort_values(["_g", "_k"], kind="stable")
    repeated = rows["entry"].duplicated(keep=False)
    rows["bar"] = rows["entry"].where(~repeated, rows["entry"] + " — " + rows["series"].map(_series_note))
    pairs = zip(rows["value"], rows["std"].astype(float), strict=True)
    rows["text"] = [f"{v:.1f}" if np.isnan(e) else f"{v:.1f} ± {e:.1f}" for v, e in pairs]
    return rows.drop(columns=["_g", "_k"])


def comparison_figure(frame: pd.DataFrame, metric: str, datasets: Sequence[str] | None = None) -> go.Figure:
    """Horizontal bars of one metric, one panel per dataset, one bar per row with its value written on it.

    Parameters
    ----------
    frame : DataFrame
        A :func:`ferviz.results.reports.comparison_frame` (values in percent).
    metric : str
        One of :data:`ferviz.results.metrics.PAPER_METRICS`.
    datasets : sequence of str, optional
        Panels to draw, in order; default every dataset with a value for ``metric``.

    A model's reported and measured numbers sit on neighbouring rows (see :func:`_bar_rows`); colours
    and the legend say where each number comes from. Published ranges (``value`` NaN) have no bar;
    measured cross-validation means carry their standard deviation as an error bar and in their text.
    """
    rows = frame[(frame["metric"] == metric) & frame["value"].notna()]
    if datasets is not None:
        rows = rows[rows["dataset"].isin(list(datasets))]
    if rows.empty:
        fig = go.Figure()
        fig.update_layout(title=f"No {metric} numbers for the chosen datasets", height=200)
        return fig
    order = list(dict.fromkeys(datasets if datasets is not None else rows["dataset"]))
    order = [d for d in order if d in set(rows["dataset"])]
    # one full-width panel per dataset, each as tall as its bars: the long row names
    # ("Proposed / dcnn_bilstm_dam · real_dcnn_bilstm_dam.pt") read level instead of crowding rotated
    panels = {d: _bar_rows(rows[rows["dataset"] == d]) for d in order}
    fig = make_subplots(rows=len(order), cols=1, subplot_titles=order,
                        row_heights=[len(panels[d]) + 1.5 for d in order],
                        vertical_spacing=0.09 if len(order) > 1 else 0)
    colours = series_colours(rows["series"])
    shown: set[str] = set()
    top = float(np.nanmax(rows["value"] + rows["std"].astype(float).fillna(0.0)))
    for r, dataset in enumerate(order, start=1):
        here = panels[dataset]
        for series, part in here.groupby("series", sort=False):
            detail = part[["source", "protocol", "model", "detail"]].fillna("").astype(str).to_numpy()
            fig.add_trace(go.Bar(y=part["bar"], x=part["value"], orientation="h", name=series,
                                 legendgroup=series, showlegend=series not in shown,
                                 marker_color=colours[series], text=part["text"], cliponaxis=False,
                                 # a bar with an error bar has its text at its base, away from the whisker
                                 textposition=np.where(part["std"].notna(), "inside", "outside"),
                                 insidetextanchor="start", insidetextfont={"color": "#1a1a1a"},
                                 error_x=dict(type="data", array=part["std"].to_numpy(dtype=float), visible=True),
                                 customdata=detail,
                                 hovertemplate="%{y}<br>%{x:.2f} %<br>%{customdata[0]} · %{customdata[1]}"
                                               "<br>%{customdata[2]} %{customdata[3]}<extra>" + series + "</extra>"),
                          row=r, col=1)
            shown.add(series)
        fig.update_yaxes(categoryorder="array", categoryarray=list(here["bar"])[::-1], row=r, col=1)
    # room right of the longest bar for its text ("86.4 ± 5.5")
    fig.update_xaxes(range=[0, top * 1.16], title=None)
    height = 90 + 24 * sum(len(p) + 1.5 for p in panels.values())
    fig.update_layout(height=int(max(height, 260)), barmode="overlay", bargap=0.25,
                      uniformtext={"minsize": 10, "mode": "show"},
                      legend={"title": "source", "orientation": "h", "y": -0.08 if len(order) > 1 else -0.2},
                      margin={"t": 60, "l": 10, "r": 10, "b": 10},
                      title=f"{metric} (%): measured vs reported vs published")
    return fig


def side_by_side_table(frame: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """One dataset's numbers, one row per (entry, source, protocol), one column per metric (percent).

    The paper's rows say ``reported (Tables 4-10)``: each metric comes from its own table.
    """
    rows = frame[frame["dataset"] == dataset].copy()
    rows["source"] = rows["source"].mask(rows["source_kind"] == "reported", "reported (Tables 4-10)")
    table = rows.pivot_table(index=["entry", "source", "protocol"], columns="metric", values="value",
                             aggfunc="first", sort=False)
    metrics = [m for m in ("accuracy", "specificity", "precision", "recall", "f1", "gar", "far")
               if m in table]
    return table[metrics].reset_index()


def measured_table(measured: pd.DataFrame) -> pd.DataFrame:
    """A :func:`ferviz.results.reports.measured_frame` with one column per metric (percent), the recipe and budget
    each model had (``training``) and its command."""
    if measured.empty:
        return pd.DataFrame(columns=["model", "variant", "dataset", "protocol", "training", "n", "command"])
    table = measured.pivot_table(index=["model", "variant", "dataset", "protocol", "training", "n", "file",
                                        "command"],
                                 columns="metric", values="value", aggfunc="first", sort=False).reset_index()
    metrics = [m for m in ("accuracy", "specificity", "precision", "recall", "f1", "gar", "far")
               if m in table]
    return table[["model", "variant", "dataset", "protocol", "training", "n", *metrics, "file", "command"]]


def audit_styler(audit: pd.DataFrame) -> Styler:
    """The identity audit (:func:`ferviz.results.reported.consistency_audit`) with violated rows highlighted."""

    def shade(row: pd.Series) -> list[str]:
        return [VIOLATED if row["verdict"] == "violated" else ""] * len(row)

    number = {c: "{:.2f}" for c in ("value", "expected", "gap") if c in audit}
    return audit.style.apply(shade, axis=1).format(number)


def ablation_figure(ablations: pd.DataFrame, metric: str = "accuracy") -> go.Figure:
    """Horizontal bars of one metric per ablation (an :func:`ferviz.results.studies.ablation_frame`), in percent.

    The full model's bar is grey and marked by a dashed line; an ablation is green where it scores
    above the full model at the same budget and red where below; each bar's text is the difference in
    percentage points. One bar per report, best at the top.
    """
    rows = ablations.sort_values(metric, ascending=True)
    delta = rows[f"delta_{metric}"]
    full = rows["variant"] == DEFAULT_VARIANT
    colours = ["#8c8c8c" if f else ("#9a9a9a" if pd.isna(d) else "#2ca02c" if d > 0 else "#d62728")
               for f, d in zip(full, delta, strict=True)]
    text = ["full model" if f else ("no reference" if pd.isna(d) else f"{d:+.2f} pp")
            for f, d in zip(full, delta, strict=True)]
    labels = [f"{v} ({int(e)} ep)" if pd.notna(e) else v
              for v, e in zip(rows["variant"], rows["epochs"], strict=True)]
    fig = go.Figure(go.Bar(x=rows[metric], y=labels, orientation="h", marker_color=colours, text=text,
                           textposition="outside", customdata=rows[["change", "file"]].to_numpy(),
                           hovertemplate="%{y}: %{x:.2f} %<br>change: %{customdata[0]}<br>%{customdata[1]}"
                                         "<extra></extra>"))
    for value in rows.loc[full, metric]:
        fig.add_vline(x=float(value), line_dash="dash", line_color="#555555")
    fig.update_layout(height=120 + 34 * len(rows), margin={"t": 40, "l": 10, "r": 10, "b": 10},
                      title=f"ablations: {metric} (%) at an equal training budget")
    if len(rows):  # room on the right for the difference labels
        fig.update_xaxes(range=[max(0.0, float(rows[metric].min()) - 10), float(rows[metric].max()) + 6])
    return fig



def ablation_spread_figure(spread: pd.DataFrame, metric: str = "accuracy") -> go.Figure:
    """One bar per ablation variant (an :func:`ferviz.results.studies.ablation_spread`), mean over its runs.

    A variant with several runs carries its standard deviation over seeds as an error bar; a variant with
    one run has none and its label says ``one seed``. Colours and the dashed line are those of
    :func:`ablation_figure`; the text right of each error bar is the difference from the full model in
    points.
    """
    rows = spread.sort_values(metric, ascending=True)
    delta = rows[f"delta_{metric}"]
    full = rows["variant"] == DEFAULT_VARIANT
    colours = ["#8c8c8c" if f else ("#9a9a9a" if pd.isna(d) else "#2ca02c" if d > 0 else "#d62728")
               for f, d in zip(full, delta, strict=True)]
    text = ["full model" if f else ("no reference" if pd.isna(d) else f"{d:+.2f} pp")
            for f, d in zip(full, delta, strict=True)]
    labels = [f"{v} ({int(e)} ep, {s})" if pd.notna(e) else f"{v} ({s})"
              for v, e, s in zip(rows["variant"], rows["epochs"], rows["seeds"], strict=True)]
    std = rows[f"{metric}_std"].astype(float)
    fig = go.Figure(go.Bar(x=rows[metric], y=labels, orientation="h", marker_color=colours,
                           error_x={"type": "data", "array": std.fillna(0).to_numpy(),
                                    "visible": bool(std.notna().any())},
                           customdata=rows[["change", "files"]].to_numpy(),
                           hovertemplate="%{y}: %{x:.2f} %<br>change: %{customdata[0]}<br>%{customdata[1]}"
                                         "<extra></extra>"))
    # the difference, written just right of each bar's error bar (never on top of it)
    fig.add_trace(go.Scatter(x=rows[metric] + std.fillna(0) + 0.3, y=labels, mode="text", text=text,
                             textposition="middle right", showlegend=False, hoverinfo="skip"))
    for value in rows.loc[full, metric]:
        fig.add_vline(x=float(value), line_dash="dash", line_color="#555555")
    several = int((rows["runs"] > 1).sum())
    note = "error bars: std over seeds" if several else "one seed each: no spread measured"
    fig.update_layout(height=120 + 34 * len(rows), margin={"t": 40, "l": 10, "r": 10, "b": 10},
                      showlegend=False, title=f"ablations: {metric} (%) at an equal training budget — {note}")
    if len(rows):
        fig.update_xaxes(range=[max(0.0, float(rows[metric].min()) - 10), float(rows[metric].max()) + 6])
    return fig


def lever_figure(table: pd.DataFrame, metric: str = "accuracy") -> go.Figure:
    """Each training lever's difference from the baseline (a :func:`ferviz.results.studies.lever_table`), in points.

    The bar is the mean paired difference over the seeds the lever shares with the baseline, its error
    bar the lever's standard deviation over seeds (the baseline's own spread is the grey band around
    zero); green where the paired test says it helps, red where it hurts, grey within seed noise or
    untested. The hover gives the verdict and the files.
    """
    base = table[table["lever"] == BASELINE_LEVER]
    rows = table[table["lever"] != BASELINE_LEVER].sort_values(f"delta_{metric}", ascending=True)
    colours = ["#2ca02c" if v.startswith("helps") else "#d62728" if v.startswith("hurts") else "#9a9a9a"
               for v in rows["verdict"]]
    labels = [f"{lever} ({budget.split(' on ')[0]}, seeds {seeds})"
              for lever, budget, seeds in zip(rows["lever"], rows["budget"], rows["seeds"], strict=True)]
    std = rows[f"{metric}_std"].astype(float)
    delta = rows[f"delta_{metric}"].astype(float)
    fig = go.Figure(go.Bar(x=delta, y=labels, orientation="h", marker_color=colours,
                           error_x={"type": "data", "array": std.fillna(0).to_numpy(),
                                    "visible": bool(std.notna().any())},
                           customdata=rows[["change", "verdict", "files"]].to_numpy(),
                           hovertemplate="%{y}: %{x:+.2f} points<br>%{customdata[0]}<br>%{customdata[1]}"
                                         "<br>%{customdata[2]}<extra></extra>"))
    # each difference written beyond the end of its error bar, on the bar's side of zero, never across it
    outward = np.where(delta >= 0, 1.0, -1.0)
    fig.add_trace(go.Scatter(x=delta + outward * (std.fillna(0) + 0.25), y=labels, mode="text",
                             text=[f"{d:+.2f} pp" for d in delta], showlegend=False, hoverinfo="skip",
                             textposition=["middle right" if o > 0 else "middle left" for o in outward]))
    spread = base[f"{metric}_std"].astype(float).dropna()
    if len(spread):
        band = float(spread.iloc[0])
        fig.add_vrect(x0=-band, x1=band, fillcolor="#cccccc", opacity=0.35, line_width=0)
    fig.add_vline(x=0, line_dash="dash", line_color="#555555")
    reference = (f"baseline {float(base[metric].iloc[0]):.2f} % (seeds {base['seeds'].iloc[0]})" if len(base)
                 else "no baseline")
    reach = float((delta.abs() + std.fillna(0)).max()) if len(rows) else 1.0
    title = f"{metric} minus the baseline (points); grey band: the baseline ± 1 std over its seeds"
    fig.update_layout(height=140 + 36 * len(rows), margin={"t": 50, "l": 10, "r": 10, "b": 10},
                      showlegend=False, xaxis={"title": title,
                             "range": [-(reach + 2.5), reach + 2.5]},  # room for the text either side
                      title=f"training levers, one change each: {metric} — {reference}")
    return fig


def leakage_figure(frame: pd.DataFrame) -> go.Figure:
    """Per model, the plain accuracy beside the accuracy on duplicated and on deduplicated items (percent).

    ``frame`` is a :meth:`ferviz.results.records.LeakageRecord.frame`.
    """
    series = (("accuracy", "all items (plain)", "#1f77b4"),
              ("on_exact_duplicates", "items with an exact training copy", "#d62728"),
              ("deduplicated_exact", "without exact copies", "#6baed6"),
              ("deduplicated_exact_near", "without exact or near copies", "#08519c"))
    fig = go.Figure([go.Bar(x=frame["model"], y=frame[column], name=name, marker_color=colour,
                            hovertemplate="%{x}: %{y:.2f} %<extra>" + name + "</extra>")
                     for column, name, colour in series])
    fig.update_layout(barmode="group", height=380, yaxis={"title": "accuracy (%)", "range": [0, 100]},
                      title="Accuracy with and without the test items that are also training items",
                      legend={"orientation": "h", "y": -0.2}, margin={"t": 50, "l": 10, "r": 10, "b": 10})
    return fig


def paired_figure(paired: pd.DataFrame) -> go.Figure:
    """The accuracy difference (A − B, points) of each paired comparison with its 95 % interval.

    ``paired`` is a :func:`ferviz.results.reports.paired_frame`. An interval that crosses the dashed zero line is
    a difference the test set cannot tell from chance; the hover gives McNemar's p.
    """
    labels = [f"{a} − {b} ({items})" for a, b, items in
              zip(paired["model_a"], paired["model_b"], paired["items"], strict=True)]
    colours = ["#d62728" if s else "#8c8c8c" for s in paired["significant"]]
    fig = go.Figure(go.Scatter(
        x=paired["difference_pp"], y=labels, mode="markers", marker={"color": colours, "size": 10},
        error_x={"type": "data", "symmetric": False,
                 "array": (paired["difference_high"] - paired["difference_pp"]).to_numpy(),
                 "arrayminus": (paired["difference_pp"] - paired["difference_low"]).to_numpy()},
        customdata=paired[["mcnemar_p", "n"]].to_numpy(),
        hovertemplate="%{y}<br>%{x:+.2f} pp<br>McNemar p = %{customdata[0]:.3g} (n = %{customdata[1]})"
                      "<extra></extra>"))
    fig.add_vline(x=0, line_dash="dash", line_color="#555555")
    # the axis keeps a short title: the model names on the left leave it little width; the words go above
    fig.update_xaxes(title="A − B (points)")
    fig.update_layout(height=160 + 40 * len(paired), margin={"t": 60, "l": 10, "r": 10, "b": 10},
                      title="Paired comparisons on the same items (red: McNemar p < 0.05)<br><sup>accuracy "
                            "difference A − B in percentage points, with its 95 % paired bootstrap interval</sup>")
    return fig
