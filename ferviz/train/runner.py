"""From labelled face arrays to a trained, checkpointed model: the glue between datasets and the engine.

:func:`run_training` is what ``ferviz train`` and ``ferviz cv`` call: it fixes the class list,
prepares the model planes once, builds the :class:`~ferviz.train.engine.Trainer`, resumes when asked, and
shows a progress bar with throughput and ETA on rank 0.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ferviz.data.labels import ALL_LABELS
from ferviz.data.preprocess import Preprocessing, prepare_images
from ferviz.model.network import VARIANTS, ModelConfig
from ferviz.train.engine import ArrayData, TrainConfig, Trainer, TrainResult, dist_info

log = logging.getLogger(__name__)


def class_names_for(labels: np.ndarray) -> list[str]:
    """The classes a model trained on ``labels`` (indices into ALL_LABELS) predicts, in index order.

    FER2013 gives the 7 basic emotions; CK+48 gives its own 7 (no neutral, contempt last).
    """
    present = sorted(set(int(v) for v in np.unique(labels)))
    return [ALL_LABELS[i] for i in present]


def remap_labels(labels: np.ndarray, class_names: list[str]) -> np.ndarray:
    """Map ALL_LABELS indices to positions in ``class_names``.

    Parameters
    ----------
    labels : (N,) array of int
        Indices into :data:`ferviz.data.labels.ALL_LABELS`.
    class_names : list of str
        The model's classes, in its output order.

    Returns
    -------
    (N,) int64 ndarray
        Positions in ``class_names``.

    Raises
    ------
    ValueError
        When a label is not among ``class_names``.
    """
    lut = np.full(len(ALL_LABELS), -1, dtype=np.int64)
    for pos, name in enumerate(class_names):
        lut[ALL_LABELS.index(name)] = pos
    out = lut[np.asarray(labels, dtype=np.int64)]
    if (out < 0).any():
        missing = sorted({ALL_LABELS[i] for i in np.asarray(labels)[out < 0]})
        raise ValueError(f"labels {missing} are not among the model's classes {class_names}")
    return out


def targets_in_order(targets: np.ndarray, class_names: list[str]) -> np.ndarray:
    """(N, 7) distributions in FER2013 order -> (N, len(class_names)) in the model's order, renormalised."""
    targets = np.asarray(targets, np.float32)
    if targets.ndim != 2 or targets.shape[1] != 7:
        raise ValueError(f"targets must be (N, 7) distributions in FER2013 order, got shape {targets.shape}")
    cols = [ALL_LABELS.index(n) for n in class_names]
    if max(cols) >= 7:
        raise ValueError(f"soft targets cover the 7 FER2013 emotions, not {class_names}")
    out = targets[:, cols]
    total = out.sum(1, keepdims=True)
    if (total <= 0).any():
        raise ValueError(f"{int((total <= 0).sum())} target rows have no mass on the model's classes")
    return (out / total).astype(np.float32)


def cached_soft_targets(trainer: Trainer, train: ArrayData, out_dir: Path,
                        progress: bool = True) -> np.ndarray:
    """The teachers' soft targets on the training faces, computed once, kept in ``out_dir/soft_targets.npz``.

    The file records the teachers and temperature; a file made for other teachers, another temperature
    or another training set is recomputed, never silently reused.
    """
    key = {"teachers": trainer.cfg.teacher, "temperature": trainer.cfg.kd_temperature, "n": len(train),
           "labels_sum": int(train.labels.sum())}
    path = out_dir / "soft_targets.npz"
    if path.is_file():
        with np.load(path) as cached:
            if json.loads(str(cached["key"])) == key:
                log.info("using cached teacher soft targets from %s", path)
                return cached["soft"]
    bar = tqdm(total=len(train) * len(trainer.teachers), unit="img", unit_scale=True, desc="teacher targets",
               disable=not progress, mininterval=2.0)
    soft = trainer.soft_targets(train.planes, progress=bar.update)
    bar.close()
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / ".soft_targets.tmp.npz"
    np.savez(tmp, soft=soft, key=json.dumps(key))
    tmp.replace(path)
    return soft


class _Bar:
    """A tqdm bar over images with loss, throughput (img/s) and ETA."""

    def __init__(self, epoch: int, epochs: int, total: int):
        self.bar = tqdm(total=total, unit="img", unit_scale=True, desc=f"epoch {epoch + 1}/{epochs}",
                        dynamic_ncols=True, mininterval=2.0)

    def step(self, n: int, loss: float) -> None:
        self.bar.update(n)
        self.bar.set_postfix(loss=f"{loss:.3f}", refresh=False)

    def close(self) -> None:
        self.bar.close()


def run_training(train_images: np.ndarray, train_labels: np.ndarray, val_images: np.ndarray,
                 val_labels: np.ndarray, *, variant: str, train_cfg: TrainConfig, out_dir: str | Path,
                 prep: Preprocessing | None = None, model_overrides: dict | None = None,
                 class_names: list[str] | None = None, resume: bool = False, progress: bool = True,
                 argv: list[str] | None = None, meta: dict | None = None,
                 train_targets: np.ndarray | None = None) -> TrainResult:
    """Train ``variant`` on (N, H, W) uint8 faces with ALL_LABELS indices; select on the validation set.

    ``train_targets`` (N, 7) optionally gives each training face a target distribution over the 7
    emotions in FER2013 order (FER+ vote shares; a photo teacher's probabilities), trained against
    instead of the one-hot label (:attr:`~ferviz.train.engine.ArrayData.target`).
    """
    if variant not in VARIANTS:
        raise KeyError(f"unknown model variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    names = class_names or class_names_for(train_labels)
    cfg: ModelConfig = replace(VARIANTS[variant], num_classes=len(names), **(model_overrides or {}))
    prep = prep or Preprocessing(input_mode=cfg.input_mode, size=cfg.image_size)
    if prep.input_mode != cfg.input_mode:
        prep = replace(prep, input_mode=cfg.input_mode)
    log.info("preparing %d training and %d validation faces (%s input)", len(train_images), len(val_images),
             prep.input_mode)
    train = ArrayData(prepare_images(train_images, prep), remap_labels(train_labels, names))
    if train_targets is not None:
        train.target = targets_in_order(train_targets, names)
    val = ArrayData(prepare_images(val_images, prep), remap_labels(val_labels, names))
    trainer = Trainer(cfg, train_cfg, prep, names, out_dir, variant=variant, meta=meta)
    if resume and not trainer.resume():
        log.info("no checkpoint to resume in %s; starting from epoch 1", out_dir)
    rank, _ = dist_info()
    if train_cfg.kd_cache and trainer.teachers:
        train.soft = cached_soft_targets(trainer, train, Path(out_dir), progress=progress and rank == 0)
    factory = None
    if progress and rank == 0:
        def factory(epoch: int, total: int) -> _Bar:
            return _Bar(epoch, train_cfg.epochs, total)
    return trainer.fit(train, val, progress_factory=factory, argv=argv)
