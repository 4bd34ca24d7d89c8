"""AppTest of the analysis pages (HOG, Evaluate, Compare) with a tiny model and generated data."""

import shutil
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from ferviz.paths import MODELS_DIR_ENV
from ferviz.text import md_escape
from ferviz.ui.widgets import FACE_CROP_KEY
from tests.test_reports import write_models_dir

PAGES = Path(__file__).resolve().parent.parent / "pages"


@pytest.fixture
def app_env(tmp_path, monkeypatch, tiny_checkpoint):
    """The model picker sees only a tiny checkpoint; committed reports come from an empty folder."""
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    shutil.copy(tiny_checkpoint, shipped / "tiny.pt")
    monkeypatch.setattr("ferviz.ui.cache.MODELS_DIR", shipped)
    reports = tmp_path / "committed"
    reports.mkdir()
    monkeypatch.setenv(MODELS_DIR_ENV, str(reports))
    return reports


def page(name: str) -> AppTest:
    return AppTest.from_file(str(PAGES / name), default_timeout=90)


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def test_hog_page_walks_through_the_steps_and_follows_the_sliders(app_env):
    at = page("2_HOG.py").run()
    assert not at.exception
    assert at.metric[0].value == "1,764"  # 7 x 7 blocks x 4 cells x 9 bins
    assert len(at.get("plotly_chart")) == 11
    at.slider(key="hog_cell").set_value(16).run()
    assert not at.exception and at.metric[0].value == "324"  # 3 x 3 x 4 x 9
    assert at.slider(key="hog_row").max == 3


def test_evaluate_without_reports_says_how_to_make_them(app_env):
    at = page("6_Evaluate.py").run()
    assert not at.exception
    assert "ferviz evaluate --model models/<name>.pt" in texts(at.info)


def test_evaluate_shows_a_committed_report(app_env):
    shutil.rmtree(app_env)
    write_models_dir(app_env)
    at = page("6_Evaluate.py").run()
    assert not at.exception
    assert len(at.selectbox(key="eval_record").options) == 5  # card, 3 reports, 1 CV summary
    assert "broken.json: skipped" in texts(at.warning)
    assert at.dataframe and at.get("plotly_chart")
    at.selectbox(key="eval_record").select_index(4).run()  # the CV summary
    assert not at.exception and "±" in at.metric[0].value


def test_evaluate_runs_on_a_dataset_path(app_env, tiny_npz):
    at = page("6_Evaluate.py").run()
    at.radio(key="eval_mode").set_value("run an evaluation").run()
    assert not at.exception
    at.text_input(key="eval_data_path").input(str(tiny_npz)).run()
    split = at.selectbox(key="eval_split")
    assert split.options == ["all (84 items)", "PublicTest (28 items)", "Training (56 items)"]
    assert split.value == "PublicTest"
    at.button(key="eval_run").click().run()
    assert not at.exception and not at.error
    assert len(at.dataframe) == 1 and at.dataframe[0].value.shape[0] == 7  # per-class table
    assert at.metric[0].label == "accuracy"
    assert at.get("plotly_chart")  # confusion matrix, per-class rates, reliability
    at.toggle(key="run_normalise").set_value(True).run()
    assert not at.exception
    assert at.get("download_button") and at.get("image")  # CSV export, face galleries
    assert FACE_CROP_KEY not in at.session_state
    at.button(key="eval_send").click().run()  # an untrained model makes mistakes: send the first
    assert not at.exception
    crop = np.asarray(at.session_state[FACE_CROP_KEY])
    assert crop.shape == (64, 64) and crop.dtype.kind == "i" and 0 <= crop.min() <= crop.max() <= 255
    assert "Open **Attention maps** from the sidebar." in texts(at.caption)  # pages absent in a lone AppTest


@pytest.mark.parametrize("content", [None, b"not a zip archive"])
def test_evaluate_reports_a_bad_dataset_path(app_env, tmp_path, content):
    target = tmp_path / "missing.npz"
    if content is not None:
        target.write_bytes(content)
    at = page("6_Evaluate.py").run()
    at.radio(key="eval_mode").set_value("run an evaluation").run()
    at.text_input(key="eval_data_path").input(str(target)).run()
    assert not at.exception
    assert at.error and md_escape("missing.npz") in texts(at.error)  # shown Markdown-escaped


def test_compare_page_shows_reported_and_audit_tables(app_env):
    at = page("7_Compare.py").run()
    assert not at.exception
    assert "ferviz evaluate" in texts(at.info)  # nothing measured yet
    assert len(at.dataframe) == 4  # side by side, paper's table, anchors, audit
    assert at.metric[0].label == "Identities violated" and not at.metric[0].value.startswith("0 ")
    at.checkbox(key="compare_micro").check().run()
    assert not at.exception


def test_compare_page_lists_measured_numbers(app_env):
    shutil.rmtree(app_env)
    write_models_dir(app_env)
    at = page("7_Compare.py").run()
    assert not at.exception
    assert len(at.info) == 1 and "--kind ablation" in at.info[0].value  # only the ablations are missing
    assert len(at.dataframe) == 5
    measured = at.dataframe[0].value
    assert set(measured["model"]) >= {"tiny.pt", "lstm.pt", "bilstm.pt"}


def test_compare_page_shows_ablations_beside_the_full_model(app_env):
    from tests.test_reports import fake_report

    shutil.rmtree(app_env)
    write_models_dir(app_env)
    for seed, variant in enumerate(("dcnn_bilstm_dam", "no_distill", "relu_gate")):
        report = fake_report(20 + seed, model="best.pt", variant=variant, dataset="fer2013",
                             split="PublicTest", kind="ablation", epochs=4)
        report.to_json(app_env / "reports" / f"fer2013_ablation_{variant}.json")
    at = page("7_Compare.py").run()
    assert not at.exception and not at.info
    assert len(at.dataframe) == 6
    ablations = at.dataframe[1].value
    assert list(ablations["variant"])[0] == "dcnn_bilstm_dam" and len(ablations) == 3
    at.radio(key="ablation_metric").set_value("macro_f1").run()
    assert not at.exception
