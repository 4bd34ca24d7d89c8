"""Figure text that fits its figure when the figure sits in a narrow column.

Plotly cuts a title that is wider than its figure instead of wrapping it: in a 1024-pixel window (a classroom
projector) four maps side by side are about 120 pixels wide each, and "Integrated Gradients" lost its last
letters. :func:`fit_titles` breaks the title and the horizontal colour bars' titles into lines for the
narrowest width a figure is drawn at (:func:`column_px`), and makes room for the lines it adds. The main
area's width was measured in Chromium; the character widths are upper bounds of those measured on the app's
own titles there (Streamlit's theme), so that a line fitted with them fits.
"""

from __future__ import annotations

import textwrap

import plotly.graph_objects as go

#: Width of a page's main area in a 1024-pixel window with the sidebar open, in CSS pixels.
NARROW_MAIN_PX = 530.0
COLUMN_GAP_PX = 16.0  # between two Streamlit columns
TITLE_CHAR_PX = 8.6  # per character of a 16-px bold title, at most (HOG's titles measured 6.1-7.6)
SMALL_CHAR_PX = 6.0  # ... of a <sup> line, and of a 14-px colour-bar or axis title (measured 5.7)
TITLE_LINE_PX = 21.0  # height of a line of a figure title (measured: 4 lines, 2 of them <sup>, are 76 px)
SMALL_LINE_PX = 17.0  # ... of a <sup> line
TITLE_PAD_PX = 10.0  # above a multi-line title, and between it and the plot


def column_px(columns: int) -> float:
    """Width of one of ``columns`` equal columns of the main area at its narrowest (``columns`` >= 1)."""
    columns = max(1, int(columns))
    return (NARROW_MAIN_PX - COLUMN_GAP_PX * (columns - 1)) / columns


def wrap_text(text: str, width_px: float, char_px: float = TITLE_CHAR_PX) -> str:
    """``text`` (Plotly's HTML subset) with every line broken at spaces to at most ``width_px``.

    Existing ``<br>`` breaks stay; a line that is all ``<sup>…</sup>`` is measured with the smaller
    :data:`SMALL_CHAR_PX` and each of its pieces stays superscript. A word longer than the width stays whole.
    """
    lines = []
    for part in str(text).split("<br>"):
        sup = part.startswith("<sup>") and part.endswith("</sup>")
        inner = part[len("<sup>"):-len("</sup>")] if sup else part
        chars = max(4, int(width_px // (SMALL_CHAR_PX if sup else char_px)))
        pieces = textwrap.wrap(inner, chars, break_long_words=False, break_on_hyphens=False) or [inner]
        lines.extend(f"<sup>{piece}</sup>" if sup else piece for piece in pieces)
    return "<br>".join(lines)


def fit_titles(fig: go.Figure, width_px: float) -> go.Figure:
    """Break ``fig``'s title and its horizontal colour bars' titles into lines at most ``width_px`` wide.

    Plotly puts a title's first line halfway down the top margin and lets further lines run into the plot.
    A title of several lines is therefore anchored to the top of the figure instead, and the top margin
    (and the figure's height, so the plot keeps its size) grows to hold it. A horizontal colour bar is as
    long as its share (``len``) of the plot, the width less the side margins (Plotly's 80 px each when
    unset); its lines go below it, where Plotly makes room by itself. The horizontal axes' titles are broken
    to their share of the plot, the bottom margin (and the height) growing by the lines added. Returns ``fig``.
    """
    title = fig.layout.title.text
    if title:
        fitted = wrap_text(title, width_px)
        fig.layout.title.text = fitted
        lines = fitted.split("<br>")
        if len(lines) > 1:
            small = sum(line.startswith("<sup>") for line in lines)
            needed = 2 * TITLE_PAD_PX + TITLE_LINE_PX * (len(lines) - small) + SMALL_LINE_PX * small
            top = fig.layout.margin.t if fig.layout.margin.t is not None else 80
            fig.update_layout(title={"yref": "container", "y": 1.0, "yanchor": "top", "pad": {"t": TITLE_PAD_PX}})
            if needed > top:
                fig.update_layout(margin={"t": needed})
                if fig.layout.height is not None:
                    fig.update_layout(height=fig.layout.height + needed - top)
    margin = fig.layout.margin
    plot_px = width_px - (margin.l if margin.l is not None else 80) - (margin.r if margin.r is not None else 80)
    for trace in fig.data:
        bar = getattr(trace, "colorbar", None)
        if bar is not None and bar.orientation == "h" and bar.title.text:  # as long as the plot at most
            bar.title.text = wrap_text(bar.title.text, (bar.len or 1.0) * plot_px, SMALL_CHAR_PX)
    added = 0  # lines added to the titles of horizontal axes, which sit in the bottom margin
    for name in [key for key in fig.layout if key.startswith("xaxis")]:
        axis = fig.layout[name]
        text = axis.title.text
        if text:
            share = (axis.domain[1] - axis.domain[0]) if axis.domain else 1.0
            axis.title.text = wrap_text(text, share * plot_px, SMALL_CHAR_PX)
            added = max(added, axis.title.text.count("<br>") - str(text).count("<br>"))
    if added:
        bottom = fig.layout.margin.b if fig.layout.margin.b is not None else 80
        fig.update_layout(margin={"b": bottom + SMALL_LINE_PX * added})
        if fig.layout.height is not None:
            fig.update_layout(height=fig.layout.height + SMALL_LINE_PX * added)
    return fig


def level_tops(figures: list[go.Figure]) -> list[go.Figure]:
    """Give side-by-side figures the largest top margin among them, each figure's height growing by what its
    margin grew, so that their plots start level however many lines each title took. Returns ``figures``."""
    tops = [f.layout.margin.t if f.layout.margin.t is not None else 80 for f in figures]
    for fig, top in zip(figures, tops, strict=True):
        if top < max(tops, default=0):
            fig.update_layout(margin={"t": max(tops)})
            if fig.layout.height is not None:
                fig.update_layout(height=fig.layout.height + max(tops) - top)
    return figures
