"""The domain table as a heatmap: every model (rows) on every domain (columns), one metric in percent."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ferviz.results.domains import DOMAINS


def domain_heatmap(table: pd.DataFrame, metric: str = "accuracy") -> go.Figure:
    """A heatmap of a :func:`ferviz.results.domains.table_frame` (models x domains, percent).

    Each cell is written out; an empty cell (a model not measured there) is shown as "—". The column
    headers are the domain keys, with their meaning in the hover.
    """
    fig = go.Figure()
    if table.empty:
        fig.update_layout(title="no domain table yet (ferviz domains ... --out models/reports/domains/domains.json)",
                          height=120)
        return fig
    values = table.to_numpy(dtype=float)
    text = [["—" if pd.isna(v) else f"{v:.1f}" for v in row] for row in values]
    hover = [[f"{model}<br>{DOMAINS.get(domain, domain)}<br>{metric}: {cell}"
              for domain, cell in zip(table.columns, row, strict=True)]
             for model, row in zip(table.index, text, strict=True)]
    fig.add_trace(go.Heatmap(z=values, x=list(table.columns), y=list(table.index), text=text,
                             texttemplate="%{text}", hovertext=hover, hoverinfo="text", colorscale="Blues",
                             zmin=0, zmax=100, colorbar=dict(title=f"{metric} %")))
    fig.update_layout(height=90 + 40 * len(table.index), margin=dict(l=10, r=10, t=30, b=10),
                      yaxis=dict(autorange="reversed"), title=f"{metric.replace('_', '-')} by domain (%)")
    return fig


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
