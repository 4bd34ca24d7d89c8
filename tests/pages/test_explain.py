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
    at = AppTest.from_file(str(PAGES / page), default_timeout=300).run()  # a busy CI machine
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def charts(at: AppTest) -> int:
    return len(at.get("plotly_chart"))


def specs(at: AppTest) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def how_to_read(at: AppTest) -> str:
    return next(i.value for i in at.info if i.value.startswith("**How to read this page:**"))


def open_tab(at: AppTest, label: str) -> AppTest:
    """Open one of the Attention page's tabs (keyed tabs keep their label in the session) and rerun."""
    at.session_state["attention_tab"] = label
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_attention_page_and_query_sliders():
    at = run("3_Attention.py")
    assert at.title[0].value == "Attention explorer" and "1/N" in how_to_read(at)
    assert charts(at) == 3  # received, query, groups: only the open tab is computed
    assert any("5x5 grid" in c.value for c in at.caption)  # distilled keys are announced
    assert any("normalised entropy" in c.value for c in at.caption)  # how far from uniform
    at.slider(key="attention_row").set_value(1)
    at.slider(key="attention_col").set_value(7)
    at.selectbox(key="attention_layer").set_value(0)
    at.run()
    assert not at.exception and charts(at) == 3
    assert any("(1, 7)" in el.proto.spec for el in at.get("plotly_chart"))
    open_tab(at, "PCP activation")
    at.slider(key="pcp_alpha").set_value(0.5).run()
    assert charts(at) == 1 and "alpha = 0.5" in at.get("plotly_chart")[0].proto.spec
    assert at.session_state["attention_tab"] == "PCP activation"  # a control in a tab keeps that tab
    assert charts(open_tab(at, "Channel attention")) == 1 and charts(open_tab(at, "BiLSTM & fusion")) == 1


def test_the_ablations_open_on_the_last_layer_and_say_what_changed():
    at = open_tab(run("3_Attention.py"), "Ablations")
    assert charts(at) == 3  # as trained, without cross-fusion, without distillation
    assert at.selectbox(key="attention_ablation_layer").value == 1  # layer 2, where cross-fusion acts
    changes = [m.value for m in at.markdown if "sits elsewhere than in the trained model" in m.value]
    assert len(changes) == 2 and all("% of the attention" in c for c in changes)
    cross = next(c for c in changes if "Without cross" in c)
    assert not cross.split("(layer 2): ")[1].startswith("0%")  # at layer 2 cross-fusion changes the map
    assert any("left out and every other weight is used unchanged" in c.value for c in at.caption)
    assert not any("strict=False" in c.value for c in at.caption)
    at.selectbox(key="attention_ablation_layer").set_value(0).run()
    cross = next(m.value for m in at.markdown if "Without cross" in m.value)
    assert "(layer 1): 0% of the attention" in cross  # the same map at layer 1, and the page says so


def test_attention_controls_sit_only_in_the_tabs_they_change():
    at = run("3_Attention.py")
    expected = {"Spatial attention": (["attention_layer", "attention_group"], ["attention_scale"]),
                "Channel attention": (["attention_channel_layer"], ["attention_channel_scale"]),
                "BiLSTM & fusion": ([], ["attention_token_scale"]),
                "Ablations": (["attention_ablation_layer", "attention_ablation_group"], ["attention_ablation_scale"]),
                "PCP activation": ([], [])}
    for label, (selects, radios) in expected.items():
        open_tab(at, label)
        mine = [w.key for w in at.main.selectbox if (w.key or "").startswith("attention")]
        assert mine == selects, label  # none above the tabs
        assert [r.key for r in at.main.radio if (r.key or "").startswith("attention")] == radios, label
    assert [s.key for s in at.main.slider] == ["pcp_knot", "pcp_alpha"]


def test_the_attention_page_explains_its_words():
    at = run("3_Attention.py")
    assert "C3" not in how_to_read(at) and "grid of small regions" in how_to_read(at)
    glossary = next(e for e in at.expander if e.label == "Words used on this page")
    text = " ".join(m.value for m in glossary.markdown)
    assert "**token**" in text and "**C3**" in text and "**cross-fusion**" in text


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
    channels = specs(open_tab(at, "Channel attention"))[0]
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
    assert titles[0].startswith("Integrated<br>Gradients<br>") and not any("_" in t for t in titles)  # fit 4 across
    assert specs(at)[0]["data"][1]["colorbar"]["title"]["text"].replace("<br>", " ") == "logit contribution"
    assert len(at.get("download_button")) == 2  # the explanation card, PNG and HTML
    assert any("beats a random pixel order" in m.value for m in at.markdown)
    at.radio(key="attr_view").set_value("absolute")
    at.slider(key="attr_clip").set_value(100.0)
    at.run()
    ig = specs(at)[0]["data"][1]
    assert not at.exception and ig["zmin"] == 0
    assert ig["colorbar"]["title"]["text"].replace("<br>", " ") == "|logit contribution|"
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
    assert all(f"](#stage-{i})" in index for i in range(1, 16)) and "`(1,81,2,128)`" in index
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


def test_explain_on_predict_remembers_the_face_and_opens_the_attention_page(monkeypatch):
    opened = []
    monkeypatch.setattr("ferviz.ui.predict.open_page", lambda page, label: opened.append(page))
    at = AppTest.from_file(str(PAGES / "1_Predict.py"), default_timeout=90).run()
    at.button(key="explain_0").click().run()  # one face: its button, no picker
    assert not at.exception and opened == ["pages/3_Attention.py"]
    assert np.asarray(at.session_state["ferviz_face_crop"]).shape == (64, 64)
    assert at.session_state["ferviz_face_source"] == "astronaut (NASA, public domain), face #0"
