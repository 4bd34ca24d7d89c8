"""Tests for ferviz.results.metrics: scikit-learn agreement, hand-computed values, identities, calibration, JSON."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from ferviz.data.labels import EMOTIONS
from ferviz.errors import FervizError
from ferviz.results.metrics import (
    COUNTS,
    PAPER_METRICS,
    RATES,
    MetricError,
    MetricReport,
    class_rates,
    compute_report,
    confusion,
    one_vs_rest,
    reliability,
)

# A tiny 3-class example, worked by hand below.
Y_TRUE = [0, 0, 0, 1, 1, 2]
Y_PRED = [0, 0, 1, 1, 2, 2]


def random_labels(seed: int, n: int = 400, k: int = 7):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, k, n)
    # Mostly right, sometimes wrong, so every rate lands strictly between 0 and 1.
    y_pred = np.where(rng.random(n) < 0.6, y_true, rng.integers(0, k, n))
    return y_true, y_pred


def random_probs(seed: int, n: int = 300, k: int = 5):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, k)) * 2
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return probs, rng.integers(0, k, n)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_agrees_with_sklearn(seed):
    y_true, y_pred = random_labels(seed)
    labels = list(range(7))
    report = compute_report(y_true, y_pred, EMOTIONS)
    np.testing.assert_array_equal(report.matrix(), skm.confusion_matrix(y_true, y_pred, labels=labels))
    p, r, f, s = skm.precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    frame = report.per_class_frame()
    np.testing.assert_allclose(frame["precision"], p)
    np.testing.assert_allclose(frame["recall"], r)
    np.testing.assert_allclose(frame["f1"], f)
    np.testing.assert_array_equal(frame["support"], s)
    for avg, ours in (("macro", report.macro), ("weighted", report.weighted)):
        p, r, f, _ = skm.precision_recall_fscore_support(y_true, y_pred, labels=labels, average=avg,
                                                         zero_division=0)
        assert (ours["precision"], ours["recall"], ours["f1"]) == pytest.approx((p, r, f))
    assert report.accuracy == pytest.approx(skm.accuracy_score(y_true, y_pred))
    assert report.scores["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y_true, y_pred))
    assert report.weighted["recall"] == pytest.approx(report.accuracy)  # weighted recall is micro recall


def test_probability_scores_agree_with_sklearn():
    probs, y_true = random_probs(3)
    report = compute_report(y_true, None, list("abcde"), probs=probs)
    labels = list(range(5))
    assert report.accuracy == pytest.approx(skm.accuracy_score(y_true, probs.argmax(axis=1)))
    assert report.scores["top2_accuracy"] == pytest.approx(
        skm.top_k_accuracy_score(y_true, probs, k=2, labels=labels))
    assert report.scores["nll"] == pytest.approx(skm.log_loss(y_true, probs, labels=labels))


def test_hand_computed_three_class_example():
    # Confusion (rows true): [[2, 1, 0], [0, 1, 1], [0, 0, 1]]; N = 6.
    # class 0: TP 2 FP 0 FN 1 TN 3 -> P 1, R 2/3, spec 1, F1 4/5, acc 5/6, FAR 0
    # class 1: TP 1 FP 1 FN 1 TN 3 -> P 1/2, R 1/2, spec 3/4, F1 1/2, acc 4/6, FAR 1/4
    # class 2: TP 1 FP 1 FN 0 TN 4 -> P 1/2, R 1, spec 4/5, F1 2/3, acc 5/6, FAR 1/5
    report = compute_report(Y_TRUE, Y_PRED, ["a", "b", "c"])
    assert report.confusion == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    frame = report.per_class_frame()
    assert frame[["tp", "fp", "fn", "tn", "support"]].values.tolist() == [[2, 0, 1, 3, 3], [1, 1, 1, 3, 2],
                                                                           [1, 1, 0, 4, 1]]
    np.testing.assert_allclose(frame["precision"], [1, 1 / 2, 1 / 2])
    np.testing.assert_allclose(frame["recall"], [2 / 3, 1 / 2, 1])
    np.testing.assert_allclose(frame["specificity"], [1, 3 / 4, 4 / 5])
    np.testing.assert_allclose(frame["f1"], [4 / 5, 1 / 2, 2 / 3])
    np.testing.assert_allclose(frame["accuracy"], [5 / 6, 4 / 6, 5 / 6])
    np.testing.assert_allclose(frame["far"], [0, 1 / 4, 1 / 5])
    assert report.accuracy == pytest.approx(4 / 6)
    assert report.macro["precision"] == pytest.approx(2 / 3)
    assert report.macro["recall"] == pytest.approx(13 / 18)
    assert report.macro["specificity"] == pytest.approx(51 / 60)
    assert report.macro["f1"] == pytest.approx(59 / 90)
    assert report.weighted["precision"] == pytest.approx(4.5 / 6)  # supports 3, 2, 1
    assert report.scores == pytest.approx({"balanced_accuracy": 13 / 18, "macro_f1": 59 / 90})
    assert report.paper_metrics()["accuracy"] == pytest.approx(4 / 6)


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 6).flatmap(lambda k: st.tuples(
    st.just(k), st.lists(st.tuples(st.integers(0, k - 1), st.integers(0, k - 1)), min_size=1, max_size=60))))
def test_identities_hold(case):
    k, pairs = case
    y_true, y_pred = (np.array(col) for col in zip(*pairs, strict=True))
    cm = confusion(y_true, y_pred, k)
    rates, counts = class_rates(cm), one_vs_rest(cm)
    np.testing.assert_array_equal(rates["gar"], rates["recall"])
    defined = counts["tn"] + counts["fp"] > 0  # specificity is 0/0 only if every sample is of this class
    np.testing.assert_allclose(rates["far"][defined], 1 - rates["specificity"][defined])
    np.testing.assert_array_equal(rates["far"][~defined], 0.0)
    assert all(((v >= 0) & (v <= 1)).all() for v in rates.values())
    assert (counts["tp"] + counts["fp"] + counts["tn"] + counts["fn"] == len(y_true)).all()


def test_zero_division_gives_zero():
    # class 1 present but never predicted; class 2 absent and never predicted.
    y_true, y_pred = [0, 0, 1, 1], [0, 0, 0, 0]
    report = compute_report(y_true, y_pred, ["a", "b", "c"])
    frame = report.per_class_frame()
    p, r, f, _ = skm.precision_recall_fscore_support(y_true, y_pred, labels=[0, 1, 2], zero_division=0)
    np.testing.assert_allclose(frame["precision"], p)
    np.testing.assert_allclose(frame["recall"], r)
    np.testing.assert_allclose(frame["f1"], f)
    assert frame.loc["b", ["precision", "recall", "f1", "gar"]].tolist() == [0, 0, 0, 0]
    assert frame.loc["c", ["precision", "recall", "specificity", "far"]].tolist() == [0, 0, 1, 0]
    assert report.macro["recall"] == pytest.approx(1 / 3)  # over all three classes
    assert report.scores["balanced_accuracy"] == pytest.approx(0.5)  # over the classes present in y_true


def test_single_class_and_empty_inputs():
    only = compute_report([0, 0, 0], [0, 0, 0], ["a", "b"])
    assert only.per_class[0]["specificity"] == 0.0 and only.per_class[0]["far"] == 0.0  # TN + FP == 0
    empty = compute_report(np.array([], dtype=int), np.array([], dtype=int), ["a", "b"])
    assert empty.n == 0 and empty.accuracy == 0.0 and empty.weighted["f1"] == 0.0


def test_json_round_trip(tmp_path):
    probs, y_true = random_probs(4, n=50, k=3)
    meta = {"dataset": "toy", "split": "test", "model": "tiny", "seed": 4, "tags": ["a", "b"]}
    report = compute_report(y_true, probs.argmax(axis=1), ["x", "y", "z"], probs=probs, meta=meta)
    assert MetricReport.from_dict(report.to_dict()) == report
    path = report.to_json(tmp_path / "report.json")
    assert MetricReport.from_json(path) == report
    assert json.loads(path.read_text())["scores"]["ece"] == report.scores["ece"]
    assert report.reliability["confidence"].count(None) > 0  # empty bins travel as null


def test_from_dict_rejects_foreign_dict():
    with pytest.raises(MetricError, match="not a MetricReport"):
        MetricReport.from_dict({"accuracy": 1.0})


def test_frames_and_table():
    report = compute_report(Y_TRUE, Y_PRED, ["a", "b", "c"], meta={"dataset": "toy"})
    assert list(report.per_class_frame().columns) == list(COUNTS + RATES)
    summary = report.summary_frame()
    assert set(summary["average"]) == {"overall", "macro", "weighted"}
    assert len(summary) == 1 + 2 + 2 * len(RATES)
    assert list(report.paper_metrics("weighted")) == list(PAPER_METRICS)
    text = report.format_table()
    assert "dataset=toy" in text and "weighted" in text and "66.67" in text


def test_ece_perfectly_calibrated_is_zero():
    # Confidence 0.8 on class 0 for ten samples, eight of which are class 0.
    probs = np.tile([0.8, 0.2], (10, 1))
    rel = reliability(probs, [0] * 8 + [1] * 2)
    assert rel.ece == pytest.approx(0.0, abs=1e-12)
    assert rel.counts.sum() == 10 and rel.counts[11] == 10  # 0.8 lies in (0.733, 0.8], bin 11 of 15


def test_ece_overconfident_hand_computed():
    # Bin (0.867, 0.933]: four samples at confidence 0.9, two right -> |0.5 - 0.9| * 4/6.
    # Bin (0.533, 0.6]: two samples at confidence 0.6, both right -> |1.0 - 0.6| * 2/6.
    probs = np.array([[0.9, 0.1]] * 4 + [[0.6, 0.4]] * 2)
    rel = reliability(probs, [0, 0, 1, 1, 0, 0])
    assert rel.ece == pytest.approx(0.4 * 4 / 6 + 0.4 * 2 / 6)
    frame = rel.frame().dropna()
    assert frame["count"].tolist() == [2, 4]
    assert frame["accuracy"].tolist() == pytest.approx([1.0, 0.5])
    assert frame["confidence"].tolist() == pytest.approx([0.6, 0.9])


def test_ece_in_report_matches_reliability():
    probs, y_true = random_probs(5)
    report = compute_report(y_true, None, list("abcde"), probs=probs)
    assert report.scores["ece"] == pytest.approx(reliability(probs, y_true).ece)
    assert 0 < report.scores["ece"] < 1


@pytest.mark.parametrize(("y_true", "y_pred", "match"), [
    ([0, 3], [0, 1], "outside"),
    ([0, 1, 1], [0, 1], "differ in length"),
    ([0.0, 1.0], [0, 1], "integer class indices"),
    ([[0, 1]], [[0, 1]], "1-D"),
])
def test_bad_labels_raise(y_true, y_pred, match):
    with pytest.raises(MetricError, match=match):
        confusion(y_true, y_pred, 3)


def test_bad_probs_raise():
    with pytest.raises(MetricError, match="softmax"):
        compute_report([0, 1], None, ["a", "b"], probs=[[2.0, -1.0], [0.5, 0.5]])
    with pytest.raises(MetricError, match="shape"):
        compute_report([0, 1], [0, 1], ["a", "b"], probs=[[1.0], [1.0]])
    with pytest.raises(FervizError, match="y_pred, or probs"):
        compute_report([0, 1], None, ["a", "b"])
