"""Subject-grouped cross-validation: no subject in two folds, select on another fold, resumable."""

import json

import numpy as np
import pytest

from ferviz.cli import main
from ferviz.train.crossval import subject_folds
from tests.helpers import synthetic_faces


def test_subject_folds_never_split_a_subject():
    subjects = np.repeat([f"S{i:03d}" for i in range(12)], 5)
    folds = subject_folds(subjects, 4)
    assert sorted(np.concatenate(folds).tolist()) == list(range(60))
    seen = [set(subjects[f]) for f in folds]
    assert all(not (a & b) for i, a in enumerate(seen) for b in seen[i + 1:])
    with pytest.raises(ValueError, match="at least 13 subjects"):
        subject_folds(subjects, 13)


@pytest.mark.slow
def test_cv_command_writes_per_fold_reports_and_a_summary(tmp_path, capsys):
    x, y = synthetic_faces(60, seed=4)
    subjects = np.array([f"S{i % 6:03d}" for i in range(60)])
    data = tmp_path / "ck.npz"
    np.savez_compressed(data, images=x, labels=y, subject=subjects)
    out = tmp_path / "cv"
    args = ["cv", "--dataset", "npz", "--data", str(data), "--model", "cnn_bilstm", "--folds", "3",
            "--epochs", "1", "--batch-size", "8", "--max-steps", "1", "--fp32", "--quiet", "--out", str(out)]
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["kind"] == "cv" and len(summary["folds"]) == 3
    assert sum(f["n_test"] for f in summary["folds"]) == 60
    assert 0 <= summary["accuracy_mean"] <= 1
    assert "mean ± std" in capsys.readouterr().out
    run_json = json.loads((out / "fold_0" / "run.json").read_text())
    assert run_json["meta"]["protocol"].startswith("subject-grouped")
    mtime = (out / "fold_0" / "report.json").stat().st_mtime
    assert main(args) == 0  # finished folds are not trained again
    assert (out / "fold_0" / "report.json").stat().st_mtime == mtime


def test_cv_without_subjects_says_which_data_it_is_for(tmp_path):
    from ferviz.data.datasets import FaceDataset
    from ferviz.train.crossval import cross_validate
    from ferviz.train.engine import TrainConfig

    n = 6
    ds = FaceDataset(np.zeros((n, 48, 48), np.uint8), np.arange(n) % 3, np.full(n, ""), np.full(n, ""),
                     np.full(n, "x"), "folder")
    with pytest.raises(ValueError, match=r"6 of 6 items have none; .*CK\+.*JAFFE.*ferviz evaluate"):
        cross_validate(ds, variant="cnn_bilstm", train_cfg=TrainConfig(), out_dir=tmp_path, folds=2)
