"""Tests for ferviz.results.audits: the committed leakage and paired reports, written and read back by discover()."""

import json

import numpy as np
import pytest
import torch

from ferviz.data.datasets import load_dataset
from ferviz.data.labels import EMOTIONS
from ferviz.data.preprocess import Preprocessing
from ferviz.errors import FervizError
from ferviz.model.checkpoint import load_checkpoint, save_checkpoint
from ferviz.model.network import build_model
from ferviz.results.audits import (
    Scored,
    compare_evaluations,
    duplicates_of,
    leakage_name,
    leakage_report,
    main,
    paired_name,
    paired_report,
)
from ferviz.results.evaluation import evaluate
from ferviz.results.records import LeakageRecord, PairedRecord, discover
from ferviz.results.reports import paired_frame
from tests.helpers import TINY, synthetic_faces


def write_leaky_npz(path, n_train: int = 56, n_val: int = 28, copies: int = 4):
    """Like tests.helpers.write_npz, but the first ``copies`` PublicTest images are Training images."""
    x, y = synthetic_faces(n_train + n_val, seed=5)
    x[n_train:n_train + copies] = x[:copies]
    y[n_train:n_train + copies] = y[:copies]
    usage = np.array(["Training"] * n_train + ["PublicTest"] * n_val)
    sources = np.array([f"{u}_{i}.png" for i, u in enumerate(usage)])
    np.savez_compressed(path, images=x, labels=y, usage=usage, source_name=sources)
    return path


@pytest.fixture
def leaky_npz(tmp_path):
    return write_leaky_npz(tmp_path / "leaky.npz")


def tiny_model(path, seed: int, **meta):
    """An untrained tiny checkpoint trained, its meta says, on the 'npz' dataset (plus ``meta``)."""
    torch.manual_seed(seed)
    model = build_model("dcnn_bilstm_dam", **TINY).eval()
    return save_checkpoint(path, model, labels=list(EMOTIONS), preprocessing=Preprocessing(),
                           variant="dcnn_bilstm_dam", metrics={}, meta={"dataset": "npz", **meta})


def scored(y_true, y_pred, name):
    return Scored(name, "v", name * 4, np.asarray(y_true), np.asarray(y_pred), tuple(EMOTIONS))


def test_leakage_report_counts_names_and_scores(leaky_npz):
    ds = load_dataset("npz", leaky_npz)
    part, dups = duplicates_of(ds, "PublicTest")
    assert dups.exact[:4].all() and dups.counts()["exact"] == 4 and len(part) == 28
    y = part.labels
    right = y.copy()
    half = np.where(np.arange(28) % 2 == 0, y, (y + 1) % 7)  # right on even items (copies 0 and 2)
    models = [scored(y, right, "a.pt"), scored(y, half, "b.pt")]
    report = leakage_report(part, ds.split("Training"), dups, models,
                            split="PublicTest", reference_split="Training", command="cmd", n_boot=50)
    json.dumps(report, allow_nan=False)  # plain JSON
    assert report["kind"] == "leakage" and report["counts"]["exact"] == 4
    assert report["items"]["exact"][0] == ["PublicTest_56.png", "Training_0.png"]
    b = report["models"][1]
    assert b["accuracy"]["estimate"] == 0.5
    assert b["exact"]["duplicated"] == {"n": 4, "correct": 2, "accuracy": 0.5}
    assert b["exact"]["clean"]["n"] == 24 and b["exact"]["clean"]["accuracy"] == 0.5
    with pytest.raises(FervizError, match="scored on 3 items"):
        leakage_report(part, ds.split("Training"), dups, [scored(y[:3], y[:3], "c.pt")], split="PublicTest",
                       reference_split="Training")


def test_paired_report_and_names():
    y = np.arange(40) % 7
    a = y.copy()
    b = np.where(np.arange(40) < 10, (y + 1) % 7, y)
    report = paired_report(scored(y, a, "fer2013_x.pt"), scored(y, b, "fer2013_y.pt"), dataset="fer2013",
                           split="PublicTest", clean=np.arange(40) >= 5, clean_definition="no copy",
                           n_boot=50)
    assert report["all"]["test"]["a_only"] == 10 and report["all"]["test"]["b_only"] == 0
    assert report["clean"]["n"] == 35 and report["clean"]["test"]["a_only"] == 5
    assert paired_name("fer2013", "PublicTest", "fer2013_x.pt", "fer2013_y.pt") == \
        "fer2013_publictest_paired_x_vs_y.json"
    assert leakage_name("fer2013", "PublicTest") == "fer2013_publictest_leakage.json"
    with pytest.raises(FervizError, match="same items"):
        paired_report(scored(y, a, "x"), scored(y[:5], a[:5], "y"), dataset="d", split="s")


def test_main_writes_reports_that_discover_reads_back(tmp_path, leaky_npz, capsys):
    models = tmp_path / "models"
    (models / "reports").mkdir(parents=True)
    a, b = tiny_model(models / "npz_a.pt", 0), tiny_model(models / "npz_b.pt", 1)
    code = main(["--data", str(leaky_npz), "--split", "PublicTest", "--models", str(a), str(b),
                 "--out", str(models / "reports"), "--n-boot", "50"])
    assert code == 0 and "wrote" in capsys.readouterr().out
    found = discover(models)
    assert not found.warnings
    (leak,) = found.leakage
    (pair,) = found.paired
    assert isinstance(leak, LeakageRecord) and isinstance(pair, PairedRecord)
    assert leak.path.name == "npz_publictest_leakage.json" and leak.counts["exact"] == 4
    assert pair.path.name == "npz_publictest_paired_a_vs_b.json" and pair.all.n == 28 and pair.clean.n <= 24
    assert list(leak.frame()["model"]) == ["npz_a.pt", "npz_b.pt"]
    assert leak.data["command"].startswith("ferviz audit --data")
    frame = paired_frame(found=found)
    assert list(frame["items"]) == ["all", "clean (no training copy)"] and frame["n"].iloc[0] == 28
    entry = leak.entry(load_checkpoint(a).sha256)
    assert entry is not None and entry["model"] == "npz_a.pt" and leak.entry("f" * 64) is None


def test_main_reports_bad_input_in_one_line(tmp_path, capsys):
    assert main(["--data", str(tmp_path / "missing.npz"), "--models", "x.pt", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1


def test_discover_skips_a_malformed_leakage_report_with_a_warning(tmp_path):
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "bad_leak.json").write_text(json.dumps({"kind": "leakage", "dataset": "fer2013"}))
    (tmp_path / "reports" / "bad_pair.json").write_text(json.dumps({"kind": "paired", "dataset": "x",
                                                                    "split": "s", "all": {}}))
    found = discover(tmp_path)
    assert not found.leakage and not found.paired
    assert sorted(w.split(":")[0] for w in found.warnings) == ["bad_leak.json", "bad_pair.json"]


def test_compare_evaluations_needs_the_same_items(tmp_path, leaky_npz):
    a = load_checkpoint(tiny_model(tmp_path / "a.pt", 0))
    b = load_checkpoint(tiny_model(tmp_path / "b.pt", 1))
    part = load_dataset("npz", leaky_npz).split("PublicTest")
    ev_a, ev_b = evaluate(a, part), evaluate(b, part)
    comp = compare_evaluations(ev_a, ev_b, n_boot=50)
    assert comp.n == 28 and (comp.name_a, comp.name_b) == ("a.pt", "b.pt")
    assert compare_evaluations(ev_a, ev_b, clean=np.arange(28) >= 4, n_boot=50).n == 24
    with pytest.raises(FervizError, match="same items"):
        compare_evaluations(ev_a, evaluate(b, part.subset(np.arange(10))))
