"""AppTest of the three explanation pages with the built-in sample face, plus one interaction each."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from ferviz.paths import DEFAULT_MODEL

PAGES = Path(__file__).resolve().parent.parent / "pages"

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not DEFAULT_MODEL.is_file(), reason="the shipped model is not present")]


def run(page: str) -> AppTest:
    at = AppTest.from_file(str(PAGES / page), default_timeout=90).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def charts(at: AppTest) -> int:
    return len(at.get("plotly_chart"))


def test_attention_page_and_query_sliders():
    at = run("3_Attention.py")
    assert at.title[0].value == "Attention explorer"
    assert charts(at) == 9  # received, query, groups, channels, tokens, 3 ablation views, PCP
    assert any("5x5 grid" in c.value for c in at.caption)  # distilled keys are announced
    assert any("bypassed" in c.value for c in at.caption)  # so is the strict=False ablation
    at.slider(key="attention_row").set_value(1)
    at.slider(key="attention_col").set_value(7)
    at.selectbox(key="attention_layer").set_value(0)
    at.slider(key="pcp_alpha").set_value(0.5)
    at.run()
    assert not at.exception and charts(at) == 9
    titles = [el.proto.spec for el in at.get("plotly_chart")]
    assert any("(1, 7)" in spec for spec in titles)
    assert any("alpha = 0.5" in spec for spec in titles)


def test_attributions_page_methods_target_and_sanity():
    at = run("4_Attributions.py")
    assert charts(at) == 2  # the maps and the curves
    assert len(at.metric) == 2 * 4  # deletion and insertion AUC for 3 methods + the attention map
    assert any("beats a random pixel order" in m.value for m in at.markdown)
    predicted = at.selectbox(key="attr_target").value
    at.selectbox(key="attr_target").set_value((predicted + 1) % 7)
    at.multiselect(key="attr_methods").set_value(["occlusion"])
    at.run()
    assert not at.exception and charts(at) == 2 and len(at.metric) == 2 * 2
    at.button(key="attr_sanity_run").click().run()
    assert not at.exception and charts(at) == 3
    assert at.metric[-1].label == "Spearman correlation of |maps|"


def test_walkthrough_page_prints_every_shape():
    at = run("5_Walkthrough.py")
    shapes = [c.value for c in at.code]
    assert len(shapes) == charts(at) == 15
    assert shapes[0] == "shape (1, 1, 64, 64)" and shapes[-1] == "shape (1, 7)"
    assert "shape (1, 81, 2, 128)" in shapes  # BiLSTM, both directions
    at.selectbox(key="walkthrough_sample").set_value("astronaut, mirrored").run()
    assert not at.exception and len(at.code) == 15


def test_a_face_sent_from_evaluate_opens_in_the_attention_page():
    from skimage import data

    crop = data.astronaut()[40:240, 160:360].mean(2).astype("uint8")[::3, ::3][:64, :64]
    at = AppTest.from_file(str(PAGES / "3_Attention.py"), default_timeout=90)
    at.session_state["ferviz_face_crop"] = crop.tolist()
    at.session_state["ferviz_face_source"] = "fer2013 PublicTest item 12"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.toggle(key="attention_from_eval").value is True
    assert not at.radio  # the sample/upload/webcam choice is replaced by the sent face


def test_the_last_face_chosen_anywhere_opens_on_every_explain_page():
    first = run("3_Attention.py")  # the default sample's face is picked here ...
    crop, source = first.session_state["ferviz_face_crop"], first.session_state["ferviz_face_source"]
    assert np.asarray(crop).shape == (64, 64) and source.endswith("face 0")
    for page in ("5_Walkthrough.py", "4_Attributions.py"):  # ... and every other page opens on it
        at = AppTest.from_file(str(PAGES / page), default_timeout=90)
        at.session_state["ferviz_face_crop"] = crop
        at.session_state["ferviz_face_source"] = source
        at.run()
        assert not at.exception
        assert "Use the face you chose last" in at.toggle[0].label and at.toggle[0].value is True
        assert not [r for r in at.radio if r.key.endswith("_source")]  # the face is given: no picture to pick


def test_explain_on_predict_remembers_the_face():
    at = AppTest.from_file(str(PAGES / "1_Predict.py"), default_timeout=90).run()
    at.button(key="explain_0_0").click().run()
    assert not at.exception
    assert np.asarray(at.session_state["ferviz_face_crop"]).shape == (64, 64)
    assert at.session_state["ferviz_face_source"] == "astronaut (NASA, public domain), face 0"
