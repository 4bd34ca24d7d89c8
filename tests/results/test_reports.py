"""Tests for ferviz.results.reports: discovering committed cards and reports, and the measured, reported and
published frames."""

import json
from pathlib import Path

import numpy as np
import pytest

from ferviz.data.datasets import FaceDataset
from ferviz.data.labels import EMOTIONS
from ferviz.results.evaluation import Evaluation
from ferviz.results.metrics import PAPER_METRICS, compute_report
from ferviz.results.modelcard import ModelCard
from ferviz.results.records import SOURCE_MEASURED, SOURCE_PUBLISHED, CVRecord, aligned_name, dataset_name, discover
from ferviz.results.reported import ANCHORS, STAND_INS
from ferviz.results.reports import cell_indices, comparison_frame, measured_frame, predictions_frame


def fake_report(rng_seed: int, /, **meta):
    rng = np.random.default_rng(rng_seed)
    y = np.arange(70) % 7
    probs = rng.dirichlet(np.ones(7), size=70)
    probs[np.arange(70), y] += 1.0  # mostly right
    probs /= probs.sum(1, keepdims=True)
    return compute_report(y, None, EMOTIONS, probs=probs, meta=meta)


def write_models_dir(root):
    """A models folder with one card, one uncarded checkpoint, four good reports and three bad files."""
    root.mkdir()
    (root / "reports").mkdir()
    card = {"name": "tiny", "file": "tiny.pt", "variant": "dcnn_bilstm_dam", "sha256": "0" * 64,
            "dataset": "npz", "train_split": "Training", "selected_on": "PublicTest", "recipe": "paper",
            "command": "ferviz train --data tiny.npz", "epochs": 3, "train_seconds": 12, "notes": "",
            "report": fake_report(0, dataset="fer2013", split="PublicTest", model="tiny.pt").to_dict()}
    (root / "tiny.json").write_text(json.dumps(card))
    (root / "tiny.pt").write_bytes(b"")
    (root / "other.pt").write_bytes(b"")
    reports = root / "reports"
    fake_report(1, model="tiny.pt", variant="dcnn_bilstm_dam", dataset="ckplus", split="all").to_json(
        reports / "tiny_ckplus.json")
    fake_report(2, model="lstm.pt", variant="cnn_lstm", dataset="fer2013", split="PublicTest",
                kind="comparison").to_json(reports / "lstm.json")
    fake_report(3, model="bilstm.pt", variant="cnn_bilstm", dataset="fer2013", split="PublicTest",
                kind="comparison").to_json(reports / "bilstm.json")
    folds = [{"fold": k, "n_test": 10, "accuracy": 0.5 + 0.1 * k, "macro_f1": 0.4, "subjects": ["S010"]}
             for k in range(2)]
    (reports / "cv.json").write_text(json.dumps({
        "kind": "cv", "dataset": "ckplus", "variant": "dcnn_bilstm_dam", "folds": folds,
        "accuracy_mean": 0.55, "accuracy_std": 0.07, "macro_f1_mean": 0.4, "macro_f1_std": 0.0}))
    (reports / "broken.json").write_text("{not json")
    (reports / "list.json").write_text("[1, 2]")
    (reports / "foreign.json").write_text(json.dumps({"accuracy": 0.9}))
    return root


@pytest.fixture
def models_dir(tmp_path):
    return write_models_dir(tmp_path / "models")


def test_discover_reads_cards_reports_and_cv_and_lists_what_it_skipped(models_dir):
    found = discover(models_dir)
    assert [c.name for c in found.cards] == ["tiny"]
    assert [p.name for p in found.uncarded] == ["other.pt"]
    assert sorted(r.path.name for r in found.reports) == ["bilstm.json", "lstm.json", "tiny_ckplus.json"]
    assert [type(c) for c in found.cv] == [CVRecord] and found.cv[0].dataset == "CK+"
    assert sorted(w.split(":")[0] for w in found.warnings) == ["broken.json", "foreign.json", "list.json"]
    assert all("skipped" in w for w in found.warnings)
    kinds = {r.path.name: r.kind for r in found.metric_records()}
    # no kind in meta: a FER2013 model scored on CK+ is recognised as cross-dataset
    assert kinds == {"tiny.json": "selection", "tiny_ckplus.json": "cross-dataset", "lstm.json": "comparison",
                     "bilstm.json": "comparison"}
    assert not found.empty


def test_cards_are_read_by_the_model_card_module_and_a_malformed_one_is_skipped(models_dir):
    card = json.loads((models_dir / "tiny.json").read_text())
    (models_dir / "bad.json").write_text(json.dumps({**card, "name": "bad", "epochs": "three"}))
    found = discover(models_dir)
    assert [type(c) for c in found.cards] == [ModelCard]
    assert found.cards[0].checkpoint == models_dir / "tiny.pt"
    bad = [w for w in found.warnings if w.startswith("bad.json")]
    assert len(bad) == 1 and "'epochs' must be an integer" in bad[0] and "skipped" in bad[0]
    assert [p.name for p in found.uncarded] == ["other.pt"]


def test_how_to_create_names_every_checkpoint(models_dir):
    lines = discover(models_dir).how_to_create()
    assert "ferviz ship --run <OUT> --name other --data <PATH>" in lines
    assert any(line.startswith("ferviz evaluate --model models/tiny.pt") and "--json models/reports/tiny.json"
               in line for line in lines)


def test_a_missing_folder_is_empty_not_an_error(tmp_path):
    found = discover(tmp_path / "absent")
    assert found.empty and not found.warnings
    assert "ferviz evaluate --model models/<name>.pt" in found.how_to_create()[0]
    frame = measured_frame(tmp_path / "absent")
    assert frame.empty and "source" in frame.columns
    assert set(comparison_frame(tmp_path / "absent")["source_kind"]) == {"reported", "published"}


def test_measured_frame_holds_percent_values_from_the_files(models_dir):
    frame = measured_frame(models_dir)
    assert set(frame["source"]) == {SOURCE_MEASURED}
    assert frame.attrs["warnings"] and len(frame.attrs["warnings"]) == 3
    card = frame[frame["file"] == "tiny.json"].set_index("metric")
    assert list(card.index) == list(PAPER_METRICS)
    expected = fake_report(0).paper_metrics()
    assert np.allclose(card["value"], [100 * expected[m] for m in PAPER_METRICS])
    assert card["dataset"].unique().tolist() == ["FER2013"]
    assert card["protocol"].iloc[0] == "PublicTest (selection)"
    cv = frame[frame["kind"] == "cv"].set_index("metric")
    assert cv.loc["accuracy", "value"] == pytest.approx(55.0)
    assert cv.loc["accuracy", "std"] == pytest.approx(7.0)
    assert cv.loc["accuracy", "n"] == 20
    assert frame["command"].str.startswith("ferviz").all()


def test_comparison_frame_keeps_sources_apart_and_aligns_stand_ins(models_dir):
    frame = comparison_frame(models_dir)
    kinds = frame.groupby("source_kind")["source"].unique()
    assert list(kinds["measured"]) == [SOURCE_MEASURED] and list(kinds["published"]) == [SOURCE_PUBLISHED]
    assert all(s.startswith("reported (Table ") for s in kinds["reported"])
    assert (frame["source_kind"] == "reported").sum() == 112
    assert (frame["source_kind"] == "published").sum() == len(ANCHORS)
    fer_acc = frame[(frame["dataset"] == "FER2013") & (frame["metric"] == "accuracy")]
    for paper_name, variant in STAND_INS.items():
        entry = aligned_name(variant)
        rows = fer_acc[fer_acc["entry"] == entry]
        assert paper_name in set(rows["paper_model"])
        if variant in {"cnn_lstm", "cnn_bilstm"}:  # measured in the fixture: same entry as the paper's row
            assert set(rows["source_kind"]) == {"measured", "reported"}
    proposed = fer_acc[fer_acc["entry"] == aligned_name("dcnn_bilstm_dam")]
    assert set(proposed["source_kind"]) == {"measured", "reported"}
    assert not frame.duplicated(["dataset", "metric", "entry", "series"]).any()


def test_dataset_and_model_names():
    assert dataset_name("ckplus") == "CK+" and dataset_name("npz") == "npz"
    assert aligned_name("cnn_lstm") == "HCNN-LSTM / cnn_lstm"
    assert aligned_name("spatial_only") == "spatial_only"


def fake_evaluation():
    y_true = np.array([0, 0, 1, 1, 2])
    probs = np.full((5, 3), 0.1)
    probs[[0, 1, 2, 3, 4], [0, 1, 1, 0, 2]] = [0.8, 0.6, 0.8, 0.7, 0.8]
    faces = np.zeros((5, 64, 64), np.uint8)
    ds = FaceDataset(faces, y_true.copy(), np.full(5, "test"), np.full(5, ""),
                     np.array([f"f{i}.png" for i in range(5)]), "npz")
    report = compute_report(y_true, None, ["angry", "disgust", "fear"],
                            probs=probs / probs.sum(1, keepdims=True))
    return Evaluation(ds, faces, y_true, probs / probs.sum(1, keepdims=True), report)


def test_per_item_views():
    ev = fake_evaluation()
    frame = predictions_frame(ev)
    assert list(frame.columns[:5]) == ["source", "true", "predicted", "confidence", "correct"]
    assert list(frame.columns[5:]) == ["p_angry", "p_disgust", "p_fear"]
    assert frame["correct"].tolist() == [True, False, True, False, True]
    assert np.allclose(frame.filter(like="p_").sum(axis=1), 1.0)
    assert cell_indices(ev, 0, 0).tolist() == [0] and cell_indices(ev, 1, 0).tolist() == [3]
    assert cell_indices(ev, 2, 0).size == 0


def test_a_crossval_summary_without_kind_is_read_as_cv(tmp_path):
    from ferviz.train.crossval import CVSummary

    folds = [{"fold": k, "n_test": 5, "accuracy": 0.6, "macro_f1": 0.5, "subjects": ["KA"]} for k in range(3)]
    (tmp_path / "reports").mkdir()
    summary = CVSummary("jaffe", "cnn_lstm", folds).to_dict()
    (tmp_path / "reports" / "summary.json").write_text(json.dumps(summary))
    found = discover(tmp_path)
    assert not found.warnings and found.cv[0].dataset == "JAFFE" and len(found.cv[0].folds_frame()) == 3


def test_ablation_frame_compares_each_ablation_with_the_full_model_at_the_same_budget(tmp_path):
    from ferviz.figures.compare import ablation_figure
    from ferviz.results.studies import ABLATIONS, ablation_frame

    (tmp_path / "reports").mkdir(parents=True)
    specs = [("dcnn_bilstm_dam", 4, 10), ("spatial_only", 4, 11), ("relu_gate", 4, 12), ("no_distill", 8, 13),
             ("cnn_bilstm", None, 14)]
    reports = {}
    for variant, epochs, seed in specs:
        reports[variant] = fake_report(seed, model="best.pt", variant=variant, dataset="fer2013",
                                       split="PublicTest", kind="ablation", epochs=epochs)
        reports[variant].to_json(tmp_path / "reports" / f"fer2013_ablation_{variant}.json")
    fake_report(15, model="x.pt", variant="spatial_only", dataset="fer2013", split="PublicTest",
                kind="comparison").to_json(tmp_path / "reports" / "not_an_ablation.json")
    frame = ablation_frame(tmp_path)
    assert len(frame) == 5 and set(frame["variant"]) == {v for v, _, _ in specs}
    four = frame[frame["epochs"] == 4]
    assert four.iloc[0]["variant"] == "dcnn_bilstm_dam" and four.iloc[0]["delta_accuracy"] == 0
    assert list(four["accuracy"].iloc[1:]) == sorted(four["accuracy"].iloc[1:], reverse=True)
    row = frame.set_index("variant").loc["spatial_only"]
    full = reports["dcnn_bilstm_dam"]
    assert row["delta_accuracy"] == pytest.approx(100 * (reports["spatial_only"].accuracy - full.accuracy))
    spatial_only = reports["spatial_only"]
    assert row["delta_macro_f1"] == pytest.approx(100 * (spatial_only.macro["f1"] - full.macro["f1"]))
    assert row["change"] == ABLATIONS["spatial_only"]
    other_budget = frame.set_index("variant").loc[["no_distill", "cnn_bilstm"]]
    assert other_budget["delta_accuracy"].isna().all()  # no full-model run with 8 (or unknown) epochs

    fig = ablation_figure(frame, "accuracy")
    bar = fig.data[0]
    assert len(bar.y) == 5 and list(bar.x) == sorted(bar.x)
    colours = dict(zip(bar.y, bar.marker.color, strict=True))
    texts = dict(zip(bar.y, bar.text, strict=True))
    assert colours["dcnn_bilstm_dam (4 ep)"] == "#8c8c8c" and texts["dcnn_bilstm_dam (4 ep)"] == "full model"
    assert texts["no_distill (8 ep)"] == "no reference" and texts["cnn_bilstm"] == "no reference"
    assert texts["spatial_only (4 ep)"] == f"{row['delta_accuracy']:+.2f} pp"
    assert colours["spatial_only (4 ep)"] == ("#2ca02c" if row["delta_accuracy"] > 0 else "#d62728")
    assert [s.x0 for s in fig.layout.shapes] == [pytest.approx(100 * full.accuracy)]
    assert ablation_frame(tmp_path / "missing").empty


def test_a_runs_best_pt_is_named_after_its_run_folder(tmp_path):
    from ferviz.results.records import run_name

    command = "ferviz evaluate --model /work/runs/ablation_no_distill/best.pt --split PublicTest"
    assert run_name({"model": "best.pt", "command": command}) == "ablation_no_distill/best.pt"
    bare = run_name({"model": "best.pt", "variant": "relu_gate"}, tmp_path / "r.json")
    assert bare == "best.pt (relu_gate run, r)"
    assert run_name({"model": "fer2013_cnn_bilstm.pt", "command": command}) == "fer2013_cnn_bilstm.pt"
    assert run_name({}) == ""
    (tmp_path / "reports").mkdir()
    fake_report(1, model="best.pt", variant="no_distill", dataset="fer2013", split="PublicTest",
                kind="ablation", command=command, sha256="ab" * 32).to_json(tmp_path / "reports" / "abl.json")
    (record,) = discover(tmp_path).reports
    assert record.model == "ablation_no_distill/best.pt" and record.sha256 == "ab" * 32
    expected = "ablation_no_distill/best.pt · FER2013 PublicTest (ablation, sha abababababab) — abl.json"
    assert record.label == expected


def test_the_picker_default_and_the_caveats_of_committed_records(models_dir):
    from ferviz.results.records import card_for, record_caveats, record_for_model

    found = discover(models_dir)
    records = found.metric_records()
    card_record = records[0]
    assert card_record.kind == "selection" and card_record.sha256 == "0" * 64  # from the card
    assert record_for_model(records, "0" * 64) == 0 and record_for_model(records, "f" * 64) == 0
    records = [*records[1:], card_record]
    assert record_for_model(records, "0" * 64) == len(records) - 1
    assert card_for(found, card_record).name == "tiny"
    (caveat,) = record_caveats(found, card_record)
    assert "**PublicTest**" in caveat and "optimistic" in caveat
    ckplus = next(r for r in found.reports if r.path.name == "tiny_ckplus.json")
    assert record_caveats(found, ckplus) == []  # another dataset than the card's


def test_ablation_spread_groups_seeds_and_says_one_seed(tmp_path):
    from ferviz.results.studies import ablation_frame, ablation_spread

    (tmp_path / "reports").mkdir()
    runs = [("dcnn_bilstm_dam", 0), ("dcnn_bilstm_dam", 1), ("dcnn_bilstm_dam", 2), ("relu_gate", 3),
            ("relu_gate", 4), ("no_distill", 5)]
    for k, (variant, seed) in enumerate(runs):
        fake_report(seed, model="best.pt", variant=variant, dataset="fer2013", split="PublicTest",
                    kind="ablation", epochs=4).to_json(tmp_path / "reports" / f"ablation_{k}.json")
    frame = ablation_frame(tmp_path)
    spread = ablation_spread(frame).set_index("variant")
    assert list(ablation_spread(frame)["variant"])[0] == "dcnn_bilstm_dam"
    assert spread.loc["dcnn_bilstm_dam", "runs"] == 3 and spread.loc["dcnn_bilstm_dam", "seeds"] == "3 seeds"
    assert spread.loc["no_distill", "seeds"] == "one seed"
    assert np.isnan(spread.loc["no_distill", "accuracy_std"])
    full = frame[frame["variant"] == "dcnn_bilstm_dam"]["accuracy"]
    assert spread.loc["dcnn_bilstm_dam", "accuracy"] == pytest.approx(full.mean())
    assert spread.loc["dcnn_bilstm_dam", "accuracy_std"] == pytest.approx(full.std(ddof=1))
    relu = frame[frame["variant"] == "relu_gate"]["accuracy"]
    assert spread.loc["relu_gate", "delta_accuracy"] == pytest.approx(relu.mean() - full.mean())
    assert spread.loc["dcnn_bilstm_dam", "delta_accuracy"] == 0
    assert ablation_spread(frame.iloc[0:0]).empty


def test_seed_reports_are_grouped_by_budget_and_paired_with_the_full_model(tmp_path):
    from ferviz.results.records import SEED_REPORTS
    from ferviz.results.significance import paired_seeds
    from ferviz.results.studies import ablation_frame, ablation_spread, seed_comparison

    seeds_dir = tmp_path / "reports" / SEED_REPORTS
    seeds_dir.mkdir(parents=True)
    for variant in ("dcnn_bilstm_dam", "cnn_bilstm"):
        for seed in (0, 1, 2):
            fake_report(10 * seed + len(variant), model="best.pt", variant=variant, dataset="fer2013",
                        split="PublicTest", kind="ablation", epochs=16, train_subset=5000, seed=seed).to_json(
                seeds_dir / f"{variant}_s{seed}.json")
    # one seed of the full model at another budget (all faces, 4 epochs): its own group, no pairing
    fake_report(99, model="best.pt", variant="dcnn_bilstm_dam", dataset="fer2013", split="PublicTest",
                kind="ablation", epochs=4).to_json(tmp_path / "reports" / "full_4ep.json")
    frame = ablation_frame(tmp_path)
    assert len(frame) == 7
    assert set(frame["budget"]) == {"16 epochs on 5,000 training faces", "4 epochs, all training faces"}
    spread = ablation_spread(frame)
    small = spread[spread["train_faces"] == 5000].set_index("variant")
    assert small.loc["dcnn_bilstm_dam", "runs"] == 3 and small.loc["cnn_bilstm", "seeds"] == "3 seeds"
    full = frame[(frame["variant"] == "dcnn_bilstm_dam") & (frame["train_faces"] == 5000)]
    plain = frame[frame["variant"] == "cnn_bilstm"]
    expected = paired_seeds(dict(zip(plain["seed"], plain["accuracy"], strict=True)),
                            dict(zip(full["seed"], full["accuracy"], strict=True)))
    assert small.loc["cnn_bilstm", "paired_seeds"] == 3
    assert small.loc["cnn_bilstm", "paired_p"] == pytest.approx(expected.p_value)
    delta = plain["accuracy"].mean() - full["accuracy"].mean()
    assert small.loc["cnn_bilstm", "delta_accuracy"] == pytest.approx(delta)
    assert np.isnan(small.loc["dcnn_bilstm_dam", "paired_p"])
    big = spread[spread["train_faces"].isna()]
    assert len(big) == 1 and big.iloc[0]["seeds"] == "one seed"  # the 4-epoch run is not mixed in
    pairs = seed_comparison(frame, "cnn_bilstm", "16 epochs on 5,000 training faces")
    assert pairs.p_value == pytest.approx(expected.p_value)
    assert seed_comparison(frame, "cnn_bilstm", "4 epochs, all training faces") is None


def report_with_accuracy(correct: int, /, **meta):
    """A 100-item report whose accuracy is exactly ``correct`` %."""
    y = np.arange(100) % 7
    pred = np.where(np.arange(100) < correct, y, (y + 1) % 7)
    return compute_report(y, pred, EMOTIONS, meta=meta)


def test_lever_table_pairs_each_lever_with_the_full_models_seed_runs(tmp_path):
    from ferviz.results.records import SEED_REPORTS
    from ferviz.results.studies import BASELINE_LEVER, lever_table
    from ferviz.train.levers import LEVER_REPORTS, LEVERS

    seeds_dir, levers_dir = tmp_path / "reports" / SEED_REPORTS, tmp_path / "reports" / LEVER_REPORTS
    seeds_dir.mkdir(parents=True)
    levers_dir.mkdir()
    budget = dict(model="best.pt", dataset="fer2013", split="PublicTest", train_subset=5000)
    for seed, acc in enumerate((50, 51, 52)):  # the baseline: the full model's seed runs
        report_with_accuracy(acc, variant="dcnn_bilstm_dam", kind="ablation", epochs=16, seed=seed,
                             **budget).to_json(seeds_dir / f"full_s{seed}.json")
        report_with_accuracy(40, variant="cnn_bilstm", kind="ablation", epochs=16, seed=seed,
                             **budget).to_json(seeds_dir / f"plain_s{seed}.json")  # not a baseline
    runs = [("ema", 16, 0, 52), ("ema", 16, 1, 52), ("ema", 16, 2, 55),  # differences 2, 1, 3
            ("long", 32, 0, 53), ("long", 32, 1, 54),  # 32 epochs: against the 16-epoch baseline
            ("mixup", 16, 5, 49)]  # a seed the baseline does not have
    for lever, epochs, seed, acc in runs:
        report_with_accuracy(acc, variant="dcnn_bilstm_dam", kind="lever", lever=lever, epochs=epochs,
                             seed=seed, **budget).to_json(levers_dir / f"{lever}_s{seed}.json")
    report_with_accuracy(60, variant="dcnn_bilstm_dam", kind="lever", lever="erase", epochs=16, seed=0,
                         **{**budget, "train_subset": 6000}).to_json(levers_dir / "erase_6000.json")
    table = lever_table(discover(tmp_path))
    assert list(table["lever"]) == [BASELINE_LEVER, "erase", "long", "ema", "mixup"]
    rows = table.set_index("lever")
    assert rows.loc[BASELINE_LEVER, "accuracy"] == pytest.approx(51) and rows.loc[BASELINE_LEVER, "runs"] == 3
    assert rows.loc[BASELINE_LEVER, "accuracy_std"] == pytest.approx(1.0)
    ema = rows.loc["ema"]
    assert ema["change"] == LEVERS["ema"] and ema["seeds"] == "0, 1, 2"
    assert ema["delta_accuracy"] == pytest.approx(2.0) and ema["paired_seeds"] == 3
    # t = 2 / (1 / sqrt 3) = 3.464 with 2 degrees of freedom: two-sided p = 0.0742 (t table)
    assert ema["paired_p"] == pytest.approx(0.0742, abs=5e-4)
    assert ema["verdict"] == "within seed noise (p = 0.07, 3 seeds)"
    long = rows.loc["long"]
    assert long["budget"] == "32 epochs on 5,000 training faces"
    assert long["baseline"] == "16 epochs on 5,000 training faces"
    assert long["delta_accuracy"] == pytest.approx(3)
    assert long["verdict"] == "helps (p = 0.000, 2 seeds)"  # the same +3 with both seeds
    mixup = rows.loc["mixup"]
    assert mixup["delta_accuracy"] == pytest.approx(49 - 51) and mixup["paired_seeds"] == 0
    assert mixup["verdict"] == "no shared seeds: not testable yet"
    assert rows.loc["erase", "verdict"] == "no baseline run at this budget"
    assert np.isnan(rows.loc["erase", "delta_accuracy"])


def test_lever_table_is_empty_without_lever_reports(models_dir):
    from ferviz.results.studies import LEVER_COLUMNS, lever_table

    table = lever_table(discover(models_dir))
    assert table.empty and list(table.columns) == LEVER_COLUMNS


def test_the_levers_script_trains_exactly_the_registered_levers():
    import re
    from pathlib import Path

    from ferviz.train.levers import LEVERS

    script = (Path(__file__).resolve().parents[2] / "scripts" / "levers.sh").read_text()
    default = re.search(r'LEVERS=\$\{LEVERS:-"([^"]+)"\}', script).group(1).split()
    cases = re.findall(r"^\s+([a-z_0-9.]+)\) echo", script, flags=re.M)
    assert default == list(LEVERS) == cases


def test_training_text_says_recipe_and_budget_from_the_card_or_the_report():
    from ferviz.results.modelcard import Stage
    from ferviz.results.reports import training_text

    one = ModelCard(name="a", file="a.pt", variant="cnn_bilstm", recipe="strong", epochs=30)
    assert training_text(one) == "recipe strong, 30 epochs"
    stages = (Stage(command="ferviz train --epochs 30", epochs=30),
              Stage(command="ferviz train --epochs 8 --teacher a.pt", epochs=8, teacher="a.pt"),
              Stage(command="ferviz train --epochs 18 --ema-decay 0.999 --erase 0.25", epochs=18,
                    teacher="a.pt,b.pt,c.pt,d.pt"))
    three = ModelCard(name="b", file="b.pt", variant="dcnn_bilstm_dam", recipe="strong",
                      epochs=18, stages=stages)
    assert training_text(three) == ("recipe strong, 56 epochs in 3 stages: 30 + 8 (distilled from 1 model) + "
                                    "18 (distilled from 4 models, EMA, random erasing)")
    assert training_text(None, {"epochs": 16, "train_subset": 5000, "seed": 2}) == \
        "16 epochs on 5,000 training faces, seed 2"
    assert training_text(None, {"epochs": 4}) == "4 epochs, all training faces"
    assert training_text(None, {}) == "not recorded"
    assert training_text(None, {"C": 0.01, "grid": [0.01, 0.1, 1.0]}) == \
        "linear SVM on HOG features, C = 0.01 chosen from 0.01, 0.1, 1.0"


def test_study_runs_stay_out_of_the_main_comparison(tmp_path):
    from ferviz.results.studies import STUDY_KINDS

    reports = tmp_path / "reports"
    reports.mkdir(parents=True)
    meta = dict(dataset="fer2013", split="PublicTest", variant="dcnn_bilstm_dam")
    report_with_accuracy(60, model="shipped.pt", kind="evaluation", **meta).to_json(reports / "shipped.json")
    report_with_accuracy(50, model="a.pt", kind="ablation", epochs=16, **meta).to_json(reports / "abl.json")
    report_with_accuracy(51, model="l.pt", kind="lever", lever="ema", epochs=16, **meta).to_json(
        reports / "lev.json")
    assert set(STUDY_KINDS) == {"ablation", "lever"}
    assert set(measured_frame(tmp_path)["model"]) == {"shipped.pt", "a.pt", "l.pt"}
    assert set(measured_frame(tmp_path, studies=False)["model"]) == {"shipped.pt"}
    ours = comparison_frame(tmp_path)
    assert set(ours.loc[ours["source"] == SOURCE_MEASURED, "model"]) == {"shipped.pt"}


def test_tta_reports_are_found_and_named_as_such_never_as_the_plain_number(tmp_path):
    from ferviz.results.records import TTA_REPORTS

    reports = tmp_path / "reports"
    (reports / TTA_REPORTS).mkdir(parents=True)
    meta = dict(dataset="fer2013", split="PublicTest", variant="dcnn_bilstm_dam", model="m.pt")
    report_with_accuracy(60, kind="evaluation", tta="none", **meta).to_json(reports / "plain.json")
    flip = report_with_accuracy(62, kind="evaluation", tta="flip", **meta)
    flip.to_json(reports / TTA_REPORTS / "flip.json")
    found = discover(tmp_path)
    by_tta = {r.tta: r for r in found.reports}
    assert set(by_tta) == {"none", "flip"}
    assert "+ TTA flip" in by_tta["flip"].label and "TTA" not in by_tta["none"].label
    frame = measured_frame(tmp_path)
    accuracy = frame[frame["metric"] == "accuracy"].set_index("model")["value"]
    assert accuracy["m.pt"] == pytest.approx(60, abs=1)
    assert accuracy["m.pt + TTA flip"] == pytest.approx(62, abs=1)
    protocol = frame.loc[frame["model"] == "m.pt + TTA flip", "protocol"].iloc[0]
    assert protocol == "PublicTest (evaluation, TTA flip)"


def test_tta_table_puts_each_tta_number_beside_the_plain_one_and_the_comparison_leaves_it_out(tmp_path):
    from ferviz.results.records import TTA_REPORTS
    from ferviz.results.reports import tta_table

    reports = tmp_path / "reports"
    (reports / TTA_REPORTS).mkdir(parents=True)
    meta = dict(dataset="fer2013", split="PublicTest", variant="dcnn_bilstm_dam", model="m.pt",
                sha256="a" * 64)
    report_with_accuracy(60, kind="evaluation", **meta).to_json(reports / "plain.json")
    report_with_accuracy(63, kind="evaluation", tta="flip", **meta).to_json(reports / TTA_REPORTS / "f.json")
    other = {**meta, "sha256": "b" * 64}  # another checkpoint: no plain number to pair with
    ten = report_with_accuracy(58, kind="evaluation", tta="ten_crop", **other)
    ten.to_json(reports / TTA_REPORTS / "t.json")
    table = tta_table(discover(tmp_path)).set_index("tta")
    assert table.loc["flip", "accuracy"] == pytest.approx(63)
    assert table.loc["flip", "plain_accuracy"] == pytest.approx(60)
    assert table.loc["flip", "delta_accuracy"] == pytest.approx(3)
    assert np.isnan(table.loc["ten_crop", "delta_accuracy"])
    assert set(measured_frame(tmp_path, studies=False)["model"]) == {"m.pt"}
    assert set(comparison_frame(tmp_path)["model"]) >= {"m.pt"}
    assert not any("TTA" in m for m in comparison_frame(tmp_path)["model"])


def test_every_committed_report_naming_a_shipped_model_scored_the_file_that_ships():
    """A model re-shipped under its name (a new sha256) has every committed report that names it made again:
    the Evaluate page finds a report by the checkpoint's sha256, so a stale one silently disappears."""
    from ferviz.paths import MODELS_DIR, file_name
    from ferviz.results.shipping import _named_shas, stale_reports

    shipped = {card.with_suffix(".pt").name for card in MODELS_DIR.glob("*.json") if card.with_suffix(".pt").is_file()}
    named = [model for path in (MODELS_DIR / "reports").rglob("*.json")
             for model, _ in _named_shas(json.loads(path.read_text(encoding="utf-8")))
             if file_name(model) in shipped]
    assert len(named) >= 10 and "real_dcnn_bilstm_dam.pt" in named  # the check below has something to check
    assert stale_reports(MODELS_DIR) == []


def test_stale_reports_names_the_reports_of_an_earlier_file_and_how_to_remake_them(tmp_path):
    from ferviz.results.shipping import stale_reports

    (tmp_path / "reports" / "deep").mkdir(parents=True)
    (tmp_path / "m.pt").write_bytes(b"weights")
    (tmp_path / "m.json").write_text(json.dumps({"sha256": "new"}))
    (tmp_path / "peer.json").write_text("[]")  # a JSON beside the models that is not a card
    (tmp_path / "other.pt").write_bytes(b"w")
    (tmp_path / "other.json").write_text(json.dumps({"sha256": "o"}))
    write = {"a.json": {"command": "ferviz audit x", "models": [{"model": "m.pt", "sha256": "old"}]},
             "b.json": {"meta": {"model": "runs/x/m.pt", "sha256": "new"}},  # the file that ships
             "deep/c.json": {"meta": {"model": "C:\\runs\\m.pt", "sha256": "old"}},
             "d.json": {"meta": {"model": "other.pt", "sha256": "older"}},
             "e.json": {"meta": {"model": "best.pt", "sha256": "old"}}}  # not a shipped file
    for name, data in write.items():
        (tmp_path / "reports" / name).write_text(json.dumps(data))
    (tmp_path / "reports" / "broken.json").write_text("{")
    found = [(path.relative_to(tmp_path).as_posix(), file, command)
             for path, file, command in stale_reports(tmp_path, "m")]
    assert found == [("reports/a.json", "m.pt", "ferviz audit x"), ("reports/deep/c.json", "m.pt", None)]
    assert [file for _, file, _ in stale_reports(tmp_path)] == ["m.pt", "other.pt", "m.pt"]  # a, d, deep/c


def test_models_readme_gives_every_committed_cross_dataset_report_its_measured_accuracy():
    from ferviz.paths import MODELS_DIR

    table = (MODELS_DIR / "README.md").read_text(encoding="utf-8").split("## Committed reports")[1]
    reports = sorted((MODELS_DIR / "reports").glob("*_on_*.json"))
    assert {p.stem for p in reports} >= {"real_dcnn_bilstm_dam_on_ckplus", "real_dcnn_bilstm_dam_on_jaffe",
                                          "fer2013_dcnn_bilstm_dam_on_ckplus", "faceapi_on_jaffe"}
    for path in reports:
        report = json.loads(path.read_text(encoding="utf-8"))
        assert report["meta"]["kind"] == "cross-dataset"
        row = next(line for line in table.splitlines() if f"`{path.name}`" in line)
        assert f"accuracy {100 * report['accuracy']:.2f} %" in row, path.name
        assert f"macro-F1 {100 * report['macro']['f1']:.2f} %" in row, path.name


@pytest.mark.parametrize("command,data,fmt", [
    ("ferviz evaluate --model m.pt --dataset npz --data $DATA/fer2013/a.npz --split PublicTest",
     "$DATA/fer2013/a.npz", "npz"),
    ("python -m ferviz evaluate --model faceapi --data '$DATA/ck plus/ck.npz' --kind cross-dataset",
     "$DATA/ck plus/ck.npz", "auto"),
    ("ferviz train --dataset npz --data a.npz --epochs 3; ferviz ship --run <OUT> --data <PATH>", "a.npz", "npz"),
])
def test_a_report_names_the_items_it_scored_from_its_command(tmp_path, command, data, fmt):
    from ferviz.results.records import ReportSource

    (tmp_path / "reports").mkdir()
    fake_report(0, model="m.pt", dataset="fer2013", split="PublicTest", tta="flip", command=command).to_json(
        tmp_path / "reports" / "r.json")
    record = discover(tmp_path).metric_records()[0]
    assert record.source() == ReportSource(data=data, dataset_format=fmt, split="PublicTest", tta="flip")


def test_a_report_without_data_or_with_a_broken_command_names_none(tmp_path):
    (tmp_path / "reports").mkdir()
    for name, command in (("a", "ferviz hog-svm --out x.json"), ("b", "ferviz evaluate --data 'unclosed")):
        fake_report(0, model="m.pt", dataset="fer2013", split="PublicTest", command=command).to_json(
            tmp_path / "reports" / f"{name}.json")
    assert [r.source() for r in discover(tmp_path).metric_records()] == [None, None]


def test_the_scored_data_is_found_in_the_reviewers_data_folder(tmp_path):
    from ferviz.results.records import ReportSource

    (tmp_path / "fer2013").mkdir()
    (tmp_path / "fer2013" / "a.npz").write_bytes(b"")

    def source(data):
        return ReportSource(data=data, dataset_format="npz", split="PublicTest", tta="none")

    assert source("$DATA/fer2013/a.npz").path(tmp_path) == tmp_path / "fer2013" / "a.npz"
    assert source("$DATA/fer2013/a.npz").path(None) is None and source("$DATA/fer2013/a.npz").path(" ") is None
    assert source("/abs/a.npz").path(None) == Path("/abs/a.npz")  # an absolute path needs no folder
    assert source("$DATA/fer2013/a.npz").locate(tmp_path) == tmp_path / "fer2013" / "a.npz"
    assert source("a.npz").locate(tmp_path) == tmp_path / "fer2013" / "a.npz"  # a bare name: one folder down
    assert source("$DATA/jaffe/j.npz").locate(tmp_path) is None
    assert source("other/a.npz").locate(tmp_path) is None  # a relative path is not searched for
