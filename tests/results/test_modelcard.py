"""Tests for ferviz.results.modelcard: the typed card, the committed cards, shipping, the home page's summary."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from ferviz.data.labels import EMOTIONS
from ferviz.errors import CheckpointError
from ferviz.model.checkpoint import card_path, file_sha256, load_checkpoint
from ferviz.results.metrics import compute_report
from ferviz.results.modelcard import ModelCard, ModelCardError, Stage, card_beside, read_card
from ferviz.results.shipping import card_markdown, ship
from ferviz.results.summary import (
    card_summary,
    details_frame,
    format_metric,
    ordered_metrics,
    reported_accuracy,
    settings_frame,
)
from ferviz.train.swa import average_checkpoints, save_averaged

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = sorted((ROOT / "models").glob("*.json"))


def write_card(checkpoint: Path, **extra) -> dict:
    """A hand-written model card beside ``checkpoint`` with a real metric report on made-up labels."""
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


def small_card(**changes) -> ModelCard:
    """A from-scratch card whose numbers can be checked by hand.

    Four images of two classes, ``a a b b`` predicted ``a b b b``: accuracy 3/4; class ``a`` has
    precision 1, recall 1/2 (F1 2/3), class ``b`` precision 2/3, recall 1 (F1 4/5): macro F1 11/15.
    """
    report = compute_report(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]), ["a", "b"],
                            meta={"dataset": "fer2013", "split": "PublicTest"})
    card = ModelCard(name="small", file="small.pt", variant="cnn_bilstm", sha256="ab" * 32, dataset="fer2013",
                     data_file="fer2013.npz", train_split="Training", selected_on="PublicTest",
                     recipe="paper", train_config={"epochs": 3, "lr": 0.001, "init": ""},
                     command="ferviz train --epochs 3", epochs=3, best_epoch=2, train_seconds=600,
                     images_per_s=250, machine="x86_64 (2 cores)",
                     stages=(Stage("ferviz train --epochs 3", 3, 2, 600),), total_train_seconds=600,
                     history=tuple({"epoch": float(e), "best": float(e < 3)} for e in (1, 2, 3)),
                     report=report.to_dict(), notes=("a note",))
    return replace(card, **changes)


def fine_tuned_card() -> ModelCard:
    """:func:`small_card` fine-tuned for 2 more epochs (5 min) from a 10-minute run, with a teacher."""
    first = Stage("ferviz train --epochs 3 --out runs/a", 3, 2, 600)
    second = Stage("ferviz train --epochs 2 --init runs/a/best.pt --teacher models/t.pt", 2, 2, 300,
                   init="runs/a/best.pt", teacher="models/t.pt")
    return small_card(stages=(first, second), total_train_seconds=900, train_seconds=300, epochs=2,
                      command=second.command, train_config={"kd_temperature": 4.0, "kd_alpha": 0.5})


# ---- the committed cards --------------------------------------------------------------------------

def test_the_shipped_models_have_cards():
    assert len(COMMITTED) >= 1


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.stem)
def test_a_committed_card_reads_and_writes_back_unchanged(path):
    card = read_card(path)
    assert card.to_dict() == json.loads(path.read_text())  # same keys and values (key order not compared)
    external = card.checkpoint.is_dir()  # a model of another format (models/faceapi/), carded by its own script
    assert card.path == path and card.checkpoint == path.with_suffix("" if external else ".pt")
    assert card.report is not None and card.metric_report().n == card.report["n"]
    markdown = path.with_suffix(".md")
    if markdown.is_file() and not external:  # the .md beside it was written from the same card
        assert card_markdown(card) == markdown.read_text()


# ---- the typed card -------------------------------------------------------------------------------

@pytest.mark.parametrize("card", [small_card(), fine_tuned_card(), small_card(notes=("one", "two")),
                                  small_card(notes=(), report=None)],
                         ids=["small", "fine-tuned", "notes", "bare"])
def test_a_card_round_trips_through_its_json(card):
    assert ModelCard.from_dict(card.to_dict()) == card
    assert ModelCard.from_dict(json.loads(json.dumps(card.to_dict()))) == card


def test_to_dict_writes_the_keys_in_ship_order_and_one_note_as_a_string():
    data = small_card().to_dict()
    assert list(data) == ["name", "file", "variant", "sha256", "dataset", "data_file", "train_split",
                          "selected_on", "recipe", "train_config", "command", "epochs", "best_epoch",
                          "train_seconds", "images_per_s", "machine", "stages", "total_train_seconds",
                          "history", "report", "notes"]
    assert data["notes"] == "a note" and small_card(notes=()).to_dict()["notes"] == ""
    assert data["stages"] == [{"command": "ferviz train --epochs 3", "epochs": 3, "best_epoch": 2,
                               "train_seconds": 600, "init": "", "teacher": ""}]
    data["train_config"]["lr"] = 1.0  # to_dict is a copy: the frozen card does not change
    assert small_card().train_config["lr"] == 0.001


def test_an_older_card_without_stages_still_reads(tmp_path):
    data = small_card().to_dict()
    del data["stages"], data["total_train_seconds"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data))
    card = read_card(path)
    assert card.stages == () and card.total_train_seconds is None and card.training_seconds == 600
    assert card.to_dict() == data  # written back without the two keys
    assert "fine-tuned" not in card_markdown(card)


def test_missing_keys_take_defaults_and_hand_written_lists_are_accepted(tmp_path):
    card = ModelCard.from_dict({"command": ["ferviz", "train"], "notes": ["one", "two"], "epochs": None},
                               tmp_path / "m.json")
    assert (card.name, card.file, card.checkpoint) == ("m", "m.pt", tmp_path / "m.pt")
    assert card.variant == "" and card.epochs is None and card.report is None and card.metric_report() is None
    assert card.command == "ferviz train" and card.notes == ("one", "two")
    assert ModelCard.from_dict({"name": "x"}).file == "x.pt"
    assert ModelCard.from_dict({"stages": [{"command": "c", "epochs": 3}]}).stages == (Stage("c", 3),)


@pytest.mark.parametrize(("text", "message"), [
    ("[1, 2]", "m.json: a model card must be a JSON object, got list"),
    ("{not json", "m.json: unreadable model card"),
    ('{"epochs": "3"}', "m.json: 'epochs' must be an integer, got str"),
    ('{"epochs": true}', "m.json: 'epochs' must be an integer, got bool"),
    ('{"train_seconds": "long"}', "m.json: 'train_seconds' must be a number"),
    ('{"name": 7}', "m.json: 'name' must be a string, got int"),
    ('{"report": [1]}', "m.json: 'report' must be an object, got list"),
    ('{"stages": [1]}', "m.json: 'stages' must be a list of objects"),
    ('{"stages": [{"epochs": 1}, {"epochs": "x"}]}', "m.json: stage 2: 'epochs' must be an integer"),
    ('{"notes": ["ok", 3]}', "m.json: 'notes' must be a string or a list of strings"),
])
def test_a_malformed_card_is_refused_naming_the_file(tmp_path, text, message):
    path = tmp_path / "m.json"
    path.write_text(text)
    with pytest.raises(ModelCardError) as info:
        read_card(path)
    assert str(info.value).startswith(message)
    assert isinstance(info.value, CheckpointError) and isinstance(info.value, ValueError)


def test_a_missing_card_file_is_refused_but_card_beside_gives_none(tmp_path):
    with pytest.raises(ModelCardError, match="absent.json: unreadable"):
        read_card(tmp_path / "absent.json")
    assert card_beside(tmp_path / "absent.pt") is None
    (tmp_path / "m.json").write_text(json.dumps(small_card().to_dict()))
    assert card_beside(tmp_path / "m.pt") == small_card()


# ---- the markdown card ----------------------------------------------------------------------------

def test_card_markdown_has_the_hand_checked_numbers():
    lines = card_markdown(small_card()).splitlines()
    assert lines[0] == "# small"
    assert "- accuracy **75.00 %**, macro-F1 **73.33 %** on PublicTest (4 images)" in lines
    assert "- recipe `paper`; 3 epochs, best at 2; 10 min on x86_64 (2 cores) (~250 img/s)" in lines
    assert f"- sha256 `{'ab' * 32}` (verified on load)" in lines
    assert not any("fine-tuned" in line or "distillation" in line for line in lines)
    block = lines[lines.index("Reproduce:") + 2:lines.index("Reproduce:") + 6]
    assert block == ["```", "ferviz train --epochs 3",
                     "ferviz ship --run <OUT> --name small --data <fer2013 copy>", "```"]
    # precision, recall, specificity, F1 in percent, then support; confusion rows true, columns predicted
    assert "| a | 100.0 | 50.0 | 100.0 | 66.7 | 2 |" in lines
    assert "| b | 66.7 | 100.0 | 50.0 | 80.0 | 2 |" in lines
    assert lines[-5:] == ["    1     1", "    0     2", "```", "", "a note"]


def test_card_markdown_of_a_fine_tuned_distilled_model_lists_every_stage():
    text = card_markdown(fine_tuned_card())
    assert ("- fine-tuned from `best.pt` of an earlier run (1 earlier stage(s), commands below; "
            "15 min of training in all)") in text
    assert "- knowledge distillation from teacher `t.pt` (T = 4.0, weight 0.5)" in text
    assert "```\nferviz train --epochs 3 --out runs/a\nferviz train --epochs 2 --init runs/a/best.pt" in text


# ---- shipping -------------------------------------------------------------------------------------

def test_ship_writes_the_card_it_returns(tiny_checkpoint, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    shutil.copyfile(tiny_checkpoint, run / "best.pt")
    (run / "run.json").write_text(json.dumps({
        "variant": "dcnn_bilstm_dam", "argv": ["ferviz", "train", "--epochs", "2"],
        "train": {"epochs": 2, "init": ""}, "meta": {"dataset": "npz", "data": "tiny.npz",
                                                    "train_split": "Training", "select_split": "PublicTest",
                                                    "recipe": "paper"}}))
    # two epochs, the first selected: 60.3 s in all, 110 images/s on average
    (run / "log.csv").write_text("epoch,accuracy,best,seconds,images_per_s\n"
                                 "1,0.2,1,30.4,100\n2,0.1,0,29.9,120\n")
    report = compute_report(np.arange(7), np.arange(7), list(EMOTIONS), meta={"dataset": "fer2013"})
    models = tmp_path / "models"
    card = ship(run, "tiny", lambda loaded: SimpleNamespace(report=report), models, notes="shipped by a test")
    assert card.path == models / "tiny.json" and read_card(card.path) == card
    assert json.loads(card.path.read_text()) == card.to_dict()
    assert (models / "tiny.md").read_text() == card_markdown(card)
    assert load_checkpoint(models / "tiny.pt").sha256 == card.sha256  # verified against the new card
    assert card.dataset == "fer2013"  # the report's dataset comes before the run's
    assert (card.data_file, card.selected_on, card.recipe) == ("tiny.npz", "PublicTest", "paper")
    assert (card.epochs, card.best_epoch, card.train_seconds, card.images_per_s) == (2, 1, 60, 110)
    assert card.stages == (Stage("ferviz train --epochs 2", 2, 1, 60),) and card.total_train_seconds == 60
    assert card.notes == ("shipped by a test",) and card.report["accuracy"] == 1.0


def test_a_card_carries_its_averaging_command_and_the_lever_table(tiny_checkpoint, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    shutil.copyfile(tiny_checkpoint, run / "swa.pt")
    (run / "run.json").write_text(json.dumps({"variant": "dcnn_bilstm_dam", "argv": ["ferviz", "train"],
                                              "train": {"epochs": 2, "init": ""}, "meta": {}}))
    (run / "log.csv").write_text("epoch,accuracy,best,seconds,images_per_s\n1,0.2,1,30,100\n")
    report = compute_report(np.arange(7), np.arange(7), list(EMOTIONS), meta={"dataset": "fer2013"})
    levers = [{"lever": "none (baseline)", "change": "", "budget": "16 epochs", "seeds": "0, 1",
               "accuracy": 50.5, "accuracy_std": 1.25, "delta_accuracy": 0.0, "delta_macro_f1": 0.0,
               "paired_p": None, "verdict": "the reference"},
              {"lever": "long", "change": "32 epochs", "budget": "32 epochs", "seeds": "0, 1",
               "accuracy": 54.0, "accuracy_std": None, "delta_accuracy": 3.5, "delta_macro_f1": -0.25,
               "paired_p": 0.0123, "verdict": "helps"}]
    models = tmp_path / "models"
    evaluate = lambda loaded: SimpleNamespace(report=report)  # noqa: E731
    with pytest.raises(CheckpointError, match="best.pt: no such checkpoint"):
        ship(run, "tiny", evaluate, models)
    card = ship(run, "tiny", evaluate, models, checkpoint="swa.pt", levers=levers)
    assert read_card(card.path) == card and card.run_file == "swa.pt" and card.levers == tuple(levers)
    text = card_markdown(card)
    assert "--name tiny --data <fer2013 copy> --checkpoint swa.pt" in text
    assert "| `long`: 32 epochs | 32 epochs | 0, 1 | 54.00 % | +3.50 | -0.25 | 0.012 | helps |" in text
    assert ("| `none (baseline)` | 16 epochs | 0, 1 | 50.50 ± 1.25 % | +0.00 | +0.00 |  | the reference |"
            in text)
    plain = replace(card, run_file="best.pt", levers=(), average_command="")
    assert not {"run_file", "levers", "average_command"} & set(plain.to_dict())  # older cards' shape
    assert "Training levers" not in card_markdown(plain) and "--checkpoint" not in card_markdown(plain)
    averaged = replace(card, average_command="ferviz average --run R --from-epoch 9 --out R/swa.pt")
    text = card_markdown(averaged)
    assert "ferviz average --run R --from-epoch 9 --out R/swa.pt\nferviz ship" in text
    assert "averaging window selected on" in text and "the mean of several epochs' weights (swa.pt" in text
    assert "best epoch selected on" in card_markdown(plain) and "best at 1;" in card_markdown(plain)
    ensemble = replace(plain, stages=(Stage("ferviz train", 1, 1, 30, init="a.pt",
                                            teacher="m/a.pt,m/b.pt,m/c.pt"),),
                       train_config={"kd_temperature": 4.0, "kd_alpha": 0.5})
    assert ("- knowledge distillation from the mean of 3 teachers (`a.pt`, `b.pt`, `c.pt`) (T = 4.0, "
            "weight 0.5)") in card_markdown(ensemble)


# ---- the home page's summary ----------------------------------------------------------------------

def test_without_a_card_the_checkpoint_speaks_for_itself(tiny_checkpoint):
    loaded = load_checkpoint(tiny_checkpoint)
    assert card_beside(tiny_checkpoint) is None
    summary = card_summary(loaded, None)
    assert summary.source == "checkpoint" and summary.name == "tiny"
    assert summary.variant == "dcnn_bilstm_dam" and summary.sha_short == loaded.sha256[:12]
    assert summary.metrics == {"accuracy": 0.0} and summary.per_class is None
    assert summary.dataset == "synthetic" and summary.labels == EMOTIONS
    assert summary.n_params == sum(p.numel() for p in loaded.model.parameters())
    assert "sha256" in set(details_frame(summary)["field"])


def test_a_card_with_a_report_gives_metrics_and_a_per_class_table(tiny_checkpoint):
    card = write_card(tiny_checkpoint)
    summary = card_summary(load_checkpoint(tiny_checkpoint), card_beside(tiny_checkpoint))
    assert summary.source == "model card" and summary.name == "tiny test model"
    assert summary.selected_on == "PublicTest" and summary.train_split == "Training"
    assert summary.command == "ferviz train --epochs 2" and summary.notes == ("made for a test",)
    assert summary.metrics["accuracy"] == pytest.approx(card["report"]["accuracy"])
    assert {"macro_f1", "balanced_accuracy"} <= set(summary.metrics)
    table = summary.per_class
    assert list(table.index) == list(EMOTIONS) and table["support"].sum() == 70
    rates = table[["precision", "recall", "f1"]]
    assert ((rates >= 0) & (rates <= 100)).all().all()
    fields = dict(details_frame(summary).values)
    assert fields["selected on split"] == "PublicTest" and fields["training time"] == "1.5 min"


def test_a_fine_tuned_card_lists_its_stages_and_their_total_time(tiny_checkpoint):
    stages = [{"command": "ferviz train --epochs 30", "epochs": 30, "train_seconds": 600},
              {"command": "ferviz train --epochs 8 --init a/best.pt", "epochs": 8, "train_seconds": 120}]
    write_card(tiny_checkpoint, stages=stages, total_train_seconds=720, epochs=8)
    summary = card_summary(load_checkpoint(tiny_checkpoint), card_beside(tiny_checkpoint))
    fields = dict(details_frame(summary).values)
    assert fields["epochs"].startswith("30 + 8") and fields["training time"] == "12.0 min"
    assert fields["command, stage 1"] == stages[0]["command"]
    assert fields["command, stage 2"] == stages[1]["command"]
    assert "command" not in fields
    # a parallel run beside the last stage: its epochs are not added to the chain
    stages.insert(1, {"command": "ferviz train --epochs 5 --init a/best.pt", "epochs": 5, "parallel": True})
    write_card(tiny_checkpoint, stages=stages, total_train_seconds=800, epochs=8)
    summary = card_summary(load_checkpoint(tiny_checkpoint), card_beside(tiny_checkpoint))
    fields = dict(details_frame(summary).values)
    assert fields["epochs"] == ("30 + 8 (the last beside 1 parallel run(s) of 5); each stage starts from the "
                                "previous one's shipped weights")
    assert fields["command, stage 2 (parallel run)"] == stages[1]["command"]


def test_an_unreadable_report_is_a_problem_not_a_crash(tiny_checkpoint):
    write_card(tiny_checkpoint, report={"accuracy": 0.5})
    summary = card_summary(load_checkpoint(tiny_checkpoint), card_beside(tiny_checkpoint))
    assert summary.per_class is None and summary.metrics == {"accuracy": 0.0}
    assert summary.problems and "report" in summary.problems[0]


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


def test_shipping_over_the_model_a_run_was_fine_tuned_from_keeps_its_stages(tiny_checkpoint, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    shipped = models / "tiny.pt"
    shutil.copyfile(tiny_checkpoint, shipped)
    earlier = [Stage("ferviz train --epochs 30", 30, 29, 4000).to_dict(),
               Stage("ferviz train --init a.pt --epochs 8", 8, 8, 700, init="a.pt").to_dict()]
    write_card(shipped, stages=earlier, total_train_seconds=4700)
    run = tmp_path / "run"
    run.mkdir()
    shutil.copyfile(tiny_checkpoint, run / "best.pt")
    (run / "run.json").write_text(json.dumps({
        "variant": "dcnn_bilstm_dam", "argv": ["ferviz", "train", "--init", str(shipped)],
        "train": {"epochs": 1, "init": str(shipped)}, "meta": {}}))
    (run / "log.csv").write_text("epoch,accuracy,best,seconds,images_per_s\n1,0.2,1,100,100\n")
    report = compute_report(np.arange(7), np.arange(7), list(EMOTIONS), meta={"dataset": "fer2013"})
    card = ship(run, "tiny", lambda loaded: SimpleNamespace(report=report), models)
    assert [s.epochs for s in card.stages] == [30, 8, 1]  # the replaced model's two stages, then this run
    assert card.total_train_seconds == 4800 and card.stages[-1].init == "models/tiny.pt"  # portable
    assert not any(s.average for s in card.stages) and "average" not in card.to_dict()["stages"][0]
    # the replaced model was itself an average of its run's epochs: its stage keeps that command
    write_card(shipped, stages=earlier, total_train_seconds=4700, average_command="ferviz average --run b")
    card = ship(run, "tiny", lambda loaded: SimpleNamespace(report=report), models)
    assert [s.average for s in card.stages] == ["", "ferviz average --run b", ""]
    assert read_card(card.path) == card
    assert ("ferviz train --init a.pt --epochs 8\nferviz average --run b\nferviz train --init"
            in card_markdown(card))


def test_an_average_of_two_runs_lists_the_parallel_run_before_the_shipped_one(tiny_checkpoint, tmp_path):
    """A soup of two runs from one start: the other run's command, epochs and time go into the card."""
    runs = {}
    for name, epochs, seconds in (("a", 2, 100), ("b", 3, 50)):
        run = runs[name] = tmp_path / name
        (run / "epochs").mkdir(parents=True)
        shutil.copyfile(tiny_checkpoint, run / "epochs" / f"epoch_{epochs:03d}.pt")
        (run / "run.json").write_text(json.dumps({
            "variant": "dcnn_bilstm_dam", "argv": ["ferviz", "train", "--out", name, "--init", "s.pt"],
            "train": {"epochs": epochs, "init": "s.pt"}, "meta": {}}))
        (run / "log.csv").write_text("epoch,accuracy,best,seconds,images_per_s\n" + "".join(
            f"{e},0.2,{int(e == 1)},{seconds},100\n" for e in range(1, epochs + 1)))
    out = runs["a"] / "swa.pt"
    save_averaged(average_checkpoints([runs["a"] / "epochs/epoch_002.pt", runs["b"] / "epochs/epoch_003.pt"]),
                  out, command="ferviz average --checkpoint a/epochs/epoch_002.pt --checkpoint b/...")
    report = compute_report(np.arange(7), np.arange(7), list(EMOTIONS), meta={"dataset": "fer2013"})
    card = ship(runs["a"], "tiny", lambda loaded: SimpleNamespace(report=report), tmp_path / "models",
                checkpoint="swa.pt")
    assert [(s.epochs, s.parallel) for s in card.stages] == [(3, True), (2, False)]
    assert card.total_train_seconds == 150 + 200 and card.train_seconds == 200
    assert card.to_dict()["stages"][0]["parallel"] is True and "parallel" not in card.to_dict()["stages"][1]
    assert read_card(card.path) == card
    text = card_markdown(card)
    assert ("- the weights also average 1 parallel run(s) of the last stage, from the same start (3 epochs; "
            "commands below)") in text
    assert "- fine-tuned from `s.pt` of an earlier run\n" in text  # no earlier stage: a parallel one is none
    assert ("ferviz train --out b --init s.pt\nferviz train --out a --init s.pt\nferviz average --checkpoint"
            in text)
    assert "(1 of run a: epoch_002.pt; 1 of run b: epoch_003.pt) of 2 runs" in card.notes[0]


def test_a_stage_parallel_flag_must_be_a_bool():
    with pytest.raises(ModelCardError, match="'parallel' must be true or false, got str"):
        Stage.from_dict({"command": "x", "parallel": "yes"}, "card.json: stage 2")
