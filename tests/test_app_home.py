"""The home page (AppTest) and the model card logic behind it (plain calls, tiny seeded model)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from ferviz.checkpoint import card_path, file_sha256, load_checkpoint
from ferviz.errors import CheckpointError
from ferviz.figures.card import (
    card_summary,
    details_frame,
    format_metric,
    ordered_metrics,
    read_card,
    reported_accuracy,
    settings_frame,
)
from ferviz.labels import EMOTIONS
from ferviz.metrics import compute_report
from ferviz.ui.predict import md_escape

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")


def write_card(checkpoint: Path, **extra) -> dict:
    """A model card beside ``checkpoint`` with a real metric report on made-up labels."""
    rng = np.random.default_rng(0)
    y_true = np.arange(70) % 7
    y_pred = np.where(rng.random(70) < 0.6, y_true, rng.integers(0, 7, 70))
    report = compute_report(y_true, y_pred, list(EMOTIONS), meta={"split": "PublicTest"})
    card = {"name": "tiny test model", "variant": "dcnn_bilstm_dam", "sha256": file_sha256(checkpoint),
            "dataset": "FER2013 (fer2013.csv)", "train_split": "Training", "selected_on": "PublicTest",
            "recipe": "paper", "command": ["ferviz", "train", "--epochs", "2"], "epochs": 2,
            "train_seconds": 90.0, "report": report.to_dict(), "notes": ["made for a test"], **extra}
    card_path(checkpoint).write_text(json.dumps(card))
    return card


# ---- the page -------------------------------------------------------------------------------------

def test_home_shows_the_shipped_models_card_and_the_reported_not_reproduced_note():
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception and not at.error
    loaded = load_checkpoint(ROOT / "models" / "fer2013_dcnn_bilstm_dam.pt")
    name = (read_card(loaded.path) or {}).get("name") or loaded.path.stem
    assert at.header[0].value == f"Model: {md_escape(name)}"
    assert any(md_escape(loaded.variant) in c.value and loaded.sha256[:12] in c.value for c in at.caption)
    assert at.metric or any("no measured metrics" in i.value for i in at.info)
    assert any("reported, not reproduced" in i.value for i in at.info)
    assert len(at.sidebar.selectbox) == 1  # the model picker
    assert any("Where next" in h.value for h in at.header)


def test_home_with_a_card_shows_its_metrics_and_per_class_table(tiny_checkpoint):
    write_card(tiny_checkpoint)
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.sidebar.selectbox[0].set_value("other file…").run()
    at.sidebar.text_input[0].input(str(tiny_checkpoint)).run()
    assert not at.exception and not at.error
    assert any("tiny test model" in h.value for h in at.header)
    assert [m.label for m in at.metric][:2] == ["Accuracy", "Macro F1"]
    assert any("82.89" in i.value for i in at.info)  # the card names FER2013: the paper's claim beside
    assert len(at.dataframe) >= 2  # per-class table and the data/recipe table


# ---- the card logic -------------------------------------------------------------------------------

def test_without_a_card_the_checkpoint_speaks_for_itself(tiny_checkpoint):
    loaded = load_checkpoint(tiny_checkpoint)
    assert read_card(tiny_checkpoint) is None
    summary = card_summary(loaded, None)
    assert summary.source == "checkpoint" and summary.name == "tiny"
    assert summary.variant == "dcnn_bilstm_dam" and summary.sha_short == loaded.sha256[:12]
    assert summary.metrics == {"accuracy": 0.0} and summary.per_class is None
    assert summary.dataset == "synthetic" and summary.labels == EMOTIONS
    assert summary.n_params == sum(p.numel() for p in loaded.model.parameters())
    assert "sha256" in set(details_frame(summary)["field"])


def test_a_card_with_a_report_gives_metrics_and_a_per_class_table(tiny_checkpoint):
    card = write_card(tiny_checkpoint)
    summary = card_summary(load_checkpoint(tiny_checkpoint), read_card(tiny_checkpoint))
    assert summary.source == "model card" and summary.name == "tiny test model"
    assert summary.selected_on == "PublicTest" and summary.train_split == "Training"
    assert summary.command == "ferviz train --epochs 2" and summary.notes == ("made for a test",)
    assert summary.metrics["accuracy"] == pytest.approx(card["report"]["accuracy"])
    assert {"macro_f1", "balanced_accuracy"} <= set(summary.metrics)
    table = summary.per_class
    assert list(table.index) == list(EMOTIONS) and table["support"].sum() == 70
    assert ((table[["precision", "recall", "f1"]] >= 0) & (table[["precision", "recall", "f1"]] <= 100)).all().all()
    fields = dict(details_frame(summary).values)
    assert fields["selected on split"] == "PublicTest" and fields["training time"] == "1.5 min"


def test_a_fine_tuned_card_lists_its_stages_and_their_total_time(tiny_checkpoint):
    stages = [{"command": "ferviz train --epochs 30", "epochs": 30, "train_seconds": 600},
              {"command": "ferviz train --epochs 8 --init a/best.pt", "epochs": 8, "train_seconds": 120}]
    write_card(tiny_checkpoint, stages=stages, total_train_seconds=720, epochs=8)
    fields = dict(details_frame(card_summary(load_checkpoint(tiny_checkpoint), read_card(tiny_checkpoint))).values)
    assert fields["epochs"].startswith("30 + 8") and fields["training time"] == "12.0 min"
    assert fields["command, stage 1"] == stages[0]["command"] and fields["command, stage 2"] == stages[1]["command"]
    assert "command" not in fields


def test_an_unreadable_report_is_a_problem_not_a_crash(tiny_checkpoint):
    write_card(tiny_checkpoint, report={"accuracy": 0.5})
    summary = card_summary(load_checkpoint(tiny_checkpoint), read_card(tiny_checkpoint))
    assert summary.per_class is None and summary.metrics == {"accuracy": 0.0}
    assert summary.problems and "report" in summary.problems[0]


def test_a_card_that_is_not_an_object_is_refused(tmp_path):
    model = tmp_path / "m.pt"
    card_path(model).write_text("[1, 2]")
    with pytest.raises(CheckpointError, match="JSON object"):
        read_card(model)
    card_path(model).write_text("{not json")
    with pytest.raises(CheckpointError, match="unreadable"):
        read_card(model)


def test_checkpoint_training_settings_are_flattened(tiny_checkpoint):
    loaded = load_checkpoint(tiny_checkpoint)
    loaded.meta["train"] = {"lr": 0.001, "schedule": {"name": "cosine", "warmup": 2}, "teacher": ""}
    frame = settings_frame(card_summary(loaded, None))
    assert dict(frame.values) == {"lr": "0.001", "schedule.name": "cosine", "schedule.warmup": "2"}


@pytest.mark.parametrize(("dataset", "expected"), [
    ("fer2013_trainval.npz", ("FER2013", 82.89)), ("RAF-DB basic", ("RAF-DB", 95.78)),
    ("CK+48", ("CK+", 96.78)), ("jaffe", ("JAFFE", 95.87)), ("synthetic", None), (None, None)])
def test_reported_accuracy_matches_the_papers_table_4(dataset, expected):
    assert reported_accuracy(dataset) == expected


def test_metric_formatting_and_order():
    assert format_metric("accuracy", 0.4327) == "43.3 %"
    assert format_metric("nll", 0.9) == "0.900"
    assert format_metric("epochs_seen", 12) == "12.000"
    keys = [k for k, _, _ in ordered_metrics({"zeta": 0.1, "macro_f1": 0.3, "accuracy": 0.4})]
    assert keys == ["accuracy", "macro_f1", "zeta"]
