"""run_training: class lists, label remapping, ensemble distillation with cached soft targets, EMA."""

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from ferviz.data.labels import EMOTIONS
from ferviz.data.preprocess import Preprocessing, prepare_images
from ferviz.errors import CheckpointError
from ferviz.model.checkpoint import load_checkpoint, read_checkpoint
from ferviz.model.network import VARIANTS
from ferviz.train.engine import ArrayData, TrainConfig, Trainer, teacher_paths
from ferviz.train.runner import cached_soft_targets, class_names_for, remap_labels, run_training
from tests.helpers import TINY, synthetic_faces


def test_class_names_and_remap_hand_values():
    assert class_names_for(np.array([0, 3, 3, 7])) == ["angry", "happy", "contempt"]
    remapped = remap_labels(np.array([7, 0, 3]), ["angry", "happy", "contempt"])
    np.testing.assert_array_equal(remapped, [2, 0, 1])
    with pytest.raises(ValueError, match="neutral"):
        remap_labels(np.array([6]), ["angry", "happy"])


def test_teacher_paths():
    assert teacher_paths("") == [] and teacher_paths("a.pt, b.pt,") == ["a.pt", "b.pt"]


def _trainer(tmp_path, teachers, **kw):
    cfg = replace(VARIANTS["cnn_bilstm"], **TINY)
    return Trainer(cfg, TrainConfig(teacher=",".join(map(str, teachers)), bf16=False, **kw), Preprocessing(),
                   list(EMOTIONS), tmp_path / "run")


def test_ensemble_soft_targets_are_the_mean_of_the_teachers(tmp_path, tiny_checkpoint):
    x, y = synthetic_faces(10, 3)
    planes = prepare_images(x, Preprocessing())
    one = _trainer(tmp_path, [tiny_checkpoint]).soft_targets(planes)
    both = _trainer(tmp_path, [tiny_checkpoint, tiny_checkpoint]).soft_targets(planes)
    np.testing.assert_allclose(one.sum(1), 1, atol=1e-5)
    np.testing.assert_allclose(both, one, atol=1e-6)  # the mean of two identical teachers is one teacher
    t = 4.0
    teacher = load_checkpoint(tiny_checkpoint, verify=False).model.eval()
    from ferviz.data.preprocess import to_tensor

    with torch.no_grad():
        expect = torch.softmax(teacher(to_tensor(planes, Preprocessing())) / t, 1).numpy()
    np.testing.assert_allclose(one, expect, atol=1e-5)


def test_soft_target_cache_is_reused_only_for_the_same_key(tmp_path, tiny_checkpoint):
    x, y = synthetic_faces(12, 4)
    data = ArrayData(prepare_images(x, Preprocessing()), y)
    trainer = _trainer(tmp_path, [tiny_checkpoint], kd_cache=True)
    first = cached_soft_targets(trainer, data, tmp_path / "run", progress=False)
    path = tmp_path / "run" / "soft_targets.npz"
    stamp = path.stat().st_mtime_ns
    np.testing.assert_array_equal(cached_soft_targets(trainer, data, tmp_path / "run", progress=False), first)
    assert path.stat().st_mtime_ns == stamp  # reused, not recomputed
    hotter = _trainer(tmp_path, [tiny_checkpoint], kd_cache=True, kd_temperature=1.0)
    sharper = cached_soft_targets(hotter, data, tmp_path / "run", progress=False)
    assert not np.allclose(sharper, first)  # another temperature: recomputed
    with np.load(path) as cached:
        assert json.loads(str(cached["key"]))["temperature"] == 1.0


def test_teacher_with_other_preprocessing_is_refused(tmp_path, tiny_checkpoint):
    cfg = replace(VARIANTS["cnn_bilstm"], **TINY)
    with pytest.raises(CheckpointError, match="preprocessing"):
        Trainer(cfg, TrainConfig(teacher=str(tiny_checkpoint)), Preprocessing(mean=0.4), list(EMOTIONS),
                tmp_path)


def test_ema_run_saves_the_averaged_weights_and_resumes_them(tmp_path, tiny_checkpoint):
    x, y = synthetic_faces(56, 0)
    vx, vy = synthetic_faces(21, 1)
    kw = dict(variant="cnn_bilstm", model_overrides=TINY, progress=False)
    # a cosine schedule: its learning rates once came out as numpy scalars that last.pt could not hold
    cfg = TrainConfig(epochs=1, batch_size=8, lr=3e-3, bf16=False, ema_decay=0.9, erase=0.3, mixup=0.2,
                      schedule="cosine",
                      teacher=str(tiny_checkpoint), kd_cache=True, seed=0)
    run_training(x, y, vx, vy, train_cfg=cfg, out_dir=tmp_path / "a", **kw)
    last = read_checkpoint(tmp_path / "a" / "last.pt")
    assert "ema" in last["meta"]
    best = read_checkpoint(tmp_path / "a" / "best.pt")["state_dict"]
    live = last["state_dict"]
    ema = last["meta"]["ema"]
    key = next(k for k in live if k.endswith("weight") and live[k].dim() > 1)
    assert not torch.equal(ema[key], live[key])  # the average lags the live weights
    torch.testing.assert_close(best[key], ema[key])  # the first epoch is always best: best.pt holds the EMA
    assert (tmp_path / "a" / "soft_targets.npz").is_file()
    # resuming a finished EMA run with more epochs continues from the stored EMA
    more = replace(cfg, epochs=3)
    run_training(x, y, vx, vy, train_cfg=more, out_dir=tmp_path / "a", resume=True, **kw)
    rows = (tmp_path / "a" / "log.csv").read_text().splitlines()
    assert len(rows) == 4  # header + 3 epochs
