"""The fast path: ONNX Runtime gives the torch probabilities (|diff| <= 1e-4); it can be switched off."""

import numpy as np
import pytest
import torch

from ferviz.data.labels import EMOTIONS
from ferviz.data.preprocess import Preprocessing, prepare_images
from ferviz.model.checkpoint import load_checkpoint, save_checkpoint
from ferviz.model.network import build_model
from ferviz.paths import DEFAULT_MODEL
from ferviz.pipeline import fastpath
from ferviz.pipeline.inference import classify_crops
from ferviz.pipeline.tta import model_views, tta_views
from ferviz.train.engine import predict_probs
from tests.helpers import TINY, synthetic_faces

pytest.importorskip("onnxruntime")


def _faces(n=256, seed=0):
    return synthetic_faces(n, seed)[0]


@pytest.mark.parametrize("variant", ["dcnn_bilstm_dam", "cnn_bilstm", "cnn_lstm", "channel_only"])
def test_fast_path_matches_torch_on_256_faces(tmp_path, variant):
    torch.manual_seed(0)
    path = save_checkpoint(tmp_path / "m.pt", build_model(variant, **TINY).eval(), labels=list(EMOTIONS),
                           preprocessing=Preprocessing(), variant=variant)
    loaded = load_checkpoint(path)
    planes = prepare_images(_faces(), loaded.preprocessing)
    assert fastpath.session_for(loaded) is not None
    fast = fastpath.predict_planes(loaded, planes, batch_size=100)
    ref = predict_probs(loaded.model, planes, loaded.preprocessing)
    assert fast.shape == (256, 7) and np.abs(fast - ref).max() <= 1e-4


@pytest.mark.skipif(not DEFAULT_MODEL.is_file(), reason="no shipped default model")
def test_the_shipped_model_on_the_fast_path_gives_the_same_answers():
    loaded = load_checkpoint(DEFAULT_MODEL)
    crops = _faces(256, 3)
    fast = classify_crops(loaded, crops)
    views = tta_views(crops, model_views(loaded))  # the model's own test-time views (the default: the mirror too)
    ref = np.mean([predict_probs(loaded.model, prepare_images(v, loaded.preprocessing), loaded.preprocessing)
                   for v in views], axis=0)
    assert np.abs(fast - ref).max() <= 1e-4 and (fast.argmax(1) == ref.argmax(1)).all()


def test_switched_off_or_failing_export_falls_back_to_torch(tiny_checkpoint, monkeypatch, caplog):
    loaded = load_checkpoint(tiny_checkpoint)
    crops = _faces(8)
    monkeypatch.setenv(fastpath.ENV_SWITCH, "0")
    assert fastpath.session_for(loaded) is None and fastpath.fast_logits(loaded, torch.zeros(1)) is None
    off = classify_crops(loaded, crops)
    monkeypatch.delenv(fastpath.ENV_SWITCH)
    fastpath.clear()

    def broken(*args, **kwargs):
        raise RuntimeError("exporter exploded")

    monkeypatch.setattr(fastpath, "export_onnx", broken)
    with caplog.at_level("WARNING", logger="ferviz.pipeline.fastpath"):
        assert fastpath.session_for(loaded) is None
    assert "exporter exploded" in caplog.text
    np.testing.assert_allclose(classify_crops(loaded, crops), off, atol=1e-6)
    fastpath.clear()
