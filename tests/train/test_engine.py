"""Training: it learns, logs, checkpoints atomically, resumes after SIGKILL, and runs data-parallel."""

import csv
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from ferviz.data.augment import AugmentConfig, augment_batch
from ferviz.data.labels import EMOTIONS
from ferviz.data.preprocess import Preprocessing, prepare_images
from ferviz.model.checkpoint import load_checkpoint, read_checkpoint
from ferviz.model.network import VARIANTS
from ferviz.train.engine import ArrayData, TrainConfig, Trainer, predict_probs, quick_scores
from tests.helpers import TINY, synthetic_faces, write_npz

ROOT = Path(__file__).resolve().parents[2]


def _data(n, seed):
    x, y = synthetic_faces(n, seed)
    return ArrayData(prepare_images(x, Preprocessing()), y)


def test_training_learns_a_separable_toy_problem(tmp_path):
    cfg = replace(VARIANTS["cnn_bilstm"], **TINY)
    train_cfg = TrainConfig(epochs=20, batch_size=16, lr=3e-3, bf16=False, augment=False, seed=0)
    trainer = Trainer(cfg, train_cfg, Preprocessing(), list(EMOTIONS), tmp_path)
    result = trainer.fit(_data(112, 0), _data(56, 1))
    assert result.best_score > 0.6  # chance is 1/7
    rows = list(csv.DictReader(open(tmp_path / "log.csv")))
    assert [int(r["epoch"]) for r in rows] == list(range(1, 21))
    best = load_checkpoint(tmp_path / "best.pt", verify=False)
    assert best.labels == list(EMOTIONS) and best.metrics["accuracy"] == pytest.approx(result.best_score)
    assert (tmp_path / "run.json").is_file()


def test_quick_scores_hand_values():
    probs = np.eye(3)[[0, 1, 1, 2]]
    scores = quick_scores(probs, np.array([0, 1, 2, 2]), 3)
    assert scores["accuracy"] == 0.75
    assert scores["macro_f1"] == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)


def test_augmentation_is_seeded_and_keeps_shape():
    x = torch.randn(4, 1, 64, 64)
    a = augment_batch(x, AugmentConfig(), torch.Generator().manual_seed(1))
    b = augment_batch(x, AugmentConfig(), torch.Generator().manual_seed(1))
    assert a.shape == x.shape and torch.equal(a, b)
    identity = AugmentConfig(rotate_deg=0, scale=0, shift=0, flip=0, brightness=0, contrast=0)
    torch.testing.assert_close(augment_batch(x, identity, torch.Generator()), x, atol=1e-4, rtol=0)


def test_predict_probs_rows_sum_to_one(tiny_checkpoint):
    loaded = load_checkpoint(tiny_checkpoint)
    probs = predict_probs(loaded.model, _data(10, 2).planes, loaded.preprocessing, batch_size=4)
    assert probs.shape == (10, 7)
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-5)


def _train_cmd(data, out, *extra):
    return [sys.executable, "-m", "ferviz", "train", "--dataset", "npz", "--data", str(data),
            "--out", str(out), "--epochs", "5", "--batch-size", "8", "--max-steps", "4", "--fp32", "--quiet",
            "--seed", "1", *extra]


def _weights(path):
    return read_checkpoint(path)["state_dict"]


@pytest.mark.slow
def test_resume_from_an_unreadable_last_pt_says_how_to_go_on(tmp_path):
    from ferviz.errors import CheckpointError

    trainer = Trainer(replace(VARIANTS["cnn_bilstm"], **TINY), TrainConfig(epochs=1, batch_size=8, bf16=False),
                      Preprocessing(), list(EMOTIONS), tmp_path)
    (tmp_path / "last.pt").write_bytes(b"junk")
    with pytest.raises(CheckpointError, match=r"--resume cannot continue from it: not a PyTorch checkpoint "
                                              r"\(4 bytes .*\)\. Move it away") as error:
        trainer.resume()
    assert "pick a" not in str(error.value)


def test_resume_after_sigkill_matches_an_uninterrupted_run(tmp_path):
    data = write_npz(tmp_path / "d.npz")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(_train_cmd(data, tmp_path / "ref"), check=True, env=env, cwd=ROOT, timeout=600)
    out = tmp_path / "killed"
    proc = subprocess.Popen(_train_cmd(data, out), env=env, cwd=ROOT)
    log = out / "log.csv"
    deadline = time.time() + 300
    while time.time() < deadline and (not log.exists() or len(log.read_text().splitlines()) < 3):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(log.read_text().splitlines()) - 1
    assert 2 <= done < 5, "the run should have been killed mid-way"
    state = read_checkpoint(out / "last.pt")  # never half-written
    assert state["meta"]["train_state"]["next_epoch"] >= done - 1  # at most one epoch lost
    subprocess.run(_train_cmd(data, out, "--resume"), check=True, env=env, cwd=ROOT, timeout=600)
    assert not list(out.glob(".*.tmp"))  # a temporary file cut short by the kill is cleaned up
    rows = list(csv.DictReader(open(log)))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4, 5]
    ref, got = _weights(tmp_path / "ref" / "last.pt"), _weights(out / "last.pt")
    for key in ref:
        torch.testing.assert_close(got[key], ref[key], atol=1e-5, rtol=1e-4)


@pytest.mark.slow
def test_torchrun_two_cpu_processes_agree_on_the_final_weights(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
           str(ROOT / "tests" / "ddp_worker.py"), str(tmp_path)]
    subprocess.run(cmd, check=True, env=env, cwd=ROOT, timeout=600)
    r0 = torch.load(tmp_path / "rank0_of_2.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1_of_2.pt", weights_only=True)
    for key in r0:
        torch.testing.assert_close(r0[key], r1[key])
    assert (tmp_path / "best.pt").is_file() and (tmp_path / "log.csv").is_file()  # rank 0 wrote them
    rows = list(csv.DictReader(open(tmp_path / "log.csv")))
    assert len(rows) == 2  # written once, by rank 0 only


def test_init_starts_from_a_checkpoint_and_refuses_a_different_architecture(tmp_path, tiny_checkpoint):
    from ferviz.errors import CheckpointError

    start = load_checkpoint(tiny_checkpoint, verify=False)
    cfg = replace(VARIANTS["dcnn_bilstm_dam"], **TINY)
    trainer = Trainer(cfg, TrainConfig(init=str(tiny_checkpoint)), Preprocessing(), list(EMOTIONS), tmp_path)
    theirs = start.model.state_dict()
    assert all(torch.equal(v, theirs[k]) for k, v in trainer.model.state_dict().items())
    fresh = Trainer(cfg, TrainConfig(seed=5), Preprocessing(), list(EMOTIONS), tmp_path)
    assert not all(torch.equal(v, theirs[k]) for k, v in fresh.model.state_dict().items())
    with pytest.raises(CheckpointError, match="fc_hidden"):
        Trainer(replace(cfg, fc_hidden=13), TrainConfig(init=str(tiny_checkpoint)), Preprocessing(),
                list(EMOTIONS), tmp_path)
    with pytest.raises(CheckpointError, match="predicts"):
        Trainer(cfg, TrainConfig(init=str(tiny_checkpoint)), Preprocessing(), list(EMOTIONS)[:6], tmp_path)
