"""Tests for ferviz.figures.votes: one face's FER+ votes as a bar, a colour strip and a caption."""

import numpy as np

from ferviz.figures.votes import (
    CLASS_COLOURS,
    _rgb,
    agreement_band_figure,
    votes_bar,
    votes_caption,
    votes_strip,
)

NAMES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


def test_votes_bar_outlines_the_given_label_and_draws_the_model():
    fig = votes_bar([0, 0, 1, 0, 0, 0, 8], NAMES, other=1, given="fear", predicted=np.eye(7)[6] * 0.7)
    bars, model = fig.data
    assert list(bars.x) == [*NAMES, "other"] and list(bars.y) == [0, 0, 1, 0, 0, 0, 8, 1]
    widths = bars.marker.line.color
    assert widths[2] == "black" and sum(c == "black" for c in widths) == 1
    assert model.y[6] == 7.0 and "label: fear" in fig.layout.title.text


def test_votes_strip_has_one_cell_per_annotator_and_a_probability_strip():
    strip = votes_strip([0, 0, 0, 9, 0, 0, 0], NAMES, other=1, probs=[0, 0, 0, 0.5, 0, 0, 0.5], width=100,
                        cell_height=8)
    assert strip.shape == (8 + 2 + 8, 100, 3) and strip.dtype == np.uint8
    happy, grey = np.array(_rgb(CLASS_COLOURS["happy"])), np.array(_rgb(CLASS_COLOURS["other"]))
    top = strip[0]
    assert (top[:88] == happy).all(axis=1).sum() >= 80  # 9 of 10 cells, less the thin gaps
    assert (top[92:] == grey).all()  # the tenth annotator said contempt / unknown / not a face
    bottom = strip[-1]
    assert (bottom[:50] == happy).all() and (bottom[50:] == np.array(_rgb(CLASS_COLOURS["neutral"]))).all()
    assert (strip[8:10] == 255).all()
    empty = votes_strip([0] * 7, NAMES)
    assert empty.shape == (8, 80, 3) and (empty == 240).all()


def test_caption_is_hand_checked():
    assert votes_caption("fear", [0, 0, 0, 0, 0, 0, 10], NAMES, 6, [0, 0, 0.2, 0, 0, 0.09, 0.71]) == (
        "label fear · people: neutral 10/10 · model: neutral 71 %")
    assert votes_caption("sad", [0, 0, 0, 5, 5, 0, 0], NAMES, -1) == "label sad · people: no majority"
    assert votes_caption("sad", [0] * 7, NAMES, -1) == "label sad · people: no votes"


def test_band_figure_skips_empty_bands():
    bands = [{"band": "8-10 of 10 agree", "n": 10, "accuracy": {"estimate": 0.9, "low": 0.8, "high": 1.0}},
             {"band": "4 or fewer", "n": 0, "accuracy": None}]
    fig = agreement_band_figure(bands)
    assert list(fig.data[0].x) == ["8-10 of<br>10 agree<br>10"] and np.allclose(fig.data[0].y, [90])
    assert fig.layout.xaxis.tickangle == 0  # short level lines, not a slanted one in a half-width column
    assert np.allclose(fig.data[0].error_y.array, [10]) and np.allclose(fig.data[0].error_y.arrayminus, [10])
