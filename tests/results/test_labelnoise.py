"""Tests for ferviz.results.labelnoise and ``ferviz audit --label-noise``: known flipped labels are found."""

import json

import numpy as np
import pytest

from ferviz.errors import FervizError
from ferviz.results.audits import main as audit_main
from ferviz.results.labelnoise import (
    ensemble_probs,
    find_label_issues,
    flip_check,
    flip_labels,
    out_of_fold_probs,
    suggested_labels,
)
from tests.helpers import synthetic_faces


def confident_probs(labels, k, seed=0, right=0.8):
    """(N, K) probabilities of a good model: ``right`` of the mass (give or take) on the true class."""
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(k), len(labels)) * (1 - right)
    probs[np.arange(len(labels)), labels] += right
    return probs


def test_flipped_labels_are_found_and_ranked_first():
    truth = np.arange(700) % 7
    probs = confident_probs(truth, 7)
    noisy, flipped = flip_labels(truth, np.ones(700, bool), 0.05, 7, seed=3)
    assert flipped.sum() == 35 and (noisy[flipped] != truth[flipped]).all()
    assert (noisy[~flipped] == truth[~flipped]).all()
    issues = find_label_issues(noisy, probs)
    assert set(issues.index) <= set(np.flatnonzero(flipped)) and len(issues) >= 0.8 * 35  # no false alarm
    assert (issues.suggested == truth[issues.index]).all()  # the suggestion is the true class
    assert (issues.given == noisy[issues.index]).all()
    assert np.all(np.diff(issues.score) <= 0) and ((issues.score >= 0) & (issues.score <= 1)).all()
    assert issues.method["filter_by"] == "both" and "cleanlab" in issues.method["library"]
    assert issues.mask().sum() == len(issues) and issues.n == 700


def test_baseline_rule_and_suggestion_are_hand_checked():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.5, 0.4], [0.3, 0.3, 0.4], [0.6, 0.1, 0.3]])
    labels = np.array([0, 2, 2, 1])
    issues = find_label_issues(labels, probs, filter_by="predicted_neq_given")
    assert issues.index.tolist() == [3, 1]  # 1 - 0.1 = 0.9 first, then 1 - 0.4 = 0.6
    assert issues.suggested.tolist() == [0, 1]
    np.testing.assert_allclose(issues.score, [0.9, 0.6])
    assert suggested_labels(labels, probs).tolist() == [1, 1, 0, 0]


def test_bad_input_says_what_is_wrong():
    with pytest.raises(FervizError, match="must be"):
        find_label_issues([0, 1], np.ones((3, 2)) / 2)
    with pytest.raises(FervizError, match="index the 2 classes"):
        find_label_issues([0, 2], np.ones((2, 2)) / 2)
    with pytest.raises(FervizError, match="choose one of"):
        find_label_issues([0, 1], np.eye(2), filter_by="vote")
    with pytest.raises(FervizError, match="different items"):
        ensemble_probs([np.ones((2, 3)), np.ones((3, 3))])
    np.testing.assert_allclose(ensemble_probs([np.eye(2), np.ones((2, 2)) / 2]), [[0.75, 0.25], [0.25, 0.75]])


def test_flip_check_meets_the_target_on_a_good_model():
    truth = np.arange(1400) % 7
    probs = confident_probs(truth, 7, seed=1, right=0.6)
    clean = np.arange(1400) % 2 == 0
    check = flip_check(truth, probs, clean, fraction=0.05, seeds=(0, 1))
    assert check["n_candidates"] == 700 and len(check["runs"]) == 2
    assert all(r["flipped"] == 35 for r in check["runs"])
    assert check["recall_mean"] >= 0.6 and check["precision_mean"] >= 0.5  # the hidden check's targets


@pytest.mark.slow
def test_out_of_fold_probabilities_find_flips_in_generated_faces():
    x, y = synthetic_faces(280, seed=2)
    noisy, flipped = flip_labels(y, np.ones(280, bool), 0.05, 7, seed=0)
    probs = out_of_fold_probs(x, noisy, 7, folds=4, seed=0)
    assert probs.shape == (280, 7) and np.allclose(probs.sum(1), 1)
    issues = find_label_issues(noisy, probs)
    hits = flipped[issues.index].sum()
    assert hits >= 0.8 * flipped.sum() and hits >= 0.5 * len(issues)


@pytest.mark.slow
def test_audit_label_noise_writes_the_flagged_items(tmp_path, capsys):
    x, y = synthetic_faces(210, seed=4)
    noisy, flipped = flip_labels(y, np.ones(210, bool), 0.05, 7, seed=1)
    sources = np.array([f"face_{i}.png" for i in range(210)])
    np.savez_compressed(tmp_path / "d.npz", images=x, labels=noisy, usage=np.array(["train"] * 210),
                        source_name=sources)
    out = tmp_path / "out"
    assert audit_main(["--label-noise", "--dataset", "npz", "--data", str(tmp_path / "d.npz"), "--split", "train",
                       "--folds", "3", "--out", str(out)]) == 0
    report = json.loads((out / "npz_train_label_noise.json").read_text())
    assert report["kind"] == "label_noise" and report["n"] == 210 and report["probabilities"]["folds"] == 3
    assert report["command"].startswith("ferviz audit --label-noise")
    found = {item["source"] for item in report["items"]}
    assert len(found & set(sources[flipped])) >= 0.7 * flipped.sum()
    first = report["items"][0]
    assert set(first) == {"source", "given", "suggested", "score"} and first["given"] != first["suggested"]
    assert "flagged as probably wrong" in capsys.readouterr().out


def test_audit_without_models_or_label_noise_says_what_to_add(tmp_path, capsys):
    assert audit_main(["--data", str(tmp_path / "none.npz")]) == 2
    assert "--models is required" in capsys.readouterr().err


def test_validation_against_votes_is_hand_checked():
    from ferviz.data.ferplus import votes_from_array
    from ferviz.data.labels import EMOTIONS
    from ferviz.results.noise_report import validation

    n = 210
    truth = np.arange(n) % 7
    fer_col = np.array([4, 5, 6, 1, 3, 2, 0])  # FER+ column of each FER2013 class
    rows = np.zeros((n, 10), np.int16)
    rows[np.arange(n), fer_col[truth]] = 9
    rows[:, 8] = 1  # one 'unknown' vote each: 9 of 10 agree
    votes = votes_from_array(rows)
    labels = truth.copy()
    labels[:4] = (truth[:4] + 1) % 7  # four FER2013 labels the crowd disagrees with
    probs = confident_probs(truth, 7, seed=2)
    issues = find_label_issues(labels, probs)
    check = validation(issues, labels, probs, votes, list(EMOTIONS), seeds=(0, 1), study_fractions=[0.05, 0.1],
                       study_rules=["both"])
    vs = check["precision_vs_ferplus"]
    assert vs["base_rate"] == pytest.approx(4 / n)
    assert vs["majority_differs"] == int(np.isin(issues.index, [0, 1, 2, 3]).sum()) >= 3
    assert check["flip"]["n_candidates"] == n - 4  # the clean faces: label = majority, 9 of 10 agree
    assert [s["fraction"] for s in check["flip_study"]] == [0.05, 0.1]


@pytest.mark.slow
def test_also_scored_models_get_agreement_scores_but_do_not_move_the_flags(tmp_path):
    import torch

    from ferviz.data.labels import EMOTIONS
    from ferviz.data.preprocess import Preprocessing
    from ferviz.model.checkpoint import save_checkpoint
    from ferviz.model.network import build_model
    from tests.helpers import TINY

    n = 42
    x, y = synthetic_faces(n, seed=2)
    names = np.array([f"test/{EMOTIONS[k]}/PublicTest_{i}.jpg" for i, k in enumerate(y)])
    np.savez_compressed(tmp_path / "fer2013_small.npz", images=x, labels=y, usage=np.array(["PublicTest"] * n),
                        source_name=names)
    votes = np.zeros((n, 10), np.int16)  # FER+'s order: neutral happiness surprise sadness anger disgust ...
    votes[:, 0] = 6
    votes[:, 1] = 4
    np.savez(tmp_path / "ferplus_votes.npz", votes=votes, match=np.ones(n, np.int8), source_name=names)
    ckpts = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        model = build_model("dcnn_bilstm_dam", **TINY).eval()
        ckpts.append(str(save_checkpoint(tmp_path / f"m{seed}.pt", model, labels=list(EMOTIONS),
                                         preprocessing=Preprocessing(), variant="dcnn_bilstm_dam",
                                         metrics={"accuracy": 0.0}, meta={"dataset": "synthetic"})))
    common = ["--label-noise", "--dataset", "npz", "--data", str(tmp_path / "fer2013_small.npz"), "--n-boot", "20"]
    assert audit_main([*common, "--models", ckpts[0], "--out", str(tmp_path / "one")]) == 0
    assert audit_main([*common, "--models", ckpts[0], "--also-score", ckpts[1], "--out", str(tmp_path / "two")]) == 0
    one = json.loads((tmp_path / "one" / "fer2013_publictest_label_noise.json").read_text())
    two = json.loads((tmp_path / "two" / "fer2013_publictest_label_noise.json").read_text())
    assert two["probabilities"]["models"] == ["m0.pt"] and two["items"] == one["items"]
    assert [(m["model"], m["in_probabilities"]) for m in two["models"]] == [("m0.pt", True), ("m1.pt", False)]
    assert all(m["agreement"]["all"]["n"] == n for m in two["models"])


def _agreement(all_, agreed, ferplus, bands, errors):
    def acc(e, lo, hi):
        return {"accuracy": {"estimate": e, "low": lo, "high": hi}}
    return {"all": {"n": 10, **acc(*all_)}, "agreed": {"n": 6, **acc(*agreed)},
            "ferplus_majority": {"n": 9, **acc(*ferplus)},
            "bands": [{"band": name, "n": n, **acc(e, e, e)} for name, n, e in bands], "errors": errors}


def test_the_agreement_table_has_a_row_per_scored_model_and_marks_the_also_scored():
    from pathlib import Path

    from ferviz.results.noise_report import NoiseRecord, agreement_markdown

    bands = [("8-10 of 10 agree", 7, 0.857), ("5-7 of 10", 2, 0.5), ("4 or fewer", 1, 0.0)]
    models = [{"model": "a.pt", "in_probabilities": True,
               "agreement": _agreement((0.7, 0.61234, 0.8), (5 / 6, 0.7, 0.9), (0.66666, 0.5, 0.8), bands,
                                       {"8-10 of 10 agree": 1, "5-7 of 10": 1, "4 or fewer": 1, "total": 3})},
              {"model": "b.pt", "in_probabilities": False,
               "agreement": _agreement((0.5, 0.4, 0.6), (0.5, 0.4, 0.6), (0.5, 0.4, 0.6), bands,
                                       {"8-10 of 10 agree": 4, "no FER+ majority": 1, "total": 5})},
              {"model": "c.pt"}]  # no votes: not scored
    lines = agreement_markdown(NoiseRecord(Path("r.json"), {"models": models})).splitlines()
    assert lines[0] == ("| model | FER2013 labels (10) | where the FER2013 label is the FER+ majority (6) | "
                        "against the FER+ majority (9) | 8-10 of 10 agree (7) | 5-7 of 10 (2) | 4 or fewer (1) | "
                        "errors where people disagree |")
    assert lines[2] == ("| `a` | 70.00 % [61.2, 80.0] | 83.33 % [70.0, 90.0] | 66.67 % [50.0, 80.0] | 85.7 % | 50.0 % "
                        "| 0.0 % | 2 of 3 |")
    assert lines[3].startswith("| `b` (also scored) | 50.00 % [40.0, 60.0]") and lines[3].endswith("| 1 of 5 |")
    assert len(lines) == 4
    assert agreement_markdown(NoiseRecord(Path("r.json"), {"models": [models[2]]})) == ""


def test_the_readmes_carry_the_committed_agreement_table():
    from pathlib import Path

    from ferviz.results.noise_report import agreement_markdown, read_label_noise

    root = Path(__file__).resolve().parents[2]
    (record,), _ = read_label_noise(root / "models" / "reports")
    table = agreement_markdown(record)
    assert table.count("\n") == 6  # the header, its rule, and five models
    for readme in (root / "README.md", root / "models" / "reports" / "label_noise" / "README.md"):
        assert table in readme.read_text(encoding="utf-8"), readme


def test_an_entry_of_an_earlier_file_of_the_same_name_is_found_by_its_name():
    from pathlib import Path

    from ferviz.results.noise_report import NoiseRecord

    record = NoiseRecord(Path("r.json"), {"models": [{"model": "a.pt", "sha256": "old"},
                                                      {"model": "b.pt", "sha256": "bb"}]})
    assert record.earlier_entry("models/a.pt", "new") == {"model": "a.pt", "sha256": "old"}
    assert record.earlier_entry("a.pt", "old") is None  # the same file: not an earlier one
    assert record.earlier_entry("runs\\x\\c.pt", "new") is None and record.entry("bb")["model"] == "b.pt"
