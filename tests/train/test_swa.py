"""Weight averaging: kept epochs, the equal-weight mean, BatchNorm recomputed, the CLI and shipping it."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from ferviz.data.labels import EMOTIONS
from ferviz.data.preprocess import Preprocessing, prepare_images, to_tensor
from ferviz.errors import CheckpointError
from ferviz.model.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from ferviz.model.network import build_model
from ferviz.train.swa import (
    average_checkpoints,
    describe_average,
    epoch_file,
    kept_epochs,
    run_folder,
    save_averaged,
)
from tests.helpers import TINY, run_cli, synthetic_faces, write_npz


def _checkpoint(path, seed, **meta):
    torch.manual_seed(seed)
    model = build_model("dcnn_bilstm_dam", **TINY).eval()
    return save_checkpoint(path, model, labels=list(EMOTIONS), preprocessing=Preprocessing(),
                           variant="dcnn_bilstm_dam", meta=dict(meta))


def test_the_average_of_three_checkpoints_is_their_elementwise_mean(tmp_path):
    paths = [_checkpoint(tmp_path / f"e{k}.pt", seed=k) for k in range(3)]
    avg = average_checkpoints(paths)  # no planes: the BatchNorm statistics are averaged too
    states = [read_checkpoint(p)["state_dict"] for p in paths]
    got = avg.loaded.model.state_dict()
    for name, value in got.items():
        if value.is_floating_point():
            torch.testing.assert_close(value, sum(s[name] for s in states) / 3, rtol=0, atol=1e-6)
    assert avg.sources == [str(p) for p in paths] and avg.bn_faces == 0
    assert not avg.loaded.model.training
    preloaded = load_checkpoint(paths[0], verify=False)  # the CLI passes the first source it already read
    again = average_checkpoints(paths, first=preloaded)
    assert again.loaded is preloaded
    for name, value in got.items():
        torch.testing.assert_close(again.loaded.model.state_dict()[name], value, rtol=0, atol=0)


def test_one_checkpoint_averages_to_itself(tmp_path):
    path = _checkpoint(tmp_path / "e.pt", seed=4)
    avg = average_checkpoints([path])
    for name, value in read_checkpoint(path)["state_dict"].items():
        torch.testing.assert_close(avg.loaded.model.state_dict()[name], value)


def test_batchnorm_is_recomputed_on_the_given_faces(tmp_path):
    paths = [_checkpoint(tmp_path / f"e{k}.pt", seed=k) for k in range(2)]
    faces, _ = synthetic_faces(40, seed=3)
    planes = prepare_images(faces, Preprocessing())
    avg = average_checkpoints(paths, planes, batch_size=40)  # one batch: the statistics of these 40 faces
    model = avg.loaded.model
    conv, first_bn = model.dcnn.c1[0], model.dcnn.c1[1]  # the first BatchNorm sees the first conv's maps
    with torch.no_grad():
        x = conv(to_tensor(planes, Preprocessing()))
    torch.testing.assert_close(first_bn.running_mean, x.mean(dim=(0, 2, 3)), rtol=1e-4, atol=1e-5)
    n = x.numel() / x.shape[1]
    unbiased = x.var(dim=(0, 2, 3), unbiased=False) * n / (n - 1)
    torch.testing.assert_close(first_bn.running_var, unbiased, rtol=1e-4, atol=1e-5)
    assert avg.bn_faces == 40


def test_checkpoints_of_different_architectures_are_refused(tmp_path):
    a = _checkpoint(tmp_path / "a.pt", seed=0)
    model = build_model("dcnn_bilstm_dam", **{**TINY, "fc_hidden": 20}).eval()
    b = save_checkpoint(tmp_path / "b.pt", model, labels=list(EMOTIONS), preprocessing=Preprocessing(),
                        variant="dcnn_bilstm_dam")
    with pytest.raises(CheckpointError, match="model config differs"):
        average_checkpoints([a, b])
    with pytest.raises(CheckpointError, match="nothing to average"):
        average_checkpoints([])


def test_kept_epochs_picks_a_range_and_says_what_exists(tmp_path):
    for k in (3, 4, 5, 12):
        _checkpoint(epoch_file(tmp_path, k), seed=k)
    assert epoch_file(tmp_path, 7).name == "epoch_007.pt"
    assert run_folder(epoch_file(tmp_path, 7)) == tmp_path == run_folder(tmp_path / "swa.pt")
    assert [p.name for p in kept_epochs(tmp_path, 4)] == ["epoch_004.pt", "epoch_005.pt", "epoch_012.pt"]
    assert [p.name for p in kept_epochs(tmp_path, 4, 5)] == ["epoch_004.pt", "epoch_005.pt"]
    with pytest.raises(CheckpointError, match="epochs 3-12, none in 13-end.*--keep-epochs-from"):
        kept_epochs(tmp_path, 13)


def test_saved_average_names_its_sources_and_drops_resume_state(tmp_path):
    paths = [_checkpoint(tmp_path / f"e{k}.pt", seed=k, epoch=k + 1, optimizer={"x": 1}, dataset="d")
             for k in range(2)]
    out = save_averaged(average_checkpoints(paths), tmp_path / "swa.pt", command="ferviz average ...")
    meta = load_checkpoint(out, verify=False).meta
    assert meta["averaged_from"] == [str(p) for p in paths] and meta["dataset"] == "d"
    assert "optimizer" not in meta and "epoch" not in meta
    text = describe_average(meta)
    assert "mean of 2 checkpoints (e0.pt … e1.pt)" in text and "BatchNorm statistics averaged" in text
    assert "ferviz average" not in text  # the card's reproduce block carries the command
    assert describe_average({}) == ""


def test_average_of_two_runs_is_described_per_run():
    meta = {"averaged_from": ["/r/s6/epochs/epoch_018.pt", "/r/s6/epochs/epoch_020.pt",
                              "/r/s6b/epochs/epoch_016.pt"], "bn_recomputed_on": 28709}
    text = describe_average(meta)
    assert text == ("Weights: the mean of 3 checkpoints (2 of run s6: epoch_018.pt … epoch_020.pt; 1 of run "
                    "s6b: epoch_016.pt) of 2 runs of the last stage (stochastic weight averaging), BatchNorm "
                    "statistics recomputed on 28709 un-augmented training faces.")
    one = describe_average({**meta, "averaged_from": meta["averaged_from"][:2]})
    assert "(epoch_018.pt … epoch_020.pt) of the last stage" in one


@pytest.mark.slow
def test_train_keeps_epochs_and_average_and_ship_use_them(tmp_path, capsys):
    data = write_npz(tmp_path / "d.npz")
    run = tmp_path / "run"
    trained = run_cli(capsys, "train", "--dataset", "npz", "--data", data, "--out", run, "--epochs", "3",
                      "--batch-size", "8", "--max-steps", "2", "--fp32", "--quiet", "--keep-epochs-from", "2")
    assert trained.returncode == 0, trained.stderr
    assert sorted(p.name for p in (run / "epochs").iterdir()) == ["epoch_002.pt", "epoch_003.pt"]
    kept = load_checkpoint(epoch_file(run, 3), verify=False)
    assert kept.meta["epoch"] == 3 and "optimizer" not in kept.meta
    avg = run_cli(capsys, "average", "--run", run, "--from-epoch", "2", "--dataset", "npz", "--data", data,
                  "--out", run / "swa.pt", "--quiet")
    assert avg.returncode == 0, avg.stderr
    assert "averaged 2 checkpoints (BatchNorm recomputed on 56 training faces)" in avg.stdout
    fewer = run_cli(capsys, "average", "--run", run, "--dataset", "npz", "--data", data, "--bn-faces", "21",
                    "--out", tmp_path / "swa21.pt", "--quiet")
    assert "averaged 2 checkpoints (BatchNorm recomputed on 21 training faces)" in fewer.stdout, fewer.stderr
    models = tmp_path / "models"
    ship = run_cli(capsys, "ship", "--run", run, "--name", "m", "--dataset", "npz", "--data", data,
                   "--checkpoint", "swa.pt", "--models-dir", models)
    assert ship.returncode == 0, ship.stderr
    card = json.loads((models / "m.json").read_text())
    assert "mean of 2 checkpoints (epoch_002.pt … epoch_003.pt)" in card["notes"]  # one note: a string
    assert "recomputed on 56" in (models / "m.md").read_text()
    np.testing.assert_equal(read_checkpoint(models / "m.pt")["meta"]["averaged_from"],
                            [str(epoch_file(run, 2)), str(epoch_file(run, 3))])


def test_average_without_data_says_what_to_do(tmp_path, capsys):
    run = tmp_path / "run"
    _checkpoint(epoch_file(run, 1), seed=0)
    r = run_cli(capsys, "average", "--run", run, "--out", tmp_path / "s.pt")
    assert r.returncode != 0 and "--data is needed" in r.stderr and "--no-bn-update" in r.stderr
    r = subprocess.run([sys.executable, "-m", "ferviz", "average", "--run", str(tmp_path / "none"), "--out",
                        str(tmp_path / "s.pt")], capture_output=True, text=True)  # one real process
    assert r.returncode != 0 and "Traceback" not in r.stderr and "--keep-epochs-from" in r.stderr
