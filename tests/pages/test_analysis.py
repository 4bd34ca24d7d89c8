"""AppTest of the analysis pages (HOG, Evaluate, Compare) with a tiny model and generated data."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.testing.v1 import AppTest

from ferviz.data.labels import EMOTIONS
from ferviz.figures.evaluate import most_confused
from ferviz.model.checkpoint import file_sha256
from ferviz.paths import MODELS_DIR_ENV
from ferviz.text import md_escape
from ferviz.ui.widgets import FACE_CROP_KEY, FACE_SOURCE_KEY
from tests.results.test_audits import tiny_model, write_leaky_npz
from tests.results.test_reports import fake_report, write_models_dir

PAGES = Path(__file__).resolve().parents[2] / "pages"


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
    labels = [m.label for m in at.metric]
    assert labels[0] == "accuracy, all items" and "accuracy" in labels  # deduplicated beside the plain one
    assert at.get("plotly_chart")  # confusion matrix, per-class rates, reliability
    at.toggle(key="run_normalise").set_value(True).run()
    assert not at.exception
    assert at.get("download_button") and at.get("image")  # CSV export, face galleries
    assert FACE_CROP_KEY not in at.session_state
    mistakes = [b for b in at.button if str(b.key).startswith("mistake_explain_")]
    mistakes[0].click().run()  # an untrained model makes mistakes: send the first
    assert not at.exception
    crop = np.asarray(at.session_state[FACE_CROP_KEY])
    assert crop.shape == (64, 64) and crop.dtype.kind == "i" and 0 <= crop.min() <= crop.max() <= 255
    assert "Open **Attention maps** from the sidebar." in texts(at.caption)  # pages absent in a lone AppTest


def test_evaluate_with_test_time_augmentation_is_labelled_and_kept_apart(app_env, tiny_npz):
    at = page("6_Evaluate.py").run()
    at.radio(key="eval_mode").set_value("run an evaluation").run()
    at.text_input(key="eval_data_path").input(str(tiny_npz)).run()
    assert at.selectbox(key="eval_tta").value == "none"
    at.button(key="eval_run").click().run()
    plain = at.metric[0].value
    assert "test-time augmentation" not in texts(at.info)
    at.selectbox(key="eval_tta").set_value("ten_crop").run()  # another measurement: nothing stale shown
    assert not at.exception and not at.metric
    at.button(key="eval_run").click().run()
    assert not at.exception and not at.error and at.metric
    assert "ten crops" in texts(at.info) and "test-time augmented" in texts(at.info)
    at.selectbox(key="eval_tta").set_value("none").run()
    assert not at.metric or at.metric[0].value == plain  # the plain result is never replaced by a TTA one


def test_evaluate_runs_on_the_reviewers_own_class_folders(app_env, tmp_path):
    """happy/, Sad/, 3/ of mixed sizes: read as 'folder', the resize said, crops or photos chosen."""
    from PIL import Image

    root = tmp_path / "reviewer"
    rng = np.random.default_rng(0)
    for k, (cls, side) in enumerate([("happy", 48), ("Sad", 60), ("3", 48), ("Angry", 52)]):
        (root / cls).mkdir(parents=True)
        Image.fromarray(rng.integers(0, 256, (side, side), dtype=np.uint8)).save(root / cls / f"{k}.png")
    at = page("6_Evaluate.py").run()
    at.radio(key="eval_mode").set_value("run an evaluation").run()
    at.text_input(key="eval_data_path").input(str(root)).run()
    assert not at.exception and not at.error
    notes = texts(at.info)
    assert "resized to 50x50" in notes and md_escape("FER2013 order (3 happy)") in notes
    photos = at.radio(key="eval_photos")
    assert photos.value is False  # face crops by default
    at.button(key="eval_run").click().run()
    assert not at.exception and not at.error
    assert at.metric and at.get("plotly_chart")
    at.radio(key="eval_photos").set_value(True).run()  # photos: another evaluation, nothing stale shown
    assert not at.exception and not at.metric
    at.button(key="eval_run").click().run()
    assert not at.exception and not at.error and at.metric


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
    missing = texts(at.info)  # the ablations, the leakage report, the paired comparisons, the domain table, ...
    assert len(at.info) == 9 and "--kind ablation" in missing and "ferviz audit --data" in missing
    assert "No lever measured yet" in missing and "No logit-adjustment sweep yet" in missing
    assert "steps `domains`, `adjust_sweep` and `ferplus_only`" in missing  # the FER+ trade-off plot
    assert "ferviz domains --models" in missing
    assert "scripts/levers.sh" in missing and "--tta flip" in missing
    assert len(at.dataframe) == 5
    measured = at.dataframe[0].value
    assert set(measured["model"]) >= {"tiny.pt", "lstm.pt", "bilstm.pt"}


def test_compare_page_shows_ablations_beside_the_full_model(app_env):
    shutil.rmtree(app_env)
    write_models_dir(app_env)
    for seed, variant in enumerate(("dcnn_bilstm_dam", "no_distill", "relu_gate")):
        report = fake_report(20 + seed, model="best.pt", variant=variant, dataset="fer2013",
                             split="PublicTest", kind="ablation", epochs=4)
        report.to_json(app_env / "reports" / f"fer2013_ablation_{variant}.json")
    at = page("7_Compare.py").run()
    assert not at.exception and "--kind ablation" not in texts(at.info)
    assert len(at.dataframe) == 6
    assert "One seed each" in texts(at.markdown)
    ablations = at.dataframe[1].value
    assert list(ablations["variant"])[0] == "dcnn_bilstm_dam" and len(ablations) == 3
    at.radio(key="ablation_metric").set_value("macro_f1").run()
    assert not at.exception



def test_compare_page_shows_tta_only_in_its_own_section(app_env):
    from tests.results.test_reports import report_with_accuracy

    shutil.rmtree(app_env)
    write_models_dir(app_env)
    (app_env / "reports" / "tta").mkdir()
    meta = dict(model="lstm.pt", variant="cnn_lstm", dataset="fer2013", split="PublicTest")
    flip = report_with_accuracy(90, kind="comparison", tta="flip", **meta)
    flip.to_json(app_env / "reports" / "tta" / "f.json")
    at = page("7_Compare.py").run()
    assert not at.exception and "--tta flip" not in texts(at.info)
    assert not any("TTA" in m for m in at.dataframe[0].value["model"])  # not in the measured table
    table = next(d.value for d in at.dataframe if "tta" in d.value.columns)
    assert list(table["tta"]) == ["flip"] and table.iloc[0]["accuracy"] == 90


def test_compare_page_shows_each_lever_against_the_baseline_seeds(app_env):
    from tests.results.test_reports import report_with_accuracy

    shutil.rmtree(app_env)
    write_models_dir(app_env)
    seeds, levers = app_env / "reports" / "seeds", app_env / "reports" / "levers"
    seeds.mkdir()
    levers.mkdir()
    budget = dict(model="best.pt", variant="dcnn_bilstm_dam", dataset="fer2013", split="PublicTest",
                  epochs=16, train_subset=5000)
    for seed, (base, ema) in enumerate([(50, 52), (51, 52), (52, 55)]):
        report_with_accuracy(base, kind="ablation", seed=seed, **budget).to_json(seeds / f"s{seed}.json")
        report_with_accuracy(ema, kind="lever", lever="ema", seed=seed, **budget).to_json(
            levers / f"e{seed}.json")
    at = page("7_Compare.py").run()
    assert not at.exception and "scripts/levers.sh" not in texts(at.info)
    titles = [json.loads(c.proto.spec)["layout"].get("title", {}).get("text", "").replace("<br>", " ")
              for c in at.get("plotly_chart")]  # titles are broken into lines that fit a 1024-px window
    assert any(t.startswith("training levers") and "baseline 51.00 % (seeds 0, 1, 2)" in t for t in titles)
    table = next(d.value for d in at.dataframe if "lever" in d.value.columns)
    assert list(table["lever"]) == ["none (baseline)", "ema"]
    assert table.iloc[1]["verdict"] == "within seed noise (p = 0.07, 3 seeds)"
    at.radio(key="lever_metric").set_value("macro_f1").run()
    assert not at.exception


# ------------------------------------------------------------------------------- error analysis (#11)

def click_cell(at: AppTest, key: str, true_k: int, pred_k: int) -> AppTest:
    """What a browser sends when a cell of the confusion matrix is clicked: a plotly selection event."""
    (chart,) = [c for c in at.get("plotly_chart") if c.key == key]
    states = at._tree.get_widget_states()
    point = {"curve_number": 1, "point_index": 0, "customdata": [true_k, pred_k, 0, 0.0]}
    selection = {"selection": {"points": [point], "point_indices": [0], "box": [], "lasso": []}}
    states.widgets.append(WidgetState(id=chart.proto.id, string_value=json.dumps(selection)))
    return at._run(states)


@pytest.fixture
def leaky_npz(tmp_path):
    return write_leaky_npz(tmp_path / "leaky.npz")


@pytest.fixture
def two_models(app_env):
    """Two tiny checkpoints shipped (the picker's default first), both recording PublicTest as the
    selection split of the 'npz' dataset they were trained on."""
    shipped = app_env.parent / "shipped"
    (shipped / "tiny.pt").unlink()
    for name, seed in (("a_model.pt", 0), ("b_model.pt", 1)):
        tiny_model(shipped / name, seed, train_split="Training", select_split="PublicTest")
    return shipped


def run_page(leaky_npz, mode="run an evaluation", split=None) -> AppTest:
    at = page("6_Evaluate.py").run()
    at.radio(key="eval_mode").set_value(mode).run()
    at.text_input(key="eval_data_path").input(str(leaky_npz)).run()
    if split is not None:
        at.selectbox(key="eval_split").set_value(split).run()
    return at


def test_clicking_a_cell_shows_its_faces_and_moves_the_dropdowns(two_models, leaky_npz):
    at = run_page(leaky_npz)
    assert any("optimistic" in w.value for w in at.warning)  # PublicTest is the selection split
    at.button(key="eval_run").click().run()
    assert not at.exception and not at.error
    (evaluation,) = at.session_state["ferviz_evaluation"].values()
    matrix = evaluation.report.matrix()
    cell = (at.selectbox(key="run_true_7").value, at.selectbox(key="run_pred_7").value)
    assert cell == most_confused(matrix)
    true_k, pred_k = map(int, np.argwhere(matrix > 0)[-1])  # a non-empty cell
    at = click_cell(at, "run_cm", true_k, pred_k)
    assert not at.exception
    assert (at.selectbox(key="run_true_7").value, at.selectbox(key="run_pred_7").value) == (true_k, pred_k)
    assert f"{matrix[true_k, pred_k]} items of class" in texts(at.caption)
    explain = [b for b in at.button if str(b.key).startswith("run_cell_explain_")]
    assert len(explain) == min(int(matrix[true_k, pred_k]), 24)
    explain[0].click().run()
    assert not at.exception and FACE_CROP_KEY in at.session_state
    assert at.session_state[FACE_SOURCE_KEY].startswith("PublicTest_")
    # the dropdowns remain the keyboard way, and the click no longer overrides them
    at.selectbox(key="run_true_7").set_value((true_k + 1) % 7).run()
    assert at.selectbox(key="run_true_7").value == (true_k + 1) % 7 and not at.exception


def test_a_cells_faces_name_their_files_mark_training_copies_and_explain_opens_the_attention_page(
        two_models, leaky_npz, monkeypatch):
    """Like Predict's button, Evaluate's "Explain this face" opens the Attention page on the face (not a
    confirmation and links below the 24-face grid); every face says its file name, and a copy of a
    training image says so."""
    from ferviz.ui.evaluate import _DUP_KEY
    from ferviz.ui.faces import COPY_MARK, file_name

    opened = []
    monkeypatch.setattr("ferviz.ui.faces.open_page", lambda page, label: opened.append(page))
    at = run_page(leaky_npz)
    at.button(key="eval_run").click().run()
    (evaluation,) = at.session_state["ferviz_evaluation"].values()
    leaked = at.session_state[_DUP_KEY][1].leaked
    i = int(np.flatnonzero(leaked)[0])  # a PublicTest face that is also a Training face
    at = click_cell(at, "run_cm", int(evaluation.y_true[i]), int(evaluation.y_pred[i]))
    assert not at.exception
    names = {md_escape(file_name(s)): k for k, s in enumerate(evaluation.dataset.source)}
    cell = [c.value for c in at.caption if c.value.split(" · ")[0] in names]
    assert md_escape(file_name(evaluation.dataset.source[i])) in [c.split(" · ")[0] for c in cell]
    for caption in cell:
        assert caption.endswith(COPY_MARK) == bool(leaked[names[caption.split(" · ")[0]]]), caption
    at.button(key=f"run_cell_explain_{i}").click().run()
    assert not at.exception and opened == ["pages/3_Attention.py"]
    assert at.session_state[FACE_SOURCE_KEY].startswith(evaluation.dataset.source[i])


def test_a_new_split_resets_the_chosen_cell(two_models, leaky_npz):
    at = run_page(leaky_npz)
    at.button(key="eval_run").click().run()
    at = click_cell(at, "run_cm", 6, 6)
    assert at.selectbox(key="run_true_7").value == 6
    at.selectbox(key="eval_split").set_value("Training").run()
    assert any("memory, not generalisation" in w.value for w in at.warning)
    at.button(key="eval_run").click().run()
    assert not at.exception
    (evaluation,) = at.session_state["ferviz_evaluation"].values()
    cell = (at.selectbox(key="run_true_7").value, at.selectbox(key="run_pred_7").value)
    assert cell == most_confused(evaluation.report.matrix())


def test_deduplicated_accuracy_beside_the_plain_one(two_models, leaky_npz):
    at = run_page(leaky_npz)
    at.button(key="eval_run").click().run()
    metrics = {m.label: m.value for m in at.metric}
    labels = {"on the 4 exact duplicates", "deduplicated (exact)", "deduplicated (exact + near)"}
    assert labels <= metrics.keys()
    assert "4 of 28 evaluated items are pixel-identical" in texts(at.caption)
    assert "95 % bootstrap intervals" in texts(at.caption)


def test_two_models_on_the_same_items(two_models, leaky_npz):
    at = run_page(leaky_npz, mode="compare two models")
    assert at.selectbox(key="pair_b").value == "b_model"
    assert "Run both models" in texts(at.info)
    at.button(key="pair_run").click().run()
    assert not at.exception and not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert {"A: a_model.pt", "B: b_model.pt", "difference A − B", "McNemar exact p"} <= set(metrics)
    assert md_escape("a_model.pt vs b_model.pt: ") in texts(at.success) + texts(at.info)
    assert "Without the" in texts(at.caption)  # the test again on the items without a training copy
    assert [c for c in at.get("plotly_chart") if c.key == "pair_matrix"]
    side = at.radio(key="pair_side")
    counts = [int(o.rsplit("(", 1)[1].rstrip(")")) for o in side.options]
    if counts[0] == 0:
        side.set_value(side.options[1]).run()
    buttons = [b for b in at.button if str(b.key).startswith("pair_explain_")]
    assert len(buttons) == min(max(counts[0], counts[1]) if counts[0] == 0 else counts[0], 24)
    buttons[0].click().run()
    assert not at.exception and "A (a_model.pt)" in at.session_state[FACE_SOURCE_KEY]


def test_committed_reports_open_on_the_loaded_model_with_its_deduplicated_numbers(app_env):
    shutil.rmtree(app_env)
    write_models_dir(app_env)
    sha = file_sha256(app_env.parent / "shipped" / "tiny.pt")
    fake_report(7, model="tiny.pt", variant="dcnn_bilstm_dam", dataset="fer2013", split="PublicTest",
                kind="comparison", sha256=sha).to_json(app_env / "reports" / "loaded.json")
    entry = {"model": "tiny.pt", "variant": "dcnn_bilstm_dam", "sha256": sha,
             "accuracy": {"estimate": 0.6, "low": 0.5, "high": 0.7},
             "macro_f1": {"estimate": 0.5, "low": 0.4, "high": 0.6},
             "exact": {"duplicated": {"n": 7, "correct": 6, "accuracy": 6 / 7},
                       "clean": {"n": 63, "correct": 36, "accuracy": 36 / 63}, "inflation": 0.03,
                       "macro_f1_clean": 0.45},
             "leaked": {"duplicated": {"n": 10, "correct": 8, "accuracy": 0.8},
                        "clean": {"n": 60, "correct": 34, "accuracy": 34 / 60}, "inflation": 0.033,
                        "macro_f1_clean": 0.44}}
    leak = {"kind": "leakage", "dataset": "fer2013", "split": "PublicTest", "reference_split": "Training",
            "method": {"near_threshold": 0.95}, "counts": {"n": 70, "exact": 7, "near": 3, "leaked": 10,
                                                           "label_conflicts": 1},
            "similarity_histogram": {"edges": [0.5, 0.75, 1.0], "counts": [50, 10], "below": 3},
            "items": {"exact": [["PublicTest_1.png", "Training_9.png"]], "near": []}, "models": [entry]}
    (app_env / "reports" / "fer2013_publictest_leakage.json").write_text(json.dumps(leak))
    at = page("6_Evaluate.py").run()
    assert not at.exception
    assert at.selectbox(key="eval_record").value.endswith("— loaded.json")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["on the 7 exact duplicates"] == "85.71 %"
    assert metrics["deduplicated (exact)"] == "57.14 %"
    assert metrics["deduplicated (exact + near)"] == "56.67 %"
    assert "holds counts, not faces" in texts(at.caption)  # said under the matrix, not "click a cell"
    at = click_cell(at, "record_cm", 2, 3)  # a click still chooses the cell
    assert (at.selectbox(key="record_true_7").value, at.selectbox(key="record_pred_7").value) == (2, 3)
    at.selectbox(key="eval_record").select_index(0).run()  # the card: its selection split
    assert not at.exception and any("optimistic" in w.value for w in at.warning)
    at = page("7_Compare.py").run()
    assert not at.exception
    assert "7 of 70 items have a pixel-identical copy" in texts(at.markdown)
    assert any(c.key == "leakage_hist_fer2013_publictest_leakage" for c in at.get("plotly_chart"))


def test_compare_page_shows_committed_paired_tests(app_env):
    from ferviz.results.audits import Scored, paired_report

    shutil.rmtree(app_env)
    write_models_dir(app_env)
    y = np.arange(70) % 7
    a = Scored("a.pt", "v", "a" * 64, y, y, tuple("abcdefg"))
    b = Scored("b.pt", "v", "b" * 64, y, np.where(np.arange(70) < 20, (y + 1) % 7, y), tuple("abcdefg"))
    report = paired_report(a, b, dataset="fer2013", split="PublicTest", n_boot=50)
    (app_env / "reports" / "pair.json").write_text(json.dumps(report))
    at = page("7_Compare.py").run()
    assert not at.exception and "pair.json" not in texts(at.warning)  # only the three broken files
    assert any(c.key == "paired_forest" for c in at.get("plotly_chart"))
    verdict = "a.pt vs b.pt: accuracy 28.57 points higher for a.pt — a significant difference"
    assert md_escape(verdict) in texts(at.markdown)


def test_evaluate_in_shared_mode_offers_the_operators_datasets_and_uploads(app_env, tmp_path, monkeypatch):
    from tests.helpers import write_npz

    root = tmp_path / "roots"
    root.mkdir()
    write_npz(root / "fer2013_small.npz")
    monkeypatch.setenv("FERVIZ_SHARED", "1")
    monkeypatch.setenv("FERVIZ_DATA_ROOTS", str(root))
    at = page("6_Evaluate.py").run()
    at.radio(key="eval_mode").set_value("run an evaluation").run()
    assert not at.exception and not at.text_input  # no field takes a server path
    listed = at.selectbox(key="eval_listed")
    listed.set_value("roots/fer2013_small.npz").run()
    assert not at.exception and not at.error


def test_every_number_on_the_compare_page_is_formatted():
    """Floats with 2 decimals (p-values 3), counts as integers, empty cells as a dash, tables in tabs."""
    import re

    import pandas as pd
    import pyarrow as pa

    at = page("7_Compare.py").run()
    assert not at.exception
    assert len(at.tabs) >= 8  # a tab per section instead of one 10,000-px page
    checked = 0
    for frame in at.dataframe:
        data = frame.value
        shown = frame.proto.arrow_data.styler.display_values
        assert shown, "every Compare table goes through table_view (or the audit styler)"
        display = pa.ipc.open_stream(shown).read_all().to_pandas()
        for column in data.columns:
            if not pd.api.types.is_float_dtype(data[column]):
                continue
            for raw, text in zip(data[column], display[column], strict=True):
                text = str(text)
                if pd.isna(raw):
                    assert text in ("—", "nan"), (column, text)  # the audit styler leaves NaN to pandas
                elif column in ("train_faces", "n", "runs"):
                    assert re.fullmatch(r"-?\d+", text), (column, text)  # "5000", not "5000.00"
                else:
                    assert re.fullmatch(r"[-+]?\d+\.\d{2,3}(e[-+]\d+)?|[-+]?\d\.\d+e[-+]\d+|\d+(\.\d+)?", text), (
                        column, text)
                checked += 1
    assert checked >= 10


def test_compare_and_evaluate_show_real_commands_and_no_machines_paths():
    """The committed reports as shipped: every Remake command is one a user can type (``ferviz audit``, not
    the module path the report recorded), and no page shows an absolute path of the training machine."""
    from ferviz.paths import ROOT

    at = page("7_Compare.py").run()
    assert not at.exception
    remake = [c.value for c in at.caption if c.value.startswith("Remake:")]
    assert remake and all(c.startswith("Remake: `ferviz audit ") for c in remake), remake
    shown = [*(e.value for kind in ("caption", "markdown", "info", "code") for e in at.get(kind)),
             *(d.value.to_string() for d in at.dataframe)]
    assert not any("python -m ferviz.results.audits" in text for text in shown)
    at = page("6_Evaluate.py").run()
    assert not at.exception and at.code  # the loaded model's committed report and its command
    shown = [*(e.value for kind in ("caption", "markdown", "info", "warning", "code") for e in at.get(kind)),
             *(d.value.to_string() for d in at.dataframe)]
    machine = (str(ROOT), "/work/", "/root/", "/home/", "/srv/", "/mnt/")  # where models were trained
    assert not [t for t in shown if any(folder in t for folder in machine)]


def test_long_text_columns_on_the_compare_page_are_narrowed():
    """Commands, recipes and file lists once made Compare's tables two or three page widths: a text column
    longer than LONG_TEXT characters is shown at the "medium" width (the whole text on hover)."""
    import pandas as pd

    from ferviz.ui.reportviews import LONG_TEXT

    at = page("7_Compare.py").run()
    assert not at.exception
    narrowed = 0
    for frame in at.dataframe:
        config = json.loads(frame.proto.columns or "{}")
        for column in frame.value.columns:
            cells = frame.value[column]
            text = pd.api.types.is_string_dtype(cells) or pd.api.types.is_object_dtype(cells)
            if text and cells.dropna().astype(str).str.len().max() > LONG_TEXT:
                assert config.get(column, {}).get("width") == "medium", column
                narrowed += 1
    assert narrowed >= 4  # the measured table's recipe and command, the ablation files, ...


def test_compare_shows_the_domain_table_as_a_heatmap(app_env):
    from ferviz.results.domains import agreement_scores, scores_from, write_domains

    (app_env / "reports" / "domains").mkdir(parents=True, exist_ok=True)
    ours = scores_from("ours", "ckplus", np.array([0, 1]), np.eye(7)[[0, 0]], list(EMOTIONS))
    peer = agreement_scores("faceapi", np.eye(7)[[3]], np.eye(7)[[3]], list(EMOTIONS))
    write_domains([ours, peer], app_env / "reports" / "domains" / "domains.json", "ferviz domains")
    at = page("7_Compare.py").run()
    assert not at.exception
    chart = [c for c in at.get("plotly_chart") if "ckplus" in c.proto.spec]
    assert chart and '"ours"' in chart[0].proto.spec and '"faceapi"' in chart[0].proto.spec
    at.radio(key="compare_domain_metric").set_value("macro_f1").run()
    assert not at.exception
    at.radio(key="compare_domain_metric").set_value("balanced_accuracy").run()
    chart = [c for c in at.get("plotly_chart") if "balanced accuracy by domain" in c.proto.spec]
    assert not at.exception and chart
    # one model's recall by class: the weakest labelled cell named (ours calls both CK+ faces angry)
    assert at.selectbox(key="compare_domain_recall").options == ["faceapi", "ours"]
    at.selectbox(key="compare_domain_recall").set_value("ours").run()
    assert not at.exception
    assert any("weakest labelled cell: disgust on ckplus, 0 %" in c.value for c in at.caption)
    assert [c for c in at.get("plotly_chart") if c.key == "compare_domain_recall_chart"]


def test_compare_shows_the_real_faces_levers_under_the_domains(app_env):
    from ferviz.results.domains import scores_from, write_domains

    folder = app_env / "reports" / "real_levers"
    at = page("7_Compare.py").run()
    assert not at.exception and any("No lever measured yet" in i.value for i in at.info)
    hit = scores_from("best", "ferplus", np.arange(7), np.eye(7), list(EMOTIONS))
    write_domains([hit], folder / "camera_jpeg.json", "ferviz domains")
    write_domains([hit], folder / "not_a_lever.json", "ferviz domains")  # not in the script: not shown
    at = page("7_Compare.py").run()
    assert not at.exception
    table = next(d.value for d in at.dataframe if "lever" in d.value.columns)
    assert table["lever"].tolist() == ["camera_jpeg"] and table["FER+ majority"].tolist() == ["100.0 / 100.0"]
    assert table["FER2013 labels"].tolist() == ["—"]  # not measured there


def write_adjusted(path, tau: float):
    """A tiny checkpoint adjusted by ``tau`` as ``ferviz adjust`` writes one (the tau lives in its meta)."""
    from ferviz.data.preprocess import Preprocessing
    from ferviz.model.checkpoint import load_checkpoint, save_checkpoint
    from ferviz.model.network import build_model
    from ferviz.train.adjust import adjust_logits, save_adjusted
    from tests.helpers import TINY

    plain = save_checkpoint(path.with_name("plain.pt"), build_model("dcnn_bilstm_dam", **TINY).eval(),
                            labels=list(EMOTIONS), preprocessing=Preprocessing(), variant="dcnn_bilstm_dam")
    save_adjusted(adjust_logits(load_checkpoint(plain, verify=False), tau, np.full(7, 1 / 7)), path,
                  prior_source="uniform", command=f"ferviz adjust --tau {tau:g}")
    plain.unlink()


def test_compare_shows_the_logit_adjustment_sweep_with_the_shipped_tau(app_env):

    from ferviz.results.domains import ADJUSTMENT_FILE, scores_from, write_domains

    at = page("7_Compare.py").run()
    assert not at.exception and any("No logit-adjustment sweep yet" in i.value for i in at.info)
    y = np.arange(7)
    write_domains([scores_from("tau_0", "ckplus", y, np.eye(7)[np.zeros(7, int)], list(EMOTIONS)),
                   scores_from("tau_1", "ckplus", y, np.eye(7)[y], list(EMOTIONS))],
                  app_env / "reports" / ADJUSTMENT_FILE, "ferviz domains")
    at = page("7_Compare.py").run()
    chart = [c for c in at.get("plotly_chart") if "tau (0 = as trained" in c.proto.spec]
    assert not at.exception and chart and "shipped" not in chart[0].proto.spec
    assert any("not adjusted" in c.value for c in at.caption)
    write_adjusted(app_env / "real_dcnn_bilstm_dam.pt", tau=1.0)
    at = page("7_Compare.py").run()
    chart = [c for c in at.get("plotly_chart") if "tau (0 = as trained" in c.proto.spec]
    assert not at.exception and "shipped: tau = 1" in chart[0].proto.spec
    assert any("uses tau = 1 (the dotted line)" in c.value for c in at.caption)


def test_compare_shows_what_the_ferplus_target_costs(app_env):
    from ferviz.results.domains import FERPLUS_ONLY_FILE, scores_from, write_domains

    at = page("7_Compare.py").run()
    assert not at.exception and any("steps `domains`, `adjust_sweep` and `ferplus_only`" in i.value for i in at.info)
    y = np.arange(7)
    right, neutral = np.eye(7)[y], np.eye(7)[np.full(7, 6)]
    write_domains([scores_from(m, d, y, p, list(EMOTIONS)) for m, p in (("real_dcnn_bilstm_dam", neutral),
                                                                        ("ferplus_only_soup", right))
                   for d in ("ferplus", "ckplus", "jaffe")], app_env / "reports" / FERPLUS_ONLY_FILE, "ferviz domains")
    at = page("7_Compare.py").run()
    chart = [c for c in at.get("plotly_chart") if "against the posed sets" in c.proto.spec]
    assert not at.exception and chart
    assert "real_dcnn_bilstm_dam (default)" in chart[0].proto.spec and "ferplus_only_soup" in chart[0].proto.spec
    assert any("fine-tuned on FER+'s votes" in c.value for c in at.caption)
    # the same points against balanced accuracy on FER+'s majority: the default calls every face neutral (1/7)
    at.radio(key="compare_tradeoff_y").set_value("balanced").run()
    specs = [json.dumps(json.loads(c.proto.spec)).replace("<br>", " ")  # titles are broken to fit 1024 px
             for c in at.get("plotly_chart")]
    chart = [spec for spec in specs if "every expression weighted alike" in spec]
    assert not at.exception and chart and "balanced accuracy against FER+" in chart[0]
    assert any("The default scores 14.3 % and 14.3 % balanced." in c.value for c in at.caption)
    assert any("The bars are 95 % intervals" in c.value for c in at.caption)


def committed_report_of_tiny(app_env, tmp_path, sha: str) -> None:
    """A committed PublicTest report of ``sha`` whose command reads ``$DATA/tiny.npz``."""
    (app_env / "reports").mkdir(exist_ok=True)
    fake_report(0, model="tiny.pt", variant="dcnn_bilstm_dam", dataset="fer2013", split="PublicTest", sha256=sha,
                command="ferviz evaluate --model models/tiny.pt --dataset npz --data $DATA/tiny.npz "
                        "--split PublicTest").to_json(app_env / "reports" / "tiny_publictest.json")


def test_a_committed_report_opens_onto_its_faces_in_one_click(app_env, tmp_path, tiny_npz, monkeypatch):
    shipped = tmp_path / "shipped" / "tiny.pt"
    sha = file_sha256(shipped)
    shipped.with_suffix(".json").write_text(json.dumps({"sha256": sha}))  # the card the opener matches on
    committed_report_of_tiny(app_env, tmp_path, sha)
    monkeypatch.delenv("FERVIZ_DATA", raising=False)
    monkeypatch.setenv("DATA", str(tiny_npz.parent))
    at = page("6_Evaluate.py").run()
    assert not at.exception and "Click a cell, or choose it" in texts(at.caption)  # counts only, so far
    assert at.text_input(key="eval_data_folder").value == str(tiny_npz.parent)
    assert md_escape(str(tiny_npz)) in texts(at.caption)
    at.button(key="eval_open_faces").click().run()
    assert not at.exception and not at.error
    assert at.radio(key="eval_mode").value == "run an evaluation"
    assert at.text_input(key="eval_data_path").value == str(tiny_npz)
    assert (at.selectbox(key="eval_data_kind").value, at.selectbox(key="eval_split").value) == ("npz", "PublicTest")
    assert at.metric and at.metric[0].label == "accuracy, all items"  # it ran: no Run press needed
    assert "Click a cell to see its faces" in texts(at.caption)
    assert at.get("image")  # the chosen cell's faces
    at.button(key="eval_run").click().run()  # and runs again only when asked
    assert not at.exception and at.metric


def test_the_faces_opener_says_what_it_needs(app_env, tmp_path, monkeypatch):
    monkeypatch.delenv("FERVIZ_DATA", raising=False)
    monkeypatch.delenv("DATA", raising=False)
    committed_report_of_tiny(app_env, tmp_path, "f" * 64)  # a checkpoint not in models/
    at = page("6_Evaluate.py").run()
    assert not at.exception and "must be in `models/` (sha256 `ffffffffffff`)" in texts(at.caption)
    assert not [b for b in at.button if b.key == "eval_open_faces"]
    shipped = tmp_path / "shipped" / "tiny.pt"
    shipped.with_suffix(".json").write_text(json.dumps({"sha256": file_sha256(shipped)}))
    committed_report_of_tiny(app_env, tmp_path, file_sha256(shipped))
    at = page("6_Evaluate.py").run()  # shipped now, but no data folder given yet
    assert not at.exception and "give the folder that holds " + md_escape("$DATA/tiny.npz") in texts(at.caption)
    at.text_input(key="eval_data_folder").input(str(tmp_path / "elsewhere")).run()
    assert md_escape(str(tmp_path / "elsewhere" / "tiny.npz")) + " is not there" in texts(at.caption)
    assert not [b for b in at.button if b.key == "eval_open_faces"]
