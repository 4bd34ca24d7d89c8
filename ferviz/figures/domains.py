"""The domain table as a heatmap: every model (rows) on every domain (columns), one metric in percent."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

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
