"""hog_svm and the NGO search behind ngo_bilstm, on synthetic faces."""

import json

import pytest

from ferviz.cli import main
from ferviz.model.baselines import hog_features, ngo_search, train_hog_svm
from ferviz.train.engine import TrainConfig
from tests.helpers import synthetic_faces


def test_hog_features_are_the_1764_descriptor():
    x, _ = synthetic_faces(3)
    assert hog_features(x).shape == (3, 1764)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_hog_svm_beats_chance_on_separable_faces():
    x, y = synthetic_faces(140, seed=0)
    params, report = train_hog_svm(x[:98], y[:98], x[98:], y[98:], grid=(0.1, 1.0))
    assert report.accuracy > 0.5  # chance is 1/7
    assert params["C"] in (0.1, 1.0) and len(params["coef"]) == 7
    assert report.meta["variant"] == "hog_svm"


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_hog_svm_command_writes_a_report(tiny_npz, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["hog-svm", "--data", str(tiny_npz), "--out", str(out)]) == 0
    assert json.loads(out.read_text())["meta"]["kind"] == "comparison"
    assert (tmp_path / "r.params.npz").is_file()


@pytest.mark.slow
def test_ngo_search_records_every_candidate(tmp_path):
    x, y = synthetic_faces(84, seed=2)
    base = TrainConfig(batch_size=8, max_steps=1, bf16=False, augment=False)
    summary = ngo_search(x[:56], y[:56], x[56:], y[56:], out_dir=tmp_path, population=2, iterations=1,
                         search_epochs=1, subset=32, base=base)
    assert summary["budget"]["evaluations"] == 2 * 3 == len(summary["candidates"])
    assert set(summary["best"]) == {"lr", "fc_hidden", "dropout"}
    assert (tmp_path / "search.json").is_file()
