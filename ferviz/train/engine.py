"""Training and inference loops: resumable, seeded, optionally data-parallel (torch.distributed DDP).

Outputs of a run in ``out_dir``::

    run.json   model + training config, preprocessing, labels, command line
    log.csv    one row per epoch (loss, accuracy, macro-F1, lr, seconds, images/s)
    last.pt    resume state (model, optimizer, scheduler, epoch, best so far), written atomically
    best.pt    the best epoch on the selection split, as a self-describing checkpoint
    epochs/    with ``keep_epochs_from``: each later epoch's weights, for ``ferviz average`` (SWA)

Data parallelism uses an existing engine only: launch with ``torchrun --nproc_per_node N -m ferviz
train ...``; every rank trains on its :class:`~torch.utils.data.DistributedSampler` shard, DDP averages
the gradients (gloo on CPU, nccl on GPU), and only rank 0 evaluates and writes files.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.utils.data import DistributedSampler

from ferviz.data.augment import AugmentConfig, augment_batch, mixup_batch
from ferviz.data.camera import camera_batch, parse_kinds
from ferviz.data.preprocess import Preprocessing, to_tensor
from ferviz.errors import CheckpointError
from ferviz.model.checkpoint import (
    LoadedModel,
    atomic_torch_save,
    checkpoint_dict,
    load_checkpoint,
    read_checkpoint,
)
from ferviz.model.network import FERNet, ModelConfig
from ferviz.results.metrics import average, class_rates, confusion, overall_accuracy
from ferviz.train.swa import epoch_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """The training recipe. Defaults are the paper's (Adam, lr 1e-3, batch 32, best checkpoint)."""

    epochs: int = 100
    batch_size: int = 32
    lr: float = 1e-3
    optimizer: str = "adam"  # 'adam' (paper) | 'adamw'
    weight_decay: float = 0.0
    schedule: str = "none"  # 'none' (paper) | 'cosine' (stronger recipe, reported separately)
    warmup_epochs: int = 0
    label_smoothing: float = 0.0
    grad_clip: float = 0.0  # > 0: clip the gradient norm (stabilises the LSTM + attention stack)
    class_weighting: bool = False  # inverse-frequency class weights in the loss
    class_power: float = 1.0  # with class_weighting: weight = (share of the class) ** -class_power (0.5 = sqrt)
    augment: bool = True
    bf16: bool = True  # CPU autocast to bfloat16 (~1.7x faster on AVX-512 BF16 machines)
    select_metric: str = "accuracy"  # 'accuracy' | 'macro_f1' on the selection split
    seed: int = 0
    max_steps: int = 0  # > 0: stop each epoch after this many steps (smoke tests)
    # teacher checkpoint(s) for knowledge distillation (Alg. 3 steps 6-8); comma-separated = ensemble
    teacher: str = ""
    kd_cache: bool = False  # compute the teachers' soft targets once on the un-augmented training faces
    init: str = ""  # optional checkpoint to start from (fine-tuning); same variant config and labels
    kd_temperature: float = 4.0
    kd_alpha: float = 0.5  # weight of the distillation term
    ema_decay: float = 0.0  # > 0: keep an exponential moving average of the weights; evaluated and saved
    erase: float = 0.0  # probability of random erasing (one rectangle of noise per image)
    mixup: float = 0.0  # > 0: mixup with Beta(alpha, alpha) mixing weights (alpha = this value)
    keep_epochs_from: int = 0  # > 0: also save every epoch from this one on as epochs/epoch_NNN.pt (SWA)
    labels: str = "fer2013"  # the labelling trained on (a key of ferviz.data.ferplus.LABEL_SOURCES)
    camera: float = 0.0  # probability per image of each camera-photo degradation (ferviz.data.camera)
    camera_kinds: str = ""  # comma-separated names of ferviz.data.camera.DEGRADATIONS to use; '' = all of them
    rotate_deg: float = 10.0  # the affine augmentation's rotation range, degrees (0 = no rotation)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ArrayData:
    """Prepared model planes and labels in the model's class order.

    Attributes
    ----------
    planes : (N, C, S, S) uint8 ndarray
        The model's input planes.
    labels : (N,) int64 ndarray
        Class indices.
    soft : (N, classes) float32 ndarray or None
        Cached teacher soft targets (at the KD temperature), when set.
    target : (N, classes) float32 ndarray or None
        Per-row target distributions (FER+ vote shares, or a photo teacher's probabilities); when set the
        cross-entropy is taken against them instead of one-hot ``labels`` (which stay the argmax, for
        accuracy and class weights).
    """

    planes: np.ndarray
    labels: np.ndarray
    soft: np.ndarray | None = None
    target: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class TrainResult:
    best_epoch: int
    best_score: float
    epochs_run: int
    history: list[dict] = field(default_factory=list)


# ----------------------------------------------------------------------------------------------- distributed


def dist_info() -> tuple[int, int]:
    """(rank, world size); (0, 1) when not launched by torchrun."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_distributed() -> bool:
    """Initialise the process group if torchrun set WORLD_SIZE > 1 (gloo on CPU, nccl on GPU)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return dist.is_initialized()
    dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
    return True


def teacher_paths(spec: str) -> list[str]:
    """'a.pt,b.pt' -> ['a.pt', 'b.pt']; '' -> [] (no distillation)."""
    return [p.strip() for p in spec.split(",") if p.strip()]


# ----------------------------------------------------------------------------------------------- inference


@torch.no_grad()
def predict_probs(model: FERNet, planes: np.ndarray, prep: Preprocessing, batch_size: int = 256,
                  bf16: bool = False, progress=None) -> np.ndarray:
    """Softmax probabilities of ``model`` on prepared planes, in eval mode (restored afterwards).

    Parameters
    ----------
    model : FERNet
        The network.
    planes : (N, C, S, S) uint8 ndarray
        Prepared model planes.
    prep : Preprocessing
        The normalisation the model was trained with.
    batch_size : int
        Planes per forward pass.
    bf16 : bool
        Run under CPU bfloat16 autocast.
    progress : callable, optional
        Called as ``progress(done, total)`` after each batch.

    Returns
    -------
    (N, classes) float32 ndarray
    """
    was_training = model.training
    model.eval()
    out = []
    for start in range(0, len(planes), batch_size):
        x = to_tensor(planes[start:start + batch_size], prep)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(x)
        out.append(torch.softmax(logits.float(), dim=1).numpy())
        if progress is not None:
            progress(min(start + batch_size, len(planes)), len(planes))
    model.train(was_training)
    return np.concatenate(out) if out else np.zeros((0, model.cfg.num_classes), np.float32)


def quick_scores(probs: np.ndarray, labels: np.ndarray, n_classes: int) -> dict:
    """Accuracy (eq. 26) and macro-F1, the selection metrics, from :mod:`ferviz.results.metrics`."""
    cm = confusion(labels, probs.argmax(1), n_classes)
    return {"accuracy": overall_accuracy(cm), "macro_f1": average(class_rates(cm))["f1"]}


# ----------------------------------------------------------------------------------------------- training


class Trainer:
    """One training run. Construct, then :meth:`fit`. Resumes from ``out_dir/last.pt`` when asked."""

    def __init__(self, model_cfg: ModelConfig, cfg: TrainConfig, prep: Preprocessing, labels: list[str],
                 out_dir: str | Path, variant: str = "custom", meta: dict | None = None):
        self.model_cfg, self.cfg, self.prep, self.labels = model_cfg, cfg, prep, list(labels)
        self.out_dir, self.variant, self.meta = Path(out_dir), variant, dict(meta or {})
        self.rank, self.world = dist_info()
        torch.manual_seed(cfg.seed)
        self.model = FERNet(model_cfg)
        if cfg.init:
            self._load_init(cfg.init)
        self.net = self.model
        if self.world > 1:
            self.net = torch.nn.parallel.DistributedDataParallel(self.model)
        make_opt = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
        self.opt = make_opt(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.teachers = [self._load_teacher(p) for p in teacher_paths(cfg.teacher)]
        self.ema = self._make_ema() if cfg.ema_decay > 0 else None
        self.start_epoch, self.best_score, self.best_epoch = 0, -1.0, -1
        self.history: list[dict] = []

    # -- bookkeeping ------------------------------------------------------------------------------------

    def _load_teacher(self, path: str) -> FERNet:
        loaded = self._load_compatible(path, "teacher")
        if loaded.preprocessing.input_part() != self.prep.input_part():  # its soft targets: one view each
            raise CheckpointError(f"teacher {path} expects preprocessing {loaded.preprocessing.to_dict()}, "
                                  f"this run feeds {self.prep.to_dict()}")
        return loaded.model.eval()

    def _make_ema(self) -> FERNet:
        ema = FERNet(self.model_cfg)
        ema.load_state_dict(self.model.state_dict())
        return ema.eval().requires_grad_(False)

    @torch.no_grad()
    def _update_ema(self) -> None:
        """ema <- d * ema + (1 - d) * weights; BatchNorm running statistics are copied, not averaged."""
        d = self.cfg.ema_decay
        for e, w in zip(self.ema.parameters(), self.model.parameters(), strict=True):
            e.lerp_(w.detach(), 1.0 - d)
        for e, w in zip(self.ema.buffers(), self.model.buffers(), strict=True):
            e.copy_(w)

    @property
    def selected_model(self) -> FERNet:
        """The weights that are evaluated and saved as ``best.pt``: the EMA when enabled."""
        return self.ema if self.ema is not None else self.model

    @torch.no_grad()
    def soft_targets(self, planes: np.ndarray, progress=None) -> np.ndarray:
        """The teachers' mean softened probabilities softmax(z / T) on un-augmented planes (N, classes)."""
        t = self.cfg.kd_temperature
        out = np.zeros((len(planes), self.model_cfg.num_classes), np.float32)
        for teacher in self.teachers:
            for start in range(0, len(planes), 512):
                x = to_tensor(planes[start:start + 512], self.prep)
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.cfg.bf16):
                    z = teacher(x).float()
                out[start:start + 512] += torch.softmax(z / t, dim=1).numpy() / len(self.teachers)
                if progress is not None:
                    progress(len(x))
        return out

    def _load_init(self, path: str) -> None:
        """Start from another run's weights: same architecture and classes, fresh optimizer and schedule."""
        start = self._load_compatible(path, "--init")
        theirs, ours = start.model.cfg.to_dict(), self.model_cfg.to_dict()
        differ = sorted(k for k in ours if theirs.get(k) != ours[k])
        if differ:
            raise CheckpointError(f"{path}: its model config differs from this run's in "
                                  f"{', '.join(differ)}; --init needs the same variant and overrides")
        self.model.load_state_dict(start.model.state_dict())
        log.info("initialised from %s", path)

    def _load_compatible(self, path: str, role: str) -> LoadedModel:
        """A checkpoint used by this run (a teacher, or a fine-tuning start); it must predict our classes."""
        loaded = load_checkpoint(path, verify=False)
        if loaded.labels != self.labels:
            raise CheckpointError(f"{role} {path} predicts {loaded.labels}, this run trains {self.labels}")
        return loaded

    def lr_at(self, epoch: int) -> float:
        cfg = self.cfg
        if epoch < cfg.warmup_epochs:
            return cfg.lr * (epoch + 1) / (cfg.warmup_epochs + 1)
        if cfg.schedule == "cosine":
            span = max(cfg.epochs - cfg.warmup_epochs, 1)
            # a Python float: numpy scalars in the history would make last.pt unreadable by weights_only
            return float(0.5 * cfg.lr * (1 + np.cos(np.pi * (epoch - cfg.warmup_epochs) / span)))
        return cfg.lr

    def write_run_info(self, argv: list[str] | None) -> None:
        info = {"variant": self.variant, "model": self.model_cfg.to_dict(), "train": self.cfg.to_dict(),
                "preprocessing": self.prep.to_dict(), "labels": self.labels, "meta": self.meta,
                "argv": list(argv if argv is not None else sys.argv), "world_size": self.world}
        self.out_dir.mkdir(parents=True, exist_ok=True)
        (self.out_dir / "run.json").write_text(json.dumps(info, indent=2))

    def resume(self) -> bool:
        """Restore model, optimizer, epoch counter and best score from ``last.pt``; False if none."""
        path = self.out_dir / "last.pt"
        for stale in self.out_dir.glob(".*.pt.*.tmp"):  # a write cut short by a kill; the real file is intact
            log.info("removing %s, left by an interrupted checkpoint write", stale.name)
            stale.unlink()
        if not path.is_file():
            return False
        try:
            state = read_checkpoint(path)
        except CheckpointError as exc:
            reason = str(exc).removeprefix(f"{path}: ")
            raise CheckpointError(f"{path}: --resume cannot continue from it: {reason}. Move it away to start the "
                                  "run over in this folder, or train into a new --out") from None
        self.model.load_state_dict(state["state_dict"])
        self.opt.load_state_dict(state["meta"]["optimizer"])
        if self.ema is not None:
            ema_state = state["meta"].get("ema")
            if ema_state is None:
                raise CheckpointError(f"{path} holds no EMA weights; "
                                      "resume with the options the run started with")
            self.ema.load_state_dict(ema_state)
        train = state["meta"]["train_state"]
        self.start_epoch = train["next_epoch"]
        self.best_score, self.best_epoch = train["best_score"], train["best_epoch"]
        self.history = list(train["history"])
        self._rewrite_log()  # drop any row logged after the last checkpoint (a kill between the two)
        log.info("resumed %s at epoch %d (best %.4f at epoch %d)", path, self.start_epoch, self.best_score,
                 self.best_epoch)
        return True

    def _save_last(self, epoch: int) -> None:
        train_state = {"next_epoch": epoch + 1, "best_score": self.best_score, "best_epoch": self.best_epoch,
                       "history": self.history}
        meta = {**self.meta, "optimizer": self.opt.state_dict(), "train_state": train_state}
        if self.ema is not None:
            meta["ema"] = self.ema.state_dict()
        atomic_torch_save(checkpoint_dict(self.model, labels=self.labels, preprocessing=self.prep,
                                          variant=self.variant, meta=meta), self.out_dir / "last.pt")

    def _save_weights(self, model: FERNet, epoch: int, scores: dict, path: Path) -> None:
        """``model`` after ``epoch`` as a self-describing checkpoint (recipe and epoch in its meta)."""
        meta = {**self.meta, "epoch": epoch + 1, "train": self.cfg.to_dict()}
        atomic_torch_save(checkpoint_dict(model, labels=self.labels, preprocessing=self.prep,
                                          variant=self.variant, metrics=scores, meta=meta), path)

    def _rewrite_log(self) -> None:
        path = self.out_dir / "log.csv"
        path.unlink(missing_ok=True)
        for row in self.history:
            self._append_log(row)

    def _append_log(self, row: dict) -> None:
        path = self.out_dir / "log.csv"
        new = not path.exists()
        with open(path, "a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)

    # -- the loop ---------------------------------------------------------------------------------------

    def loss(self, logits: torch.Tensor, y: torch.Tensor, x: torch.Tensor, weight,
             soft: torch.Tensor | None = None) -> torch.Tensor:
        """Cross-entropy plus, with teachers, the knowledge-distillation term.

        Parameters
        ----------
        logits : (B, classes) tensor
            The student's outputs.
        y : (B,) int64 or (B, classes) float tensor
            Class indices, or target distributions (soft labels, mixed one-hot rows of mixup).
        x : (B, C, S, S) tensor
            The batch, which the teachers see when ``soft`` is None.
        weight : tensor or None
            Per-class weights of the cross-entropy.
        soft : (B, classes) tensor, optional
            Cached teacher targets for this batch; without them the teachers run on ``x``.

        Returns
        -------
        scalar tensor
            ``(1 - kd_alpha) * CE + kd_alpha * KD`` with teachers, else the cross-entropy alone.
        """
        loss = F.cross_entropy(logits.float(), y, weight=weight, label_smoothing=self.cfg.label_smoothing)
        if not self.teachers:
            return loss
        t = self.cfg.kd_temperature
        if soft is None:
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.cfg.bf16):
                soft = sum(torch.softmax(m(x).float() / t, dim=1) for m in self.teachers) / len(self.teachers)
        kd = F.kl_div(F.log_softmax(logits.float() / t, dim=1), soft, reduction="batchmean") * t * t
        return (1 - self.cfg.kd_alpha) * loss + self.cfg.kd_alpha * kd

    def train_epoch(self, data: ArrayData, epoch: int, progress=None) -> dict:
        cfg = self.cfg
        torch.manual_seed(cfg.seed * 1000 + epoch * 10 + self.rank)  # dropout: reproducible on resume
        gen = torch.Generator().manual_seed(cfg.seed * 7919 + epoch * 31 + self.rank)
        sampler = DistributedSampler(range(len(data)), num_replicas=self.world, rank=self.rank,
                                     shuffle=True, seed=cfg.seed, drop_last=True)
        sampler.set_epoch(epoch)
        order = np.fromiter(iter(sampler), dtype=np.int64)
        n_steps = len(order) // cfg.batch_size
        if cfg.max_steps:
            n_steps = min(n_steps, cfg.max_steps)
        weight = self._class_weights(data) if cfg.class_weighting else None
        kinds = parse_kinds(cfg.camera_kinds)
        for group in self.opt.param_groups:
            group["lr"] = self.lr_at(epoch)
        self.net.train()
        total, correct, seen, start = 0.0, 0, 0, time.perf_counter()
        for step in range(n_steps):
            idx = order[step * cfg.batch_size:(step + 1) * cfg.batch_size]
            planes = data.planes[idx]
            if cfg.augment and cfg.camera > 0:
                planes = camera_batch(planes, cfg.camera, self._camera_rng(epoch, step), kinds)
            x = to_tensor(planes, self.prep)
            y = torch.as_tensor(data.labels[idx])
            soft = torch.as_tensor(data.soft[idx]) if data.soft is not None else None
            if cfg.augment:
                x = augment_batch(x, self.augment_config(), gen)
            target = torch.as_tensor(data.target[idx]) if data.target is not None else y
            if cfg.mixup > 0:
                x, target, soft = mixup_batch(x, target, soft, cfg.mixup, self.model_cfg.num_classes, gen)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16):
                logits = self.net(x)
            loss = self.loss(logits, target, x, weight, soft)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
            self.opt.step()
            if self.ema is not None:
                self._update_ema()
            total += loss.item() * len(idx)
            correct += int((logits.argmax(1) == y).sum())
            seen += len(idx)
            if progress is not None:
                progress(len(idx), float(loss))
        secs = time.perf_counter() - start
        return {"train_loss": total / max(seen, 1), "train_acc": correct / max(seen, 1), "seconds": secs,
                "images_per_s": seen * self.world / max(secs, 1e-9)}

    def augment_config(self) -> AugmentConfig:
        """The affine and erasing augmentation of every training batch, as the config sets it."""
        return AugmentConfig(rotate_deg=self.cfg.rotate_deg, erase=self.cfg.erase)

    def _camera_rng(self, epoch: int, step: int) -> np.random.Generator:
        """The camera degradations' random stream: reproducible from (seed, epoch, step, rank)."""
        return np.random.default_rng([self.cfg.seed, epoch, step, self.rank])

    def _class_weights(self, data: ArrayData) -> torch.Tensor:
        """Per-class loss weights ``(N / count) ** class_power``, scaled so the average face weighs 1."""
        counts = np.bincount(data.labels, minlength=self.model_cfg.num_classes).astype(np.float64)
        w = (counts.sum() / np.maximum(counts, 1)) ** self.cfg.class_power
        w /= (w * counts).sum() / counts.sum()
        return torch.tensor(w, dtype=torch.float32)

    def fit(self, train: ArrayData, val: ArrayData, *, progress_factory=None, argv=None) -> TrainResult:
        """Train epochs ``start_epoch .. epochs-1``; after each, evaluate (rank 0), log, checkpoint."""
        if self.rank == 0:
            self.write_run_info(argv)
        for epoch in range(self.start_epoch, self.cfg.epochs):
            bar = (progress_factory(epoch, self._epoch_images(train))
                   if (progress_factory and self.rank == 0) else None)
            stats = self.train_epoch(train, epoch, progress=bar.step if bar else None)
            if bar:
                bar.close()
            self._average_buffers()
            if self.rank == 0:
                self._end_epoch(epoch, stats, val)
            if self.world > 1:
                dist.barrier()
        return TrainResult(self.best_epoch, self.best_score, len(self.history), self.history)

    def _average_buffers(self) -> None:
        """Average BatchNorm running statistics over the ranks (DDP syncs gradients, not buffers)."""
        if self.world == 1:
            return
        for buf in self.model.buffers():
            if buf.is_floating_point():
                dist.all_reduce(buf, op=dist.ReduceOp.SUM)
                buf.div_(self.world)

    def _epoch_images(self, train: ArrayData) -> int:
        per_rank = len(train) // self.world
        steps = per_rank // self.cfg.batch_size
        if self.cfg.max_steps:
            steps = min(steps, self.cfg.max_steps)
        return steps * self.cfg.batch_size

    def _end_epoch(self, epoch: int, stats: dict, val: ArrayData) -> None:
        probs = predict_probs(self.selected_model, val.planes, self.prep, bf16=self.cfg.bf16)
        scores = quick_scores(probs, val.labels, self.model_cfg.num_classes)
        score = scores[self.cfg.select_metric]
        improved = score > self.best_score
        if improved:
            self.best_score, self.best_epoch = score, epoch + 1
            self._save_weights(self.selected_model, epoch, scores, self.out_dir / "best.pt")
        row = {"epoch": epoch + 1, "lr": self.lr_at(epoch), **{k: round(v, 5) for k, v in stats.items()},
               "val_acc": round(scores["accuracy"], 5), "val_macro_f1": round(scores["macro_f1"], 5),
               "best": int(improved)}
        self.history.append(row)
        self._append_log(row)
        if self.cfg.keep_epochs_from and epoch + 1 >= self.cfg.keep_epochs_from:
            # the live weights (not the EMA), for weight averaging; before last.pt: a kill in between
            # redoes this epoch
            self._save_weights(self.model, epoch, scores, epoch_file(self.out_dir, epoch + 1))
        self._save_last(epoch)
        log.info("epoch %d: loss %.4f, val acc %.4f, macro-F1 %.4f%s", epoch + 1, stats["train_loss"],
                 scores["accuracy"], scores["macro_f1"], " (best)" if improved else "")
