"""The command line: one-line errors, non-zero exits, JSON outputs, shipping with a verified card."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from skimage import data

from ferviz.cli import main
from ferviz.model.checkpoint import load_checkpoint
from ferviz.model.network import VARIANTS
from ferviz.paths import DEFAULT_MODEL


@pytest.fixture
def photos(tmp_path):
    good = tmp_path / "astronaut.png"
    Image.fromarray(data.astronaut()).save(good)
    bad = tmp_path / "notes.jpg"
    bad.write_text("this is not an image")
    return good, bad


def test_variants_lists_every_registered_name(capsys):
    assert main(["variants"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in VARIANTS)


def test_predict_reports_a_bad_file_in_one_line_and_still_processes_the_others(photos, tiny_checkpoint,
                                                                                 capsys):
    good, bad = photos
    assert main(["predict", str(bad), str(good), "--model", str(tiny_checkpoint), "--json"]) == 1
    captured = capsys.readouterr()
    err_lines = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert len(err_lines) == 1 and "notes.jpg" in err_lines[0]
    assert "Traceback" not in captured.err
    rows = json.loads(captured.out)
    assert len(rows) == 1 and rows[0]["image"].endswith("astronaut.png")
    assert rows[0]["status"] == "face" and rows[0]["detector_confidence"] > 0.6
    emotions = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    assert sum(rows[0][k] for k in emotions) == pytest.approx(1, abs=1e-4)


def test_predict_text_output(photos, tiny_checkpoint, capsys):
    assert main(["predict", str(photos[0]), "--model", str(tiny_checkpoint)]) == 0
    out = capsys.readouterr().out
    assert "1 face(s) found by yunet" in out and "detector 0.9" in out
    assert main(["predict", str(photos[0]), "--model", str(tiny_checkpoint), "--detector", "haar"]) == 0
    assert "found by haar" in capsys.readouterr().out


def test_predict_never_labels_a_picture_without_a_face(tmp_path, tiny_checkpoint, capsys):
    from PIL import Image
    from skimage import data

    cup = tmp_path / "cup.png"
    Image.fromarray(data.coffee()).save(cup)
    assert main(["predict", str(cup), "--model", str(tiny_checkpoint)]) == 0
    out = capsys.readouterr().out
    assert "no face found" in out and not any(e in out for e in ("happy", "sad", "neutral", "angry"))
    assert main(["predict", str(cup), "--model", str(tiny_checkpoint), "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["status"] == "no face found" and row["label"] == ""
    assert main(["predict", str(cup), "--model", str(tiny_checkpoint), "--fallback", "centre"]) == 0
    assert "centre crop (not a detected face)" in capsys.readouterr().out


@pytest.mark.skipif(not DEFAULT_MODEL.is_file(), reason="no shipped default model")
def test_predict_uses_the_shipped_model_by_default(photos, capsys):
    assert main(["predict", str(photos[0]), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["label"]


def test_evaluate_prints_a_table_and_writes_json(tiny_npz, tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "report.json"
    assert main(["evaluate", "--model", str(tiny_checkpoint), "--data", str(tiny_npz),
                 "--split", "PublicTest", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["n"] == 28 and len(report["confusion"]) == 7
    assert "macro" in capsys.readouterr().out.lower()


def test_bad_dataset_path_is_one_line_error(tmp_path, tiny_checkpoint, capsys):
    assert main(["evaluate", "--model", str(tiny_checkpoint), "--data", str(tmp_path / "nope.npz")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Traceback" not in err


def test_bad_checkpoint_is_one_line_error(tmp_path, photos, capsys):
    fake = tmp_path / "fake.pt"
    fake.write_bytes(b"\x00" * 10)
    assert main(["predict", str(photos[0]), "--model", str(fake)]) == 2
    assert "fake.pt" in capsys.readouterr().err


def test_train_then_ship_writes_a_verified_card(tiny_npz, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--dataset", "npz", "--data", str(tiny_npz), "--model", "cnn_bilstm",
                 "--epochs", "2", "--batch-size", "8", "--max-steps", "2", "--fp32", "--quiet",
                 "--out", str(run)]) == 0
    models = tmp_path / "models"
    assert main(["ship", "--run", str(run), "--name", "tiny", "--data", str(tiny_npz),
                 "--models-dir", str(models)]) == 0
    card = json.loads((models / "tiny.json").read_text())
    assert card["selected_on"] == "PublicTest" and card["report"]["n"] == 28
    assert card["epochs"] == 2 and "ferviz" in card["command"]
    loaded = load_checkpoint(models / "tiny.pt")  # sha256 verified against the card
    assert loaded.sha256 == card["sha256"]
    assert (models / "tiny.md").read_text().startswith("# tiny")
    # the card records repository-relative commands: no machine's absolute path
    for text in ((models / "tiny.json").read_text(), (models / "tiny.md").read_text()):
        assert str(tmp_path) not in text and f"--data {tmp_path.name}/tiny.npz" in text
    np.testing.assert_allclose(card["report"]["accuracy"], loaded.metrics["accuracy"], atol=1e-6)


def test_train_init_fine_tunes_from_a_run_and_records_it(tiny_npz, tmp_path, capsys):
    common = ["train", "--dataset", "npz", "--data", str(tiny_npz), "--model", "cnn_bilstm",
              "--batch-size", "8", "--max-steps", "2", "--fp32", "--quiet"]
    assert main([*common, "--epochs", "1", "--out", str(tmp_path / "a")]) == 0
    start = str(tmp_path / "a" / "best.pt")
    assert main([*common, "--epochs", "1", "--init", start, "--warmup-epochs", "0", "--lr", "1e-4",
                 "--out", str(tmp_path / "b")]) == 0
    train = load_checkpoint(tmp_path / "b" / "best.pt", verify=False).meta["train"]
    assert train["init"] == start and train["warmup_epochs"] == 0 and train["lr"] == 1e-4
    models = tmp_path / "models"
    assert main(["ship", "--run", str(tmp_path / "b"), "--name", "ft", "--data", str(tiny_npz),
                 "--models-dir", str(models)]) == 0
    card = json.loads((models / "ft.json").read_text())
    assert [s["init"] for s in card["stages"]] == ["", "a/best.pt"]  # made portable
    assert card["total_train_seconds"] == sum(s["train_seconds"] for s in card["stages"])
    text = (models / "ft.md").read_text()
    assert "fine-tuned from `best.pt`" in text
    assert text.index(f"--out {tmp_path.name}/a") < text.index(f"--out {tmp_path.name}/b")
    assert main([*common, "--model", "cnn_lstm", "--init", start, "--out", str(tmp_path / "c")]) == 2
    assert "differs" in capsys.readouterr().err


def test_reproduce_script_parses_and_uses_only_existing_options():
    """scripts/reproduce.sh, seeds.sh and levers.sh are bash-valid and every --option they pass exists on
    that ferviz subcommand."""
    import re
    import subprocess
    from pathlib import Path

    from ferviz.cli import build_parser

    scripts = Path(__file__).resolve().parent.parent / "scripts"
    text = ""
    for name in ("reproduce.sh", "seeds.sh", "levers.sh", "_budget.sh"):
        subprocess.run(["bash", "-n", str(scripts / name)], check=True)
        text += (scripts / name).read_text().replace("\\\n", " ") + "\n"
    subparsers = next(a for a in build_parser()._actions if a.choices and "train" in a.choices).choices
    uses = [(m.group(1), m.group(2)) for m in re.finditer(r"\bferviz (\w[\w-]*)([^;\n]*)", text)]
    # the scripts' shell helpers: train and distil call `ferviz train`, ship calls `ferviz ship`
    helpers = {"train": "train", "distil": "train", "ship": "ship"}
    uses += [(helpers[m.group(1)], m.group(2))
             for m in re.finditer(r"^\s*(?:\w+\)\s*)?(train|distil|ship) (.*)$", text, re.M)]
    assert sum(cmd == "ship" and "--checkpoint" in rest for cmd, rest in uses) >= 2  # ship4, ship5
    assert {cmd for cmd, _ in uses} >= {"train", "ship", "evaluate", "cv", "hog-svm", "ngo", "average"}
    from ferviz.results.audits import build_parser as audit_parser

    for cmd, rest in uses:
        parser = audit_parser() if cmd == "audit" else subparsers[cmd]  # audit has a parser of its own
        known = set(parser._option_string_actions)
        for flag in re.findall(r"(?<![\w-])--[a-z][\w-]*", rest):
            assert flag in known, f"reproduce.sh passes {flag} to `ferviz {cmd}`"


def test_ship_says_what_is_not_a_training_run(tmp_path, tiny_npz, capsys):
    models = ["--data", str(tiny_npz), "--models-dir", str(tmp_path / "models")]
    (tmp_path / "empty").mkdir()
    assert main(["ship", "--run", str(tmp_path / "empty"), "--name", "m", *models]) == 2
    assert "not a training run (no run.json)" in capsys.readouterr().err
    started = tmp_path / "started"  # killed before its first epoch ended: run.json, no log line yet
    started.mkdir()
    (started / "run.json").write_text(json.dumps({"variant": "cnn_lstm", "train": {}, "argv": []}))
    assert main(["ship", "--run", str(started), "--name", "m", *models]) == 2
    assert "no completed epoch in log.csv yet" in capsys.readouterr().err
    (started / "log.csv").write_text("epoch,best,seconds,images_per_s\n1,1,2.0,10\n")
    (started / "run.json").write_text("{}")
    assert main(["ship", "--run", str(started), "--name", "m", *models]) == 2
    assert "run.json lacks variant, train, argv" in capsys.readouterr().err
    assert not (tmp_path / "models").exists()


def test_predict_takes_videos_and_folders_and_writes_one_csv(tmp_path, tiny_checkpoint, capsys):
    from tests.pipeline.test_video import write_clip

    folder = tmp_path / "job"
    (folder / "sub").mkdir(parents=True)
    Image.fromarray(data.astronaut()).save(folder / "a.png")
    Image.fromarray(data.coffee()).save(folder / "sub" / "cup.jpg")
    write_clip(folder / "sub" / "clip.mp4", frames=6)
    (folder / ".hidden.png").write_bytes(b"x")
    (folder / "notes.txt").write_text("not picked up: not an image suffix")
    out = tmp_path / "all.csv"
    assert main(["predict", str(folder), "--model", str(tiny_checkpoint), "--every", "2", "--csv", str(out),
                 "--annotate", str(tmp_path / "ann")]) == 0
    text = capsys.readouterr().out
    assert "video, 3 of 6 frames processed, 1 face(s) followed" in text and "face #0" in text
    frame = pd.read_csv(out)
    assert set(frame["image"].map(lambda p: Path(p).name)) == {"a.png", "cup.jpg", "clip.mp4"}
    video = frame[frame["image"].str.endswith("clip.mp4")]
    assert sorted(video["frame"].unique()) == [0, 2, 4] and (video["track"] == 0).all()
    assert (frame.loc[frame["image"].str.endswith("cup.jpg"), "status"] == "no face found").all()
    assert (tmp_path / "ann" / "clip.annotated.mp4").stat().st_size > 0


def test_predict_reports_missing_paths_and_empty_folders(tmp_path, tiny_checkpoint, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["predict", str(tmp_path / "empty"), str(tmp_path / "nope.jpg"),
                 "--model", str(tiny_checkpoint)]) == 1
    err = capsys.readouterr().err
    assert "no image or video inside" in err and "nope.jpg: no such file or folder" in err
    assert "Traceback" not in err


def test_audit_subcommand_has_its_own_options(capsys):
    with pytest.raises(SystemExit) as done:
        main(["audit", "--help"])
    assert done.value.code == 0 and "--reference" in capsys.readouterr().out


def test_train_on_a_subset_records_it_and_evaluate_carries_it_into_the_report(tiny_npz, tmp_path):
    run = tmp_path / "run"
    assert main(["train", "--dataset", "npz", "--data", str(tiny_npz), "--model", "cnn_bilstm",
                 "--epochs", "1", "--batch-size", "8", "--max-steps", "1", "--fp32", "--quiet",
                 "--subset", "14", "--seed", "3", "--out", str(run)]) == 0
    loaded = load_checkpoint(run / "best.pt", verify=False)
    assert loaded.meta["train_subset"] == 14 and loaded.meta["train"]["seed"] == 3
    out = tmp_path / "r.json"
    assert main(["evaluate", "--model", str(run / "best.pt"), "--data", str(tiny_npz),
                 "--split", "PublicTest", "--kind", "ablation", "--json", str(out)]) == 0
    meta = json.loads(out.read_text())["meta"]
    assert meta["train_subset"] == 14 and meta["seed"] == 3 and meta["epochs"] == 1


@pytest.mark.skipif(not DEFAULT_MODEL.is_file(), reason="no shipped default model in models/")
def test_evaluate_without_model_uses_the_shipped_default(tiny_npz, tmp_path):
    out = tmp_path / "r.json"
    assert main(["evaluate", "--data", str(tiny_npz), "--split", "PublicTest", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["meta"]["model"] == DEFAULT_MODEL.name


def test_a_folder_of_mixed_sizes_is_resized_with_a_note_or_to_size(tmp_path, tiny_checkpoint, capsys, caplog):
    root = tmp_path / "CK+48"
    for k, (cls, side) in enumerate([("happy", 48), ("sadness", 60), ("anger", 52)]):
        (root / cls).mkdir(parents=True)
        gray = (np.random.default_rng(k).random((side, side)) * 255).astype(np.uint8)
        Image.fromarray(gray).save(root / cls / f"S01{k}_004_00000017.png")
    common = ["evaluate", "--model", str(tiny_checkpoint), "--dataset", "ckplus", "--data", str(root)]
    assert main(common) == 0
    assert "resized to 52x52" in caplog.text and "--size N" in caplog.text
    assert "n=3" in capsys.readouterr().out
    caplog.clear()
    assert main([*common, "--size", "48"]) == 0
    assert "resized" not in caplog.text


def test_evaluate_own_class_folders_as_crops_or_photos(tmp_path, tiny_checkpoint):
    """A reviewer's folder: happy/, Sad/, 3/ of mixed sizes in colour and grey, no release layout."""
    root = tmp_path / "reviewer"
    rng = np.random.default_rng(0)
    for k, (cls, shape) in enumerate([("happy", (48, 48)), ("Sad", (90, 90, 3)), ("3", (64, 64)),
                                      ("Angry", (50, 50, 3))]):
        (root / cls).mkdir(parents=True)
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(root / cls / f"{k}.jpg")
    base = ["evaluate", "--model", str(tiny_checkpoint), "--data", str(root)]
    out = tmp_path / "crops.json"
    assert main([*base, "--json", str(out)]) == 0
    meta = json.loads(out.read_text())["meta"]
    assert meta["dataset"] == "folder" and meta["n_items"] == 4 and "detector" not in meta
    out = tmp_path / "photos.json"
    assert main([*base, "--faces", "detect", "--json", str(out)]) == 0
    meta = json.loads(out.read_text())["meta"]
    assert meta["detector"] in ("yunet", "haar") and meta["n_no_face_detected"] == 4  # noise: centre squares
