"""Shared fixtures: tiny synthetic datasets and checkpoints, generated here."""

from __future__ import annotations

import pytest
import torch

from ferviz.data.labels import EMOTIONS
from ferviz.data.preprocess import Preprocessing
from ferviz.model.checkpoint import save_checkpoint
from ferviz.model.network import build_model
from tests.helpers import TINY, write_npz


@pytest.fixture(autouse=True)
def _torch_threads_restored():
    """A test that runs a shared-mode page sets one thread per request (ferviz.serve.jobs.apply_threads) for the
    whole process; later tests get torch's thread count back."""
    threads = torch.get_num_threads()
    yield
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


@pytest.fixture
def tiny_npz(tmp_path):
    return write_npz(tmp_path / "tiny.npz")


@pytest.fixture
def tiny_checkpoint(tmp_path):
    torch.manual_seed(0)
    model = build_model("dcnn_bilstm_dam", **TINY).eval()
    return save_checkpoint(tmp_path / "tiny.pt", model, labels=list(EMOTIONS), preprocessing=Preprocessing(),
                           variant="dcnn_bilstm_dam", metrics={"accuracy": 0.0},
                           meta={"dataset": "synthetic"})
