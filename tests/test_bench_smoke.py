"""Smoke tests for bench/: every script's main() runs end to end at its smallest settings.

No timing is asserted (speed is measured by the scripts, not tested); these only keep the scripts from
rotting as the package changes: they run, print a table and write JSON with the machine beside the rows.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.fixture
def bench(monkeypatch):
    """Import a bench script the way ``python bench/X.py`` does: with bench/ first on sys.path.

    The scripts' ``--threads`` sets torch's process-wide thread count; it is restored afterwards.
    """
    monkeypatch.syspath_prepend(str(BENCH))
    threads = torch.get_num_threads()
    yield importlib.import_module
    torch.set_num_threads(threads)


def run_main(module, argv: list[str], out: Path) -> dict:
    assert module.main([*argv, "--threads", "1", "--json", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["machine"]["torch_threads"] == 1
    assert record["machine"]["cpu_model"]
    return record


def test_train_throughput_always_measures_the_baseline(bench, tmp_path, capsys):
    module = bench("train_throughput")
    argv = ["--variants", "cnn_lstm", "--precisions", "fp32", "--batch", "2", "--steps", "1", "--warmup", "0"]
    record = run_main(module, argv, tmp_path / "train.json")
    rows = record["results"]
    assert [(r["variant"], r["precision"]) for r in rows] == [("cnn_bilstm", "fp32"), ("cnn_lstm", "fp32")]
    assert rows[0]["ratio_vs_baseline"] == 1.0
    assert all(r["images_per_s"] > 0 and r["min_per_fer2013_epoch"] > 0 for r in rows)
    assert "vs cnn_bilstm fp32" in capsys.readouterr().out


def test_train_throughput_rejects_an_unknown_variant(bench, capsys):
    with pytest.raises(SystemExit):
        bench("train_throughput").main(["--variants", "no_such_model"])
    assert "unknown no_such_model" in capsys.readouterr().err


def test_inference_latency_covers_every_stage(bench, tmp_path, tiny_checkpoint):
    module = bench("inference_latency")
    argv = ["--model", str(tiny_checkpoint), "--repeats", "1", "--warmup", "0"]
    rows = run_main(module, argv, tmp_path / "latency.json")["results"]
    stages = [r["stage"] for r in rows]
    assert stages[0] == "(a) model, batch 1" and rows[0]["ratio_vs_model_b1"] == 1.0
    assert {"(b) predict_image, all stages", "(c) decode", "(c) detect + crop", "(c) preprocess",
            "(c) model + softmax"} <= set(stages)
    assert all(r["faces"] >= 1 and r["ms_per_face"] > 0 for r in rows)
    assert "(b) predict_image, one view only" not in stages  # a model without its own views


def test_inference_latency_times_a_models_own_views_against_one(bench, tmp_path, tiny_checkpoint):
    from ferviz.model.checkpoint import load_checkpoint
    from ferviz.train.adjust import save_adjusted, set_views

    flip = save_adjusted(set_views(load_checkpoint(tiny_checkpoint), "flip"), tmp_path / "flip.pt")
    argv = ["--model", str(flip), "--repeats", "1", "--warmup", "0"]
    rows = run_main(bench("inference_latency"), argv, tmp_path / "latency.json")["results"]
    stages = [r["stage"] for r in rows]
    assert "(b) predict_image, all stages" in stages and "(b) predict_image, one view only" in stages


def test_pcp_speed_compares_every_activation_with_relu(bench, tmp_path):
    module = bench("pcp_speed")
    argv = ["--shape", "4,9,8", "--repeats", "1", "--warmup", "0"]
    rows = run_main(module, argv, tmp_path / "pcp.json")["results"]
    assert [r["activation"] for r in rows] == ["relu", "gelu", "leaky_relu", "pcp"]
    assert rows[0]["forward_vs_relu"] == 1.0 and rows[0]["fwd_bwd_vs_relu"] == 1.0
    assert all(r["forward_ms"] > 0 and r["fwd_bwd_ms"] > 0 for r in rows)


def test_timing_reports_median_and_quartiles(bench):
    common = bench("common")
    calls = []
    timing = common.time_call(lambda: calls.append(1), repeats=5, warmup=2)
    assert len(calls) == 7
    assert timing.repeats == 5 and 0 <= timing.q1 <= timing.median <= timing.q3
    with pytest.raises(ValueError, match="repeats must be at least 1"):
        common.time_call(lambda: None, repeats=0)


@pytest.mark.slow
@pytest.mark.browser
def test_app_load_runs_with_the_smallest_settings(bench, tmp_path):
    from tests.browser import chromium_path

    if chromium_path() is None:
        pytest.skip("no system Chromium (apt-get install chromium)")
    rows = bench("app_load").main(["--users", "1", "--seconds", "5", "--single-rounds", "1",
                                   "--max-rounds", "1", "--json", str(tmp_path / "a.json")])
    assert [r["phase"].split(":")[0] for r in rows] == ["cold start", "cold start", "1 user", "1 users"]
    assert rows[2]["n"] == 1 and rows[3]["rss_after_mb"] > 0


def test_fast_inference_compares_every_engine_with_plain_torch(bench, tmp_path, tiny_checkpoint):
    record = run_main(bench("fast_inference"), ["--model", str(tiny_checkpoint), "--repeats", "2"],
                      tmp_path / "f.json")
    rows = record["results"]
    engines = {r["engine"] for r in rows}
    assert {"torch (plain)", "ONNX Runtime (ferviz.pipeline.fastpath)", "int8 dynamic (LSTM, Linear)"} <= engines
    plain = [r for r in rows if r["engine"] == "torch (plain)"]
    assert all(r["speedup"] == 1.0 and r["max_abs_dprob"] == 0.0 for r in plain)
    onnx = [r for r in rows if r["engine"] == "ONNX Runtime (ferviz.pipeline.fastpath)"]
    assert len(onnx) == 2 and all(r["max_abs_dprob"] <= 1e-4 for r in onnx)
    int8 = [r for r in rows if r["engine"] == "ONNX Runtime int8 static (QDQ)"]
    assert len(int8) == 2 and all(0 <= r["top1_changed"] <= 100 for r in int8)  # approximate: no parity bound


def test_detectors_counts_faces_on_composites(bench, tmp_path, tiny_checkpoint):
    argv = ["--model", str(tiny_checkpoint), "--repeats", "1"]
    record = run_main(bench("detectors"), argv, tmp_path / "d.json")
    detection = [r for r in record["results"] if r["part"] == "detection"]
    astronaut = [r for r in detection if r["set"] == "astronaut"]
    assert astronaut and all(r["found"] == 1 and r["false"] == 0 for r in astronaut)
    assert {r["part"] for r in record["results"]} == {"speed", "detection", "model"}


def test_video_clip_times_every_stride_against_every_frame(bench, tmp_path, tiny_checkpoint):
    argv = ["--model", str(tiny_checkpoint), "--seconds", "1", "--every", "2", "--sides", "320"]
    record = run_main(bench("video_clip"), argv, tmp_path / "v.json")
    rows = {r["run"]: r for r in record["results"]}
    assert set(rows) == {"decode only", "every 1, faces searched at 480", "every 2, faces searched at 480",
                         "every 2, faces searched at 320"}
    assert rows["every 1, faces searched at 480"]["speedup_vs_every_1"] == 1.0
    assert rows["every 2, faces searched at 480"]["frames_processed"] == 15
    assert all(r["video_seconds"] == 1.0 for r in rows.values())


def test_classroom_runs_one_user_against_one_replica_behind_nginx(bench, tmp_path):
    from ferviz.serve.deploy import find_nginx
    from tests.browser import chromium_path

    if chromium_path() is None or find_nginx() is None:
        pytest.skip("needs the system Chromium and nginx (apt-get install chromium nginx)")
    record = run_main(bench("classroom"), ["--users", "1", "--replicas", "1", "--seconds", "3",
                                           "--max-rounds", "1"], tmp_path / "c.json")
    (row,) = record["results"]
    assert row["replicas"] == 1 and row["users"] == 1 and row["rounds"] + row["errors"] == 1
    assert row["ratio_p50"] in (1.0, None) and len(row["rss_mb"]) == 1 and row["rss_mb"][0] > 50
    assert row["server_cpu_share"] is None or 0 < row["server_cpu_share"] <= 1.05  # ticks: a little slack


def test_cpu_accounting_reads_this_process(bench):
    import os
    import time

    module = bench("app_load")
    before, busy = module.cpu_seconds(os.getpid()), module.machine_busy_seconds()
    end = time.process_time() + 0.3
    while time.process_time() < end:  # burn 0.3 s of CPU
        pass
    assert module.cpu_seconds(os.getpid()) - before >= 0.2
    assert module.machine_busy_seconds() - busy >= 0.2


def test_attributions_times_every_method_and_the_page_work(bench, tmp_path, tiny_checkpoint):
    from ferviz.explain.attributions import METHODS

    record = run_main(bench("attributions"), ["--model", str(tiny_checkpoint), "--repeats", "1"],
                      tmp_path / "a.json")
    rows = {r["key"]: r for r in record["results"]}
    assert set(rows) == {*METHODS, "page: default selection, new face"}
    assert rows["saliency"]["ratio_vs_saliency"] == 1.0
    assert all(r["median"] > 0 for r in rows.values())


def test_concurrency_compares_thread_budgets_against_one_visitor(bench, tmp_path, tiny_checkpoint):
    record = run_main(bench("concurrency"), ["--model", str(tiny_checkpoint), "--users", "2", "--rounds", "2",
                                             "--budgets", "1,2"], tmp_path / "c.json")
    rows = record["results"]
    assert [r["threads_per_request"] for r in rows] == [1, 2]
    for r in rows:
        assert r["p50_one_ms"] > 0 and r["ratio"] == pytest.approx(r["p50_2_ms"] / r["p50_one_ms"])


def test_roofline_counts_flops_by_hand_and_sets_them_against_matmul(bench, tmp_path, tiny_checkpoint):
    module = bench("roofline")
    lstm = torch.nn.LSTM(128, 128, batch_first=True, bidirectional=True)
    # 2 directions x 81 steps x 2 FLOPs x 4 gates x 128 outputs x (128 inputs + 128 hidden)
    assert module.lstm_flops(lstm, 81) == 2 * 81 * 2 * 4 * 128 * 256 == 42_467_328
    conv = torch.nn.Conv2d(1, 2, 3)  # 2 x 3x3 kernels over a 4x4 input: 2 x 2x2 outputs x 9 MACs x 2
    assert module.model_flops(conv, torch.zeros(1, 1, 4, 4))["conv"] == 2 * 4 * 9 * 2
    argv = ["--model", str(tiny_checkpoint), "--repeats", "1", "--matmul", "64", "--widths", "4,4,8"]
    rows = run_main(module, argv, tmp_path / "roofline.json")["results"]
    matmuls = [r for r in rows if r["what"].startswith("matmul")]
    assert len(matmuls) == 4
    assert max(r["pct_of_fp32_peak"] for r in matmuls if "fp32" in r["what"]) == pytest.approx(100)
    nets = [r for r in rows if not r["what"].startswith("matmul")]
    assert [r["engine"] for r in nets] == ["torch", "onnx", "onnx"]
    for r in nets:
        assert r["flops"]["total"] == r["flops"]["conv"] + r["flops"]["matmul"] + r["flops"]["lstm"] > 0
        assert r["floor_ms"] == pytest.approx(r["target_needs_x_peak"])  # a 1-ms target: same number
    assert nets[2]["mflops_per_face"] < nets[1]["mflops_per_face"]  # narrower channels, fewer FLOPs
