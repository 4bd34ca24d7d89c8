"""Logit adjustment: the prior, the bias it folds into, refusals, the CLI and the card it ships with."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from ferviz.data.ferplus import LabelTargets
from ferviz.data.labels import EMOTIONS
from ferviz.data.preprocess import Preprocessing
from ferviz.errors import CheckpointError
from ferviz.model.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from ferviz.model.network import build_model
from ferviz.train.adjust import adjust_logits, describe_adjustment, label_prior, save_adjusted
from tests.helpers import TINY, run_cli, write_npz

PRIOR = np.array([0.5, 1 / 12, 1 / 12, 1 / 12, 1 / 12, 1 / 12, 1 / 12])


def _loaded(tmp_path, seed=0):
    torch.manual_seed(seed)
    model = build_model("dcnn_bilstm_dam", **TINY).eval()
    path = save_checkpoint(tmp_path / f"m{seed}.pt", model, labels=list(EMOTIONS), preprocessing=Preprocessing(),
                           variant="dcnn_bilstm_dam", meta={"labels": "fer2013"})
    return load_checkpoint(path, verify=False)


def _logits(loaded, x):
    with torch.no_grad():
        return loaded.model(x)


def test_adjusting_subtracts_tau_log_prior_from_every_logit(tmp_path):
    x = torch.randn(5, 1, 64, 64)
    plain = _loaded(tmp_path)
    before = _logits(plain, x)
    adjusted = adjust_logits(_loaded(tmp_path), 0.5, PRIOR)
    after = _logits(adjusted, x)
    torch.testing.assert_close(after, before - 0.5 * torch.log(torch.tensor(PRIOR, dtype=torch.float32)))
    # by hand: class 0 (share 1/2) loses 0.5 x log(6) = 0.8959 against class 1 (share 1/12)
    gap = (before[:, 0] - before[:, 1]) - (after[:, 0] - after[:, 1])
    torch.testing.assert_close(gap, torch.full((5,), 0.5 * float(np.log(6))), rtol=0, atol=1e-5)
    assert adjusted.meta["logit_adjustment"]["tau"] == 0.5
    assert adjusted.meta["logit_adjustment"]["prior"]["angry"] == 0.5


def test_tau_zero_is_the_model_as_trained_and_a_uniform_prior_keeps_every_decision(tmp_path):
    x = torch.randn(6, 1, 64, 64)
    before = _logits(_loaded(tmp_path), x)
    torch.testing.assert_close(_logits(adjust_logits(_loaded(tmp_path), 0.0, PRIOR), x), before)
    uniform = adjust_logits(_loaded(tmp_path), 1.0, np.full(7, 1 / 7))
    assert torch.equal(_logits(uniform, x).argmax(1), before.argmax(1))


def test_a_strong_enough_adjustment_moves_a_decision_to_the_rare_class(tmp_path):
    loaded = _loaded(tmp_path)
    x = torch.randn(1, 1, 64, 64)
    z = _logits(loaded, x)[0]
    top = int(z.argmax())
    rare = int(z.argsort()[-2])  # the runner-up
    prior = np.full(7, 0.6)  # every class as common as the top one, but the runner-up: six times rarer
    prior[rare] = 0.1
    prior /= prior.sum()
    tau = 1.01 * float(z[top] - z[rare]) / float(np.log(prior[top] / prior[rare]))  # just past the tie
    assert int(_logits(adjust_logits(loaded, tau, prior), x)[0].argmax()) == rare


def test_bad_adjustments_are_refused_with_what_to_do(tmp_path):
    loaded = adjust_logits(_loaded(tmp_path), 0.3, PRIOR)
    with pytest.raises(CheckpointError, match="already adjusted .*checkpoint it was made from"):
        adjust_logits(loaded, 0.3, PRIOR)
    with pytest.raises(CheckpointError, match="finite number >= 0"):
        adjust_logits(_loaded(tmp_path), -1.0, PRIOR)
    with pytest.raises(CheckpointError, match="7 positive class shares"):
        adjust_logits(_loaded(tmp_path), 0.5, PRIOR[:6])
    with pytest.raises(CheckpointError, match="7 positive class shares"):
        adjust_logits(_loaded(tmp_path), 0.5, np.zeros(7))
    headless = _loaded(tmp_path)
    headless.model = torch.nn.Sequential(torch.nn.Flatten())
    with pytest.raises(CheckpointError, match="linear head"):
        adjust_logits(headless, 0.5, PRIOR)
    with pytest.raises(CheckpointError, match="not adjusted"):
        save_adjusted(_loaded(tmp_path), tmp_path / "x.pt", prior_source="s")


def test_prior_of_soft_and_hard_targets():
    soft = np.zeros((4, 7), np.float32)
    soft[0, 3] = 1.0  # happy
    soft[1, [3, 6]] = 0.5  # half happy, half neutral
    soft[2, 0] = 1.0  # angry
    soft[3, 1] = 1.0  # disgust, but this row is left out
    keep = np.array([True, True, True, False])
    prior = label_prior(LabelTargets("ferplus-soft", keep, soft.argmax(1), soft, {}), list(EMOTIONS))
    # kept mass: angry 1, happy 1.5, neutral 0.5 of 3; disgust, fear, sad, surprise get the 1e-6 floor
    np.testing.assert_allclose(prior[[0, 3, 6]], np.array([1, 1.5, 0.5]) / 3, atol=1e-5)
    assert prior[1] == pytest.approx(1e-6, rel=1e-3) and prior.sum() == pytest.approx(1.0)
    hard = label_prior(LabelTargets("fer2013", np.ones(4, bool), np.array([0, 0, 3, 6]), None, {}),
                       ["angry", "happy", "neutral"])
    np.testing.assert_allclose(hard, [0.5, 0.25, 0.25], atol=1e-5)
    with pytest.raises(CheckpointError, match="no prior for class"):
        label_prior(LabelTargets("fer2013", np.ones(1, bool), np.array([0]), None, {}), ["angry", "contempt"])


def test_describe_adjustment_names_tau_and_the_prior():
    assert describe_adjustment({}) == ""
    text = describe_adjustment({"logit_adjustment": {"tau": 0.25, "prior": {"angry": 0.5, "happy": 0.5},
                                                     "prior_source": "--labels ferplus-soft on 9 Training faces"}})
    assert "tau = 0.25" in text and "angry 50.0 %" in text and "ferplus-soft on 9 Training faces" in text


def test_cli_adjusts_with_the_training_labels_prior(tmp_path, capsys):
    from ferviz.cli import main

    data = write_npz(tmp_path / "d.npz", n_train=14, n_val=7)  # labels 0..6 twice each: a uniform prior
    ckpt = _loaded(tmp_path).path
    out = tmp_path / "adj.pt"
    assert main(["adjust", "--checkpoint", str(ckpt), "--tau", "1", "--dataset", "npz", "--data", str(data),
                 "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "tau = 1" in said and "--labels fer2013 on 14 Training faces" in said and "angry 14.3 %" in said
    meta = read_checkpoint(out)["meta"]
    assert meta["logit_adjustment"]["prior_source"] == "--labels fer2013 on 14 Training faces"
    assert meta["adjust_command"].startswith("ferviz adjust --checkpoint")
    np.testing.assert_allclose(list(meta["logit_adjustment"]["prior"].values()), np.full(7, 1 / 7), atol=1e-6)
    again = subprocess.run([sys.executable, "-m", "ferviz", "adjust", "--checkpoint", str(out), "--tau", "1",
                            "--dataset", "npz", "--data", str(data), "--out", str(tmp_path / "twice.pt")],
                           capture_output=True, text=True)  # one real process: a refusal, not a traceback
    assert again.returncode != 0 and "Traceback" not in again.stderr and "already adjusted" in again.stderr


@pytest.mark.slow
def test_an_adjusted_checkpoint_ships_with_its_command_and_its_rule(tmp_path, capsys):
    data = write_npz(tmp_path / "d.npz")
    run = tmp_path / "run"
    trained = run_cli(capsys, "train", "--dataset", "npz", "--data", data, "--out", run, "--epochs", "1",
                      "--batch-size", "8", "--max-steps", "2", "--fp32", "--quiet")
    assert trained.returncode == 0, trained.stderr
    adj = run_cli(capsys, "adjust", "--checkpoint", run / "best.pt", "--tau", "0.5", "--dataset",
                  "npz", "--data", data, "--out", run / "adjusted.pt")
    assert adj.returncode == 0, adj.stderr
    models = tmp_path / "models"
    ship = run_cli(capsys, "ship", "--run", run, "--name", "m", "--dataset", "npz", "--data", data,
                   "--checkpoint", "adjusted.pt", "--models-dir", models)
    assert ship.returncode == 0, ship.stderr
    card = json.loads((models / "m.json").read_text())
    assert card["adjust_command"].startswith("ferviz adjust --checkpoint") and "--tau 0.5" in card["adjust_command"]
    assert "logit adjustment with tau = 0.5" in card["notes"]
    text = (models / "m.md").read_text()
    assert "- decision rule adjusted after training (`ferviz adjust`" in text
    reproduce = text.split("Reproduce:")[1].split("```")[1]
    lines = reproduce.strip().splitlines()
    assert lines[-2].startswith("ferviz adjust") and lines[-1].startswith("ferviz ship")

    # the shipped model given its own mirror view, and re-shipped under its name
    flip = tmp_path / "flip.pt"
    adj = run_cli(capsys, "adjust", "--checkpoint", models / "m.pt", "--tta", "flip", "--out", flip)
    assert adj.returncode == 0, adj.stderr
    (models / "reports").mkdir()  # a committed report that scored the file shipped so far
    (models / "reports" / "audit.json").write_text(json.dumps(
        {"command": "ferviz audit --also-score models/m.pt", "models": [{"model": "m.pt", "sha256": card["sha256"]}]}))
    again = run_cli(capsys, "ship", "--replace", "m", "--checkpoint", flip, "--dataset", "npz", "--data",
                    data, "--models-dir", models)
    assert again.returncode == 0, again.stderr
    assert "1 committed report(s) scored an earlier m.pt" in again.stdout
    assert "audit.json: ferviz audit --also-score models/m.pt" in again.stdout
    after = json.loads((models / "m.json").read_text())
    loaded = load_checkpoint(models / "m.pt")  # verified against the new card's sha256
    assert loaded.preprocessing.tta == "flip" and after["sha256"] == loaded.sha256 != card["sha256"]
    assert after["stages"] == card["stages"] and after["command"] == card["command"]  # the training is unchanged
    assert after["adjust_command"] == card["adjust_command"]
    assert after["after_ship"][0].startswith("ferviz adjust") and "--tta flip" in after["after_ship"][0]
    assert after["after_ship"][1].startswith("ferviz ship --replace m")
    assert "logit adjustment with tau = 0.5" in after["notes"] and "mirror image" in after["notes"]
    from ferviz.data.datasets import load_dataset
    from ferviz.results.evaluation import evaluate

    measured = evaluate(loaded, load_dataset("npz", data), split=card["selected_on"])
    assert after["report"]["accuracy"] == pytest.approx(measured.report.accuracy)
    lines = (models / "m.md").read_text().split("Reproduce:")[1].split("```")[1].strip().splitlines()
    assert lines[-4].startswith("ferviz adjust") and lines[-3].startswith("ferviz ship --run")
    assert "--tta flip" in lines[-2] and lines[-1].startswith("ferviz ship --replace")

    # a checkpoint that was not adjusted from the shipped model is refused, and the shipped model stays
    other = run_cli(capsys, "adjust", "--checkpoint", run / "best.pt", "--tta", "flip", "--out",
                    tmp_path / "other.pt")
    assert other.returncode == 0, other.stderr
    refused = run_cli(capsys, "ship", "--replace", "m", "--checkpoint", tmp_path / "other.pt",
                      "--dataset", "npz", "--data", data, "--models-dir", models)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr and "not made from" in refused.stderr
    assert load_checkpoint(models / "m.pt").sha256 == loaded.sha256


def test_cli_gives_a_checkpoint_its_own_views_without_data(tmp_path, capsys):
    from ferviz.cli import main

    ckpt = _loaded(tmp_path).path
    out = tmp_path / "flip.pt"
    assert main(["adjust", "--checkpoint", str(ckpt), "--tta", "flip", "--out", str(out)]) == 0
    loaded = load_checkpoint(out, verify=False)
    assert loaded.preprocessing.tta == "flip" and loaded.meta["test_time_views"] == "flip"
    assert "logit_adjustment" not in loaded.meta  # the decision rule untouched
    assert "mirror image" in describe_adjustment(loaded.meta)
    bare = run_cli(capsys, "adjust", "--checkpoint", ckpt, "--out", tmp_path / "x.pt")
    assert bare.returncode != 0 and "Traceback" not in bare.stderr and "--tta flip" in bare.stderr
    no_data = run_cli(capsys, "adjust", "--checkpoint", ckpt, "--tau", "0.5", "--out", tmp_path / "x.pt")
    assert no_data.returncode != 0 and "Traceback" not in no_data.stderr and "--data" in no_data.stderr


def test_views_added_to_an_adjusted_checkpoint_keep_its_rule_and_chain_the_commands(tmp_path):
    from ferviz.train.adjust import set_views

    loaded = adjust_logits(_loaded(tmp_path), 0.5, PRIOR)
    first = save_adjusted(loaded, tmp_path / "tau.pt", prior_source="test", command="ferviz adjust --tau 0.5")
    again = load_checkpoint(first, verify=False)
    second = save_adjusted(set_views(again, "flip"), tmp_path / "both.pt", command="ferviz adjust --tta flip")
    meta = read_checkpoint(second)["meta"]
    assert meta["logit_adjustment"]["tau"] == 0.5 and meta["logit_adjustment"]["prior_source"] == "test"
    assert meta["adjust_command"].splitlines() == ["ferviz adjust --tau 0.5", "ferviz adjust --tta flip"]
    x = torch.randn(3, 1, 64, 64)
    np.testing.assert_allclose(_logits(load_checkpoint(second, verify=False), x), _logits(again, x), atol=1e-6)
