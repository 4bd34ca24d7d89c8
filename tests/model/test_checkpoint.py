"""Checkpoints: round trip, atomic writes, sha256 verification, and no code execution on load."""

import json
import os
import pickle

import pytest
import torch

from ferviz.data.labels import EMOTIONS
from ferviz.data.preprocess import Preprocessing
from ferviz.errors import CheckpointError
from ferviz.model.checkpoint import FORMAT, atomic_torch_save, file_sha256, load_checkpoint, save_checkpoint
from ferviz.model.network import build_model
from tests.helpers import TINY


@pytest.fixture
def ckpt(tmp_path):
    torch.manual_seed(0)
    model = build_model("dcnn_bilstm_dam", **TINY).eval()
    path = save_checkpoint(tmp_path / "m.pt", model, labels=list(EMOTIONS), preprocessing=Preprocessing(),
                           variant="dcnn_bilstm_dam", metrics={"accuracy": 0.5}, meta={"dataset": "x"})
    return model, path


def test_roundtrip_gives_the_same_outputs(ckpt):
    model, path = ckpt
    loaded = load_checkpoint(path)
    x = torch.randn(2, 1, 64, 64)
    torch.testing.assert_close(loaded.model(x), model(x))
    assert loaded.labels == list(EMOTIONS)
    assert loaded.metrics == {"accuracy": 0.5} and loaded.meta == {"dataset": "x"}
    assert loaded.variant == "dcnn_bilstm_dam" and not loaded.model.training
    assert loaded.sha256 == file_sha256(path)


def test_sha256_in_the_model_card_is_verified(ckpt):
    _, path = ckpt
    card = path.with_suffix(".json")
    card.write_text(json.dumps({"sha256": file_sha256(path)}))
    load_checkpoint(path)
    card.write_text(json.dumps({"sha256": "0" * 64}))
    with pytest.raises(CheckpointError, match="does not match its model card"):
        load_checkpoint(path)
    load_checkpoint(path, verify=False)


class Boom:
    def __reduce__(self):
        return (os.system, ("touch PWNED_BY_CHECKPOINT",))


def test_pickle_payload_is_not_executed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evil = tmp_path / "evil.pt"
    torch.save({"format": FORMAT, "config": {}, "labels": [], "preprocessing": {}, "state_dict": {},
                "payload": Boom()}, evil)
    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint(evil)
    assert not (tmp_path / "PWNED_BY_CHECKPOINT").exists()


@pytest.mark.parametrize("content,match", [
    (b"", r"not a PyTorch checkpoint \(0 bytes"), (b"x", r"\(1 byte that"),
    (b"hello, not a checkpoint", "not a PyTorch checkpoint .*another kind of file, or one cut short"),
])
def test_foreign_files_get_clear_errors(tmp_path, content, match):
    path = tmp_path / "x.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=match):
        load_checkpoint(path)


def test_a_checkpoint_cut_short_is_named_so(tmp_path):
    whole = tmp_path / "whole.pt"
    torch.save({"weight": torch.zeros(1000)}, whole)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])  # a copy stopped half-way
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint .*cut short"):
        load_checkpoint(cut)


def test_other_torch_files_are_not_ferviz_checkpoints(tmp_path):
    path = tmp_path / "sd.pt"
    torch.save({"weight": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match="not a ferviz checkpoint"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")


def test_mismatched_weights_are_reported(tmp_path, ckpt):
    _, path = ckpt
    data = torch.load(path, weights_only=True)
    data["config"]["fc_hidden"] = 99
    torch.save(data, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="do not fit"):
        load_checkpoint(tmp_path / "bad.pt")


def test_atomic_save_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "last.pt"
    atomic_torch_save({"v": torch.ones(1)}, path)
    with pytest.raises((pickle.PicklingError, AttributeError)):
        atomic_torch_save({"v": lambda: 0}, path)
    assert torch.load(path, weights_only=True)["v"].item() == 1.0
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temporary file left behind


def test_the_model_config_is_the_one_source_of_input_side_and_mode(tmp_path):
    """A preprocessing that disagrees with the network is not stored: the config's side and mode are."""
    torch.manual_seed(0)
    model = build_model("dcnn_bilstm_dam", image_size=48, **TINY).eval()
    path = save_checkpoint(tmp_path / "m.pt", model, labels=list(EMOTIONS),
                           preprocessing=Preprocessing(input_mode="hog", size=64, std=0.3))
    stored = torch.load(path, weights_only=True)["preprocessing"]
    assert (stored["input_mode"], stored["size"], stored["std"]) == ("gray", 48, 0.3)
    loaded = load_checkpoint(path)
    assert loaded.preprocessing == Preprocessing(input_mode="gray", size=48, std=0.3)
    assert Preprocessing.matching(loaded.model.cfg) == Preprocessing(size=48)
