"""Tests for ferviz.results.reported: the transcribed tables, the anchors, and the identity audit."""

import pandas as pd
import pytest

from ferviz.results.metrics import PAPER_METRICS
from ferviz.results.reported import (
    ANCHORS,
    DATASETS,
    MODELS,
    PROPOSED,
    STAND_INS,
    TABLES,
    anchors_frame,
    consistency_audit,
    reported_frame,
    reported_table,
)


def value(frame, model, dataset, metric):
    row = frame[(frame.model == model) & (frame.dataset == dataset) & (frame.metric == metric)]
    assert len(row) == 1
    return row["value"].item()


def test_every_model_dataset_and_metric_is_present():
    frame = reported_frame()
    assert len(frame) == len(MODELS) * len(DATASETS) * len(PAPER_METRICS) == 112
    assert set(frame.metric) == set(PAPER_METRICS) and set(frame.dataset) == set(DATASETS)
    assert set(frame.model) == set(MODELS) and set(STAND_INS) == set(MODELS) - {PROPOSED}
    assert not frame.duplicated(["model", "dataset", "metric"]).any()
    assert frame["value"].between(0, 100).all()
    assert frame.loc[frame.metric == "far", "source"].unique().tolist() == ["reported (Table 10)"]
    assert [TABLES[m][0] for m in PAPER_METRICS] == [4, 5, 6, 7, 8, 9, 10]


def test_method_md_table_for_the_proposed_model():
    # docs/DESIGN.md §8, row by row.
    expected = {
        "accuracy": [82.89, 96.78, 95.78, 95.87], "specificity": [91.23, 94.52, 93.21, 93.27],
        "precision": [95.27, 97.54, 95.63, 95.26], "recall": [94.18, 96.67, 95.79, 95.22],
        "f1": [94.87, 96.79, 95.29, 94.35], "gar": [88.57, 97.23, 96.87, 96.32],
        "far": [7.23, 1.42, 1.96, 1.78],
    }
    table = reported_table(PROPOSED)
    assert list(table.columns) == list(DATASETS)
    for metric, row in expected.items():
        assert table.loc[metric].tolist() == row


def test_baseline_accuracy_matches_method_md():
    frame = reported_frame()
    expected = {"NGO-BiLSTM": [81.23, 93.12, 92.45, 91.02], "ICNN-BiLSTM": [80.14, 92.86, 93.78, 90.84],
                "HCNN-LSTM": [81.14, 89.82, 91.43, 90.27]}
    for model, row in expected.items():
        assert [value(frame, model, d, "accuracy") for d in DATASETS] == row


def test_transcription_agrees_with_the_papers_prose():
    # Figures quoted in the paper's text, independent of how the tables were read.
    frame = reported_frame()
    assert [value(frame, "NGO-BiLSTM", d, "recall") for d in DATASETS] == [93.46, 95.12, 94.28, 93.87]
    assert [value(frame, "HCNN-LSTM", d, "f1") for d in DATASETS] == [91.82, 91.76, 92.84, 90.78]
    assert [value(frame, "HCNN-LSTM", d, "far") for d in DATASETS] == [11.23, 7.35, 8.41, 7.82]
    f1_lead = [value(frame, PROPOSED, d, "f1") - value(frame, "NGO-BiLSTM", d, "f1") for d in DATASETS]
    assert f1_lead == pytest.approx([1.63, 2.51, 0.42, 0.51])
    spec_lead = [value(frame, PROPOSED, "FER2013", "specificity") - value(frame, m, "FER2013", "specificity")
                 for m in MODELS[:3]]
    assert spec_lead == pytest.approx([1.36, 3.3, 8.69])


def test_as_fraction_divides_by_100():
    pct, frac = reported_frame(), reported_frame(as_fraction=True)
    assert (frac["value"] * 100).tolist() == pytest.approx(pct["value"].tolist())


def test_unknown_model_raises():
    with pytest.raises(KeyError, match="Proposed"):
        reported_table("ResNet")


def test_audit_flags_fer2013():
    audit = consistency_audit()
    rows = audit[(audit.model == PROPOSED) & (audit.dataset == "FER2013")].set_index("metric")
    assert rows.loc["gar", ["value", "expected"]].tolist() == [88.57, 94.18]
    assert rows.loc["gar", "gap"] == pytest.approx(5.61)
    assert rows.loc["far", ["value", "expected"]].tolist() == [7.23, pytest.approx(8.77)]
    assert rows.loc["far", "gap"] == pytest.approx(1.54)
    assert rows.loc["far", "compared_with"] == "1 - specificity"
    assert set(rows["verdict"]) == {"violated"}
    assert len(audit) == len(MODELS) * len(DATASETS) * 2


def test_audit_tolerance_is_configurable():
    # Proposed CK+: GAR 97.23 vs recall 96.67, a gap of 0.56 points.
    def verdict(tol):
        audit = consistency_audit(tol=tol)
        hit = audit[(audit.model == PROPOSED) & (audit.dataset == "CK+") & (audit.metric == "gar")]
        return hit["verdict"].item()
    assert verdict(0.5) == "violated" and verdict(0.6) == "consistent"


def test_audit_micro_checks_precision_recall_against_accuracy():
    audit = consistency_audit(micro=True)
    fer = audit[(audit.model == PROPOSED) & (audit.dataset == "FER2013") & (audit.metric == "precision")]
    assert fer["expected"].item() == 82.89 and fer["verdict"].item() == "violated"
    assert len(audit) == len(MODELS) * len(DATASETS) * 5


def consistent_table(scale=100.0):
    rows = []
    for dataset, (acc, spec) in {"A": (0.80, 0.95), "B": (0.65, 0.9)}.items():
        metrics = {"accuracy": acc, "precision": acc, "recall": acc, "f1": acc, "gar": acc,
                   "specificity": spec, "far": 1 - spec}
        rows += [("mine", dataset, m, v * scale) for m, v in metrics.items()]
    return pd.DataFrame(rows, columns=["model", "dataset", "metric", "value"])


@pytest.mark.parametrize("scale", [100.0, 1.0])
def test_audit_passes_a_consistent_table(scale):
    audit = consistency_audit(consistent_table(scale), tol=0.5 * scale / 100, micro=True, scale=scale)
    assert len(audit) == 2 * 5 and set(audit["verdict"]) == {"consistent"}


def test_audit_skips_missing_metrics_and_rejects_duplicates():
    table = consistent_table()
    audit = consistency_audit(table[table.metric != "far"])
    assert audit["metric"].tolist() == ["gar", "gar"]
    with pytest.raises(ValueError, match="more than one value"):
        consistency_audit(pd.concat([table, table.head(1)]))
    with pytest.raises(ValueError, match="lacks column"):
        consistency_audit(table.drop(columns="value"))


def test_anchors():
    frame = anchors_frame()
    assert len(frame) == len(ANCHORS)
    assert {"name", "dataset", "protocol", "value", "source", "note"} <= set(frame.columns)
    assert set(frame.dataset) == {"FER2013", "RAF-DB", "CK+", "JAFFE"}
    assert all(a.source for a in ANCHORS)
    for a in ANCHORS:
        assert a.value is not None or (a.low is not None and a.high is not None)
    fer = anchors_frame("FER2013").set_index("name")
    assert fer.loc["VGG variant (Khaireddin & Chen)", "value"] == 73.28
    assert fer.loc["ResMaskingNet (ensemble of 7)", "value"] == 76.82
    assert anchors_frame("RAF-DB").set_index("name").loc["CF-DAN", "value"] == 92.78
