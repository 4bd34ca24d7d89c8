"""AppTest of Evaluate's human-agreement views: committed label-noise reports and a fresh FER2013 evaluation
with FER+ votes beside the data (generated, no dataset image)."""

import json
import shutil
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from ferviz.data.ferplus import votes_from_array
from ferviz.data.labels import EMOTIONS
from ferviz.results.agreement import agreement_metrics
from tests.helpers import synthetic_faces
from tests.pages.test_analysis import app_env  # noqa: F401 - the fixture
from tests.results.test_reports import write_models_dir

PAGES = Path(__file__).resolve().parents[2] / "pages"
# FER+ column order: neutral happiness surprise sadness anger disgust fear contempt unknown NF
VOTE_ROWS = [[0, 0, 0, 0, 9, 0, 0, 0, 1, 0], [6, 0, 0, 0, 0, 0, 4, 0, 0, 0], [0, 5, 0, 5, 0, 0, 0, 0, 0, 0]]


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def page() -> AppTest:
    return AppTest.from_file(str(PAGES / "6_Evaluate.py"), default_timeout=120)


def votes_rows(n: int) -> np.ndarray:
    return np.array([VOTE_ROWS[i % 3] for i in range(n)], np.int16)


def write_noise_report(reports: Path, sha: str, model: str = "tiny.pt") -> None:
    y = np.arange(70) % 7
    votes = votes_from_array(votes_rows(70))
    scores = agreement_metrics(y, (y + (np.arange(70) % 3 == 0)) % 7, votes, list(EMOTIONS), n_boot=20)
    items = [{"source": f"test/angry/PublicTest_{i}.jpg", "given": "angry", "suggested": "neutral", "score": s,
              "votes": [9, 0, 0, 0, 0, 0, 0, 1], "ferplus_majority": "angry", "agreement": 9}
             for i, s in enumerate((0.99, 0.9, 0.8))]
    report = {"kind": "label_noise", "dataset": "fer2013", "split": "PublicTest", "class_names": list(EMOTIONS),
              "n": 70, "n_flagged": 3, "method": {"filter_by": "both", "library": "cleanlab 2.9.0"},
              "probabilities": {"source": "models", "models": ["tiny.pt"]}, "items": items,
              "models": [{"model": model, "sha256": sha, "agreement": scores}], "command": "ferviz audit x",
              "votes_columns": [*EMOTIONS, "other"],
              "validation": {"precision_vs_ferplus": {"flagged_with_majority": 3, "majority_differs": 2,
                                                      "precision": 2 / 3, "base_rate": 0.3}}}
    folder = reports / "label_noise"
    folder.mkdir()
    (folder / "fer2013_publictest_label_noise.json").write_text(json.dumps(report))


def test_committed_report_shows_agreement_scores_and_the_mislabelled_table(app_env):  # noqa: F811
    shutil.rmtree(app_env)
    write_models_dir(app_env)
    write_noise_report(app_env / "reports", "0" * 64)
    at = page().run()
    assert not at.exception
    assert "Where people agree, and against the crowd's labels" in texts(at.subheader)
    import pyarrow as pa

    bands = next(d for d in at.dataframe if "annotators who agree" in d.value.columns)
    shown = pa.ipc.open_stream(bands.proto.arrow_data.styler.display_values).read_all().to_pandas()
    last = shown.iloc[-1]  # the no-majority row: the faces in no band counted, its empty cells as a dash
    in_bands = sum(int(n) for n in shown["faces"].iloc[:-1])
    assert (last["faces"], last["accuracy (%)"], last["errors"]) == (str(70 - in_bands), "—", "0")
    assert shown["faces"].iloc[0] == "24" and "None" not in shown.to_string()  # the 8-10 band of 70 faces
    low, high = (float(v) for v in shown["95 % interval"].iloc[0].strip("[]").split(","))
    assert low <= float(shown["accuracy (%)"].iloc[0]) <= high  # bounds alone, the estimate in its own column
    labels = [m.label for m in at.metric]
    assert "against the FER+ majority" in labels and "errors where people disagree" in labels
    # four metrics side by side on a 1280 px screen show 28 characters of label whole (and its help mark);
    # a 32-character one ended in "…"
    assert max(len(label) for label in labels[:4]) <= 28, labels
    assert "Likely mislabelled" in texts(at.subheader)
    assert "67 %" in texts(at.info) and "Checked against people" in texts(at.info)
    table = next(d.value for d in at.dataframe if "suggested" in d.value.columns)
    assert table["file"].tolist() == ["PublicTest_0.jpg", "PublicTest_1.jpg", "PublicTest_2.jpg"]
    assert "A committed report holds counts, not faces" in texts(at.caption)
    assert "Click a cell to see its faces" not in texts(at.caption)
    at.slider(key="noise_min_agreement").set_value(10).run()
    assert not at.exception and "0 faces." in texts(at.caption)


def test_fresh_fer2013_evaluation_joins_the_votes_and_opens_faces(app_env, tmp_path):  # noqa: F811
    x, y = synthetic_faces(84, seed=1)
    usage = np.array(["Training"] * 56 + ["PublicTest"] * 28)
    names = np.array([f"{'train' if u == 'Training' else 'test'}/{EMOTIONS[k]}/{u}_{i}.jpg"
                      for i, (u, k) in enumerate(zip(usage, y, strict=True))])
    data = tmp_path / "fer2013_small.npz"
    np.savez_compressed(data, images=x, labels=y, usage=usage, source_name=names)
    np.savez(tmp_path / "ferplus_votes.npz", votes=votes_rows(84), match=np.ones(84, np.int8), source_name=names)
    at = page().run()
    at.radio(key="eval_mode").set_value("run an evaluation").run()
    at.text_input(key="eval_data_path").input(str(data)).run()
    at.button(key="eval_run").click().run()
    assert not at.exception and not at.error
    assert "Where people agree, and against the crowd's labels" in texts(at.subheader)
    assert "Likely mislabelled" in texts(at.subheader)
    assert at.selectbox(key="run_cell_band").options[0] == "all faces"
    captions = texts(at.caption)
    assert "people: angry 9/10" in captions or "people: neutral 6/10" in captions or "no majority" in captions
    assert ".jpg · label" in captions  # each face says its file name
    at.selectbox(key="run_cell_order").set_value("agreement_low").run()
    assert not at.exception
    buttons = [b for b in at.button if str(b.key).startswith(("noise_explain_", "mistake_explain_"))]
    assert buttons
    buttons[0].click().run()
    assert not at.exception and "Open **Attention maps** from the sidebar." in texts(at.caption)


def test_a_checkpoint_the_noise_report_does_not_score_gets_the_command_that_adds_it(app_env):  # noqa: F811
    shutil.rmtree(app_env)
    write_models_dir(app_env)
    write_noise_report(app_env / "reports", "1" * 64, model="other.pt")  # scores another checkpoint only
    at = page().run()
    assert not at.exception
    info = next(i.value for i in at.info if "No committed label-noise report scores this checkpoint" in i.value)
    assert "--also-score models/tiny.pt" in info and "{model}" not in info


def test_a_report_of_an_earlier_file_of_the_same_name_says_to_make_it_again(app_env):  # noqa: F811
    shutil.rmtree(app_env)
    write_models_dir(app_env)
    write_noise_report(app_env / "reports", "1" * 64)  # scored tiny.pt as it was before (tiny.pt is now 0...0)
    at = page().run()
    assert not at.exception
    info = next(i.value for i in at.info if "scored an earlier" in i.value)
    assert "`tiny.pt` (sha256 `111111111111`)" in info and "this one (`000000000000`)" in info
    assert "ferviz audit x" in info  # the report's own command
