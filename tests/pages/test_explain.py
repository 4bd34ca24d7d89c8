"""AppTest of the three explanation pages with the built-in sample face, plus one interaction each."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from ferviz.paths import DEFAULT_MODEL

PAGES = Path(__file__).resolve().parents[2] / "pages"

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not DEFAULT_MODEL.is_file(), reason="the shipped model is not present")]


def run(page: str) -> AppTest:
    at = AppTest.from_file(str(PAGES / page), default_timeout=90).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def charts(at: AppTest) -> int:
    return len(at.get("plotly_chart"))


def specs(at: AppTest) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def how_to_read(at: AppTest) -> str:
    return next(i.value for i in at.info if i.value.startswith("**How to read this page:**"))


def test_attention_page_and_query_sliders():
    at = run("3_Attention.py")
    assert at.title[0].value == "Attention explorer" and "1/N" in how_to_read(at)
    assert charts(at) == 9  # received, query, groups, channels, tokens, 3 ablation views, PCP
    assert any("5x5 grid" in c.value for c in at.caption)  # distilled keys are announced
    assert any("bypassed" in c.value for c in at.caption)  # so is the strict=False ablation
    assert any("normalised entropy" in c.value for c in at.caption)  # how far from uniform
    at.slider(key="attention_row").set_value(1)
    at.slider(key="attention_col").set_value(7)
    at.selectbox(key="attention_layer").set_value(0)
    at.slider(key="pcp_alpha").set_value(0.5)
    at.run()
    assert not at.exception and charts(at) == 9
    titles = [el.proto.spec for el in at.get("plotly_chart")]
    assert any("(1, 7)" in spec for spec in titles)
    assert any("alpha = 0.5" in spec for spec in titles)


def test_attention_controls_sit_only_in_the_tabs_they_change():
    at = run("3_Attention.py")
    spatial, channel, tokens, ablations, pcp = at.tabs
    assert [s.key for s in spatial.selectbox] == ["attention_layer", "attention_group"]
    assert [s.key for s in channel.selectbox] == ["attention_channel_layer"]
    assert not tokens.selectbox and [r.key for r in tokens.radio] == ["attention_token_scale"]
    assert [s.key for s in ablations.selectbox] == ["attention_ablation_layer", "attention_ablation_group"]
    assert not pcp.selectbox and not pcp.radio and [s.key for s in pcp.slider] == ["pcp_knot", "pcp_alpha"]
    layers = [w.key for w in at.selectbox if w.label == "Attention layer"]  # none above the tabs
    assert layers == ["attention_layer", "attention_channel_layer", "attention_ablation_layer"]


def test_the_group_select_always_shows_a_valid_choice():
    at = run("3_Attention.py")
    group = at.selectbox(key="attention_group")
    assert group.value == -1 and group.options[0] == "mean of all groups" and group.index == 0
    at.run().run()  # reruns keep a real choice (the None option used to read "Choose an option")
    assert at.selectbox(key="attention_group").index == 0
    at.selectbox(key="attention_group").set_value(2).run()
    at.run()
    assert at.selectbox(key="attention_group").value == 2 and at.selectbox(key="attention_group").index == 3


def test_attention_scale_toggle_marks_the_uniform_level():
    at = run("3_Attention.py")
    received = specs(at)[0]["data"][1]
    assert received["zmin"] == 0 and "uniform 1/25 = 0.04" in received["colorbar"]["ticktext"]
    at.radio(key="attention_scale").set_value("relative").run()
    received = specs(at)[0]["data"][1]
    assert not at.exception and received["zmin"] > 0  # stretched from the smallest weight
    channels = specs(at)[3]
    assert channels["layout"]["xaxis"]["title"]["text"] == "key channel"


def test_attributions_page_verdicts_times_views_and_card():
    at = run("4_Attributions.py")
    assert "PASS/FAIL" in how_to_read(at)
    assert charts(at) == 6  # 3 methods + the attention map, the curves, the sanity check
    verdicts = [m.value for m in at.markdown if m.value.startswith("Faithfulness")]
    assert len(verdicts) == 4 and all(("PASS" in v) or ("FAIL" in v) or ("MIXED" in v) for v in verdicts)
    assert sum("Sanity check :" in v for v in verdicts) == 3  # not for the attention map
    assert all("Took" in v for v in verdicts)
    assert sum("completeness gap" in v for v in verdicts) == 1  # Integrated Gradients' convergence
    titles = [s["layout"]["title"]["text"] for s in specs(at)[:4]]
    assert titles[0].startswith("Integrated Gradients") and not any("_" in t for t in titles)
    assert specs(at)[0]["data"][1]["colorbar"]["title"]["text"] == "logit contribution"
    assert len(at.get("download_button")) == 2  # the explanation card, PNG and HTML
    assert any("beats a random pixel order" in m.value for m in at.markdown)
    at.radio(key="attr_view").set_value("absolute")
    at.slider(key="attr_clip").set_value(100.0)
    at.run()
    ig = specs(at)[0]["data"][1]
    assert not at.exception and ig["zmin"] == 0 and ig["colorbar"]["title"]["text"] == "|logit contribution|"
    predicted = at.selectbox(key="attr_target").value
    at.selectbox(key="attr_target").set_value((predicted + 1) % 7)
    at.multiselect(key="attr_methods").set_value(["occlusion"])
    at.run()
    assert not at.exception and charts(at) == 4  # occlusion, attention, curves, sanity
    assert specs(at)[-1]["layout"]["title"]["text"].startswith("Occlusion (8x8 windows): Spearman")


def test_walkthrough_page_prints_every_shape_with_an_index():
    at = run("5_Walkthrough.py")
    assert "jump to a stage" in how_to_read(at)
    shapes = [c.value for c in at.code]
    assert len(shapes) == charts(at) == 15
    assert shapes[0] == "shape (1, 1, 64, 64)" and shapes[-1] == "shape (1, 7)"
    assert "shape (1, 81, 2, 128)" in shapes  # BiLSTM, both directions
    index = next(m.value for m in at.markdown if m.value.startswith("| stage |"))
    assert all(f"](#stage-{i})" in index for i in range(1, 16)) and "`(1, 81, 2, 128)`" in index
    bilstm = specs(at)[5]
    assert bilstm["data"][0]["colorscale"][0][1] == "rgb(0, 0, 0)"  # drawn over the grey face
    assert any(t.get("name") == "token grid" for t in bilstm["data"])
    at.radio(key="walkthrough_scale").set_value("relative")
    at.selectbox(key="walkthrough_sample").set_value("astronaut, mirrored").run()
    assert not at.exception and len(at.code) == 15


@pytest.mark.parametrize("page", ["2_HOG.py", "3_Attention.py", "4_Attributions.py", "5_Walkthrough.py"])
@pytest.mark.parametrize(("crop", "says"), [([[128]], "only 1x1 pixels"),
                                            (np.full((64, 64), 7).tolist(), "flat grey")])
def test_faces_too_small_or_flat_stop_with_the_warning_and_draw_nothing(page, crop, says):
    at = AppTest.from_file(str(PAGES / page), default_timeout=90)
    at.session_state["ferviz_face_crop"] = crop
    at.session_state["ferviz_face_source"] = "a tiny picture"
    at.run()
    assert not at.exception and not at.error
    assert any(says in w.value for w in at.warning) and charts(at) == 0


def test_a_face_sent_from_evaluate_opens_in_the_attention_page():
    from skimage import data

    crop = data.astronaut()[40:240, 160:360].mean(2).astype("uint8")[::3, ::3][:64, :64]
    at = AppTest.from_file(str(PAGES / "3_Attention.py"), default_timeout=90)
    at.session_state["ferviz_face_crop"] = crop.tolist()
    at.session_state["ferviz_face_source"] = "fer2013 PublicTest item 12"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.toggle(key="attention_from_eval").value is True
    assert not [r for r in at.radio if r.key.endswith("_source")]  # the picture choice gives way to the face


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
