"""The explanation card: a PNG that decodes, a self-contained HTML page, maps blended as specified."""

from __future__ import annotations

import base64
import io
import re
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from ferviz.figures.attention import Scale
from ferviz.figures.card_export import (
    DIVERGING_RAMP,
    HEAT_RAMP,
    PANEL,
    ExplanationCard,
    card_html,
    card_png,
    clean_base64,
    colorbar_strip,
    map_over_face,
)

SHA = "0123456789abcdef" * 4


@pytest.fixture
def card() -> ExplanationCard:
    rng = np.random.default_rng(0)
    face = (np.arange(64 * 64) % 251).astype(np.uint8).reshape(64, 64)
    return ExplanationCard(
        face=face, label="happy", probs={"angry": 0.05, "happy": 0.81, "sad": 0.14},
        fused=rng.random((9, 9)), attribution=rng.normal(size=(64, 64)).astype(np.float32),
        method="Integrated Gradients", signed=True, unit="logit contribution", faithfulness="pass",
        faithfulness_text="deletion AUC 0.132 vs random 0.444 (beats random; lower is better)",
        model_name="fer2013_dcnn_bilstm_dam.pt (dcnn_bilstm_dam)", sha256=SHA, sanity="fail",
        sanity_text="Spearman rank correlation 0.61", source="astronaut, face 0")


def test_png_decodes_and_shows_the_face(card):
    png = card_png(card)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    img = Image.open(io.BytesIO(png))
    img.load()
    assert img.format == "PNG" and img.mode == "RGB" and img.size == (1300, 660)
    pixels = np.asarray(img)
    # the first panel is the face enlarged 4x (nearest), grey: R = G = B = face value
    face_panel = pixels[112: 112 + PANEL, 24: 24 + PANEL]
    np.testing.assert_array_equal(face_panel[::4, ::4, 0], card.face)
    assert np.array_equal(face_panel[..., 0], face_panel[..., 2])
    assert (pixels[56:64, :, 2] > pixels[56:64, :, 0]).all()  # the dark blue title band, below its text


def test_html_is_self_contained_and_names_label_model_and_verdicts(card):
    page = card_html(card)
    assert "http" not in page.lower()
    assert "//" not in re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page)  # no URL of any kind
    assert page.startswith("<!DOCTYPE html>") and "Predicted: happy (81%)" in page
    assert SHA in page and "fer2013_dcnn_bilstm_dam.pt" in page and "Integrated Gradients" in page
    assert '<b class="pass">pass</b>' in page and '<b class="fail">fail</b>' in page
    sources = re.findall(r'src="([^"]*)"', page)
    assert len(sources) == 3 and all(s.startswith("data:image/png;base64,") for s in sources)
    for s in sources:
        Image.open(io.BytesIO(base64.b64decode(s.split(",", 1)[1]))).verify()
    assert not re.search(r"<(script|link|iframe)", page)
    hostile = card_html(replace(card, label="<script>x</script>", probs={"<script>x</script>": 1.0}))
    assert "<script>" not in hostile and "&lt;script&gt;" in hostile


def test_a_card_without_sanity_check_says_nothing_about_it(card):
    page = card_html(replace(card, sanity="", sanity_text=""))
    assert "Sanity check" not in page and "Faithfulness" in page


def test_map_over_face_blends_hand_computed_colours():
    face = np.full((64, 64), 100, np.uint8)
    grid = np.array([[0.0, 1.0], [0.5, 0.0]])
    out = map_over_face(face, grid, Scale(0.0, 1.0), side=64, grid_lines=False)
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[10, 10], [100, 100, 100])  # value 0: fully transparent
    top_colour, top_alpha = np.array(HEAT_RAMP[-1][1]), HEAT_RAMP[-1][2]
    np.testing.assert_array_equal(out[10, 50], np.round(100 * (1 - top_alpha) + top_colour * top_alpha))
    mid_colour, mid_alpha = np.array(HEAT_RAMP[2][1]), HEAT_RAMP[2][2]  # 0.5 is the third anchor
    np.testing.assert_array_equal(out[50, 10], np.round(100 * (1 - mid_alpha) + mid_colour * mid_alpha))
    lined = map_over_face(face, grid, Scale(0.0, 1.0), side=64)
    assert tuple(lined[32, 5]) == (120, 220, 255)  # the border between the two grid rows
    signed = map_over_face(face, -np.ones((64, 64)), Scale(-1.0, 1.0, signed=True), side=64)
    low, alpha = np.array(DIVERGING_RAMP[0][1]), DIVERGING_RAMP[0][2]
    np.testing.assert_array_equal(signed[0, 0], np.round(100 * (1 - alpha) + low * alpha))


def test_colorbar_strip_runs_from_the_top_colour_down():
    strip = colorbar_strip(Scale(0.0, 1.0), height=50, width=3)
    assert strip.shape == (50, 3, 3)
    np.testing.assert_array_equal(strip[-1, 0], [255, 255, 255])  # value 0 is transparent: white paper
    assert strip[0, 0, 2] < 200  # the top (yellow) has little blue


def test_bad_cards_are_refused_with_a_clear_message(card):
    with pytest.raises(ValueError, match="square uint8 face"):
        replace(card, face=card.face.astype(float))
    with pytest.raises(ValueError, match="does not match the face"):
        replace(card, attribution=np.zeros((32, 32)))
    with pytest.raises(ValueError, match="faithfulness verdict"):
        replace(card, faithfulness="")
    with pytest.raises(ValueError, match="2-D token grid"):
        replace(card, fused=np.zeros(81))


def test_base64_that_happens_to_spell_http_is_remade():
    assert base64.b64encode(b"\x86\xdbi") == b"http"  # such bytes exist ...
    made = []
    text = clean_base64(lambda nonce: made.append(nonce) or (b"\x86\xdbi" if nonce < 2 else b"ok"))
    assert text == base64.b64encode(b"ok").decode() and made == [0, 1, 2]  # ... and are re-made
    with pytest.raises(ValueError, match="no encoding without 'http'"):
        clean_base64(lambda nonce: b"\x86\xdbi", tries=3)
