"""Titles broken into lines that fit a narrow column (ferviz.figures.fit)."""

import plotly.graph_objects as go
import pytest

from ferviz.figures.fit import NARROW_MAIN_PX, column_px, fit_titles, wrap_text


def test_columns_share_the_narrowest_main_area_less_their_gaps():
    assert column_px(1) == NARROW_MAIN_PX
    assert column_px(2) == pytest.approx((530 - 16) / 2)  # 257 px
    assert column_px(4) == pytest.approx((530 - 48) / 4)  # 120.5 px
    assert column_px(0) == column_px(1)


def test_a_title_breaks_at_spaces_and_a_superscript_line_stays_superscript():
    # 120.5 px: 14 characters of a bold title (8.6 px), 20 of a superscript line (6 px)
    text = wrap_text("Integrated Gradients<br><sup>colours clipped at the 99th percentile</sup>", 120.5)
    assert text == "Integrated<br>Gradients<br><sup>colours clipped at</sup><br><sup>the 99th percentile</sup>"
    assert wrap_text("Saliency", 120.5) == "Saliency"  # fits: unchanged
    assert wrap_text("gradient-weighted", 50) == "gradient-weighted"  # one word is never cut


def test_a_title_of_several_lines_hangs_from_the_top_and_the_margin_grows_to_hold_it():
    fig = go.Figure(go.Heatmap(z=[[0, 1]], colorbar={"orientation": "h", "title": {"text": "attention weight "
                                                                                         "(uniform 1/25)"}}))
    fig.update_layout(title={"text": "attention received (mean over all queries)"}, height=300,
                      margin={"t": 40, "l": 10, "r": 10})
    fit_titles(fig, 257)  # 29 title characters; the bar is 237 px: 39 characters
    assert fig.layout.title.text == "attention received (mean over<br>all queries)"
    assert (fig.layout.title.yref, fig.layout.title.y, fig.layout.title.yanchor) == ("container", 1.0, "top")
    assert (fig.layout.margin.t, fig.layout.height) == (10 + 2 * 21 + 10, 300 + 22)  # the plot keeps 260 px
    assert fig.data[0].colorbar.title.text == "attention weight (uniform 1/25)"  # fits in 237 px
    fit_titles(fig, 120.5)  # a 100.5-px bar: 16 characters
    assert fig.data[0].colorbar.title.text == "attention weight<br>(uniform 1/25)"
    fig.update_layout(margin={"l": None, "r": None})
    fit_titles(fig, 257)  # Plotly's default side margins of 80 px leave a 97-px bar
    assert fig.data[0].colorbar.title.text == "attention weight<br>(uniform 1/25)"
    short = go.Figure(layout={"title": {"text": "short"}, "height": 300, "margin": {"t": 40}})
    fit_titles(short, 257)  # one line: left where Plotly puts it
    assert (short.layout.margin.t, short.layout.height, short.layout.title.yanchor) == (40, 300, None)
    roomy = go.Figure(layout={"title": {"text": "Integrated Gradients<br><sup>colours clipped</sup>"},
                              "height": 380, "margin": {"t": 60}})
    fit_titles(roomy, 500)  # two lines that fit: 10 + 21 + 17 + 10 = 58 px of the 60 there are
    assert (roomy.layout.margin.t, roomy.layout.height, roomy.layout.title.yanchor) == (60, 380, "top")


def test_figures_side_by_side_get_the_same_top_margin_and_keep_their_plot_height():
    from ferviz.figures.fit import level_tops

    two = fit_titles(go.Figure(layout={"title": {"text": "Integrated Gradients"}, "height": 380, "margin": {"t": 60}}),
                     120.5)  # two lines: 62 px
    one = go.Figure(layout={"title": {"text": "Saliency"}, "height": 380, "margin": {"t": 60}})
    unset = go.Figure(layout={"height": 380})  # Plotly's default top margin: 80 px, the largest
    level_tops([two, one, unset])
    assert [f.layout.margin.t for f in (two, one)] == [80, 80] and unset.layout.margin.t is None
    assert [f.layout.height for f in (two, one, unset)] == [400, 400, 380]
    alone = go.Figure(layout={"height": 300, "margin": {"t": 40}})
    assert level_tops([alone])[0].layout.height == 300


def test_a_long_axis_title_breaks_to_its_share_of_the_plot_and_the_bottom_margin_grows():
    from plotly.subplots import make_subplots

    fig = go.Figure(layout={"height": 320, "margin": {"l": 10, "r": 10, "b": 10},
                            "xaxis": {"title": {"text": "accuracy difference A − B (percentage points), 95 % paired "
                                                        "bootstrap interval"}}})
    fit_titles(fig, 530)  # a 510-px plot: 85 characters of a 14-px axis title, the title has 79
    assert "<br>" not in fig.layout.xaxis.title.text and fig.layout.margin.b == 10
    fit_titles(fig, 257)  # 237 px: 39 characters a line
    assert fig.layout.xaxis.title.text == ("accuracy difference A − B (percentage<br>points), 95 % paired "
                                           "bootstrap interval")  # 37 and 39 characters
    assert (fig.layout.margin.b, fig.layout.height) == (10 + 17, 320 + 17)
    two = make_subplots(rows=1, cols=2)  # each axis has about half of the plot
    two.update_layout(margin={"l": 10, "r": 10, "b": 10})
    two.update_xaxes(title_text="fraction of pixels changed")  # 26 characters = 156 px
    fit_titles(two, 530)
    assert two.layout.xaxis.title.text == "fraction of pixels changed"
    fit_titles(two, 257)  # about 107 px an axis: 17 characters
    assert two.layout.xaxis2.title.text == "fraction of<br>pixels changed"
