"""Stochastic weight averaging (SWA) after the fact: the mean of several epochs' weights of one run.

A run trained with ``--keep-epochs-from K`` leaves ``epochs/epoch_NNN.pt`` for every epoch from K on;
:func:`average_checkpoints` averages their parameters with torch's own
:class:`torch.optim.swa_utils.AveragedModel` (an equal-weight running mean) and then, because the
BatchNorm statistics of an average of weights are not the average of the statistics, recomputes them
with :func:`torch.optim.swa_utils.update_bn` on the training faces (un-augmented). The result is an
ordinary self-describing checkpoint: ``ferviz evaluate``/``predict``/``ship`` use it like any other.
``ferviz average`` is the command line.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel, update_bn

from ferviz.data.preprocess import to_tensor
from ferviz.errors import CheckpointError
from ferviz.model.checkpoint import LoadedModel, atomic_torch_save, checkpoint_dict, load_checkpoint

log = logging.getLogger(__name__)

EPOCHS_DIR = "epochs"  # inside a run folder: one weights file per kept epoch
_EPOCH_FILE = re.compile(r"epoch_(\d+)\.pt$")


def epoch_file(run_dir: str | Path, epoch: int) -> Path:
    """``run_dir/epochs/epoch_NNN.pt`` for a 1-based epoch number."""
    return Path(run_dir) / EPOCHS_DIR / f"epoch_{epoch:03d}.pt"


def run_folder(checkpoint: str | Path) -> Path:
    """The run a checkpoint belongs to: ``<run>`` for ``<run>/epochs/epoch_NNN.pt`` and for ``<run>/x.pt``."""
    parent = Path(checkpoint).parent
    return parent.parent if parent.name == EPOCHS_DIR else parent


def kept_epochs(run_dir: str | Path, first: int = 1, last: int | None = None) -> list[Path]:
    """The kept epoch files of a run with ``first <= epoch <= last``, in epoch order.

    Raises
    ------
    CheckpointError
        When the run kept no epoch in that range (with what it did keep, and how to keep them).
    """
    folder = Path(run_dir) / EPOCHS_DIR
    found = sorted((int(m.group(1)), p) for p in folder.glob("epoch_*.pt")
                   if (m := _EPOCH_FILE.search(p.name)))
    chosen = [p for n, p in found if n >= first and (last is None or n <= last)]
    if not chosen:
        have = f"epochs {found[0][0]}-{found[-1][0]}" if found else "no epoch files"
        raise CheckpointError(f"{folder}: {have}, none in {first}-{last or 'end'}; train with "
                              "--keep-epochs-from N to keep every epoch from N on")
    return chosen


@dataclass
class Averaged:
    """An averaged model and where it came from."""

    loaded: LoadedModel  # the model (eval mode), labels and preprocessing of the first source
    sources: list[str]  # the checkpoints averaged, in order
    bn_faces: int  # training faces the BatchNorm statistics were recomputed on (0 = averaged, not recomputed)


def _same_model(first: LoadedModel, other: LoadedModel) -> None:
    for what, a, b in (("model config", first.config.to_dict(), other.config.to_dict()),
                       ("labels", first.labels, other.labels),
                       ("preprocessing", first.preprocessing.input_part().to_dict(),
                        other.preprocessing.input_part().to_dict())):
        if a != b:
            raise CheckpointError(f"{other.path}: its {what} differs from {first.path}'s; "
                                  "only epochs of one run (one architecture) can be averaged")


def average_checkpoints(paths: list[str | Path], planes: np.ndarray | None = None, batch_size: int = 256,
                        progress=None, first: LoadedModel | None = None) -> Averaged:
    """The equal-weight mean of the checkpoints' weights, with BatchNorm recomputed on ``planes``.

    Parameters
    ----------
    paths : list of paths
        Checkpoints of one architecture (usually one run's kept epochs).
    planes : (N, C, S, S) uint8 ndarray, optional
        Prepared training planes for the BatchNorm pass; None keeps the averaged running statistics.
    batch_size : int
        Planes per forward pass of the BatchNorm pass.
    progress : callable, optional
        Called as ``progress(n)`` after each checkpoint (n = 1) and each BatchNorm batch (n = its size).
    first : LoadedModel, optional
        ``paths[0]`` already loaded (the caller read its preprocessing); it is not read again.

    Returns
    -------
    Averaged
    """
    if not paths:
        raise CheckpointError("nothing to average: give at least one checkpoint")
    if planes is not None and not len(planes):
        planes = None  # no faces to recompute on: average the statistics instead
    first = first if first is not None else load_checkpoint(paths[0], verify=False)
    # AveragedModel keeps an equal-weight running mean; its first update copies, later ones average.
    # Buffers (BatchNorm statistics) are averaged too only when they are not recomputed afterwards.
    swa = AveragedModel(first.model, use_buffers=planes is None)
    for path in paths:
        other = first if path == paths[0] else load_checkpoint(path, verify=False)
        _same_model(first, other)
        swa.update_parameters(other.model)
        if progress is not None:
            progress(1)
    model = first.model
    model.load_state_dict(swa.module.state_dict())
    if planes is not None:
        def batches():
            for start in range(0, len(planes), batch_size):
                x = to_tensor(planes[start:start + batch_size], first.preprocessing)
                yield x
                if progress is not None:
                    progress(len(x))
        with torch.no_grad():
            update_bn(batches(), model)
    model.eval()
    return Averaged(first, [str(p) for p in paths], len(planes) if planes is not None else 0)


def describe_average(meta: dict) -> str:
    """One sentence on how an averaged checkpoint was made ("" for an ordinary one), for its model card.

    The ``ferviz average`` command is left out: the card's reproduce block lists it. Checkpoints from
    more than one run folder (a soup of runs) are named per folder, in the order given.
    """
    sources = [Path(p) for p in meta.get("averaged_from") or []]
    if not sources:
        return ""
    runs: dict[str, list[str]] = {}  # run folder -> its checkpoint names, in order
    for path in sources:
        runs.setdefault(run_folder(path).name, []).append(path.name)

    def span(names: list[str]) -> str:
        return names[0] if len(names) == 1 else f"{names[0]} … {names[-1]}"

    if len(runs) == 1:
        what = f"({span(next(iter(runs.values())))}) of the last stage"
    else:
        what = "(" + "; ".join(f"{len(n)} of run {run}: {span(n)}" for run, n in runs.items()) + \
            f") of {len(runs)} runs of the last stage"
    bn = meta.get("bn_recomputed_on") or 0
    how = (f"BatchNorm statistics recomputed on {bn} un-augmented training faces" if bn
           else "BatchNorm statistics averaged")
    return f"Weights: the mean of {len(sources)} checkpoints {what} (stochastic weight averaging), {how}."


def save_averaged(avg: Averaged, out: str | Path, command: str = "") -> Path:
    """Write the averaged model as a self-describing checkpoint; its meta names the sources and command."""
    src = avg.loaded
    meta = {**src.meta, "averaged_from": avg.sources, "bn_recomputed_on": avg.bn_faces,
            "average_command": command}
    for key in ("optimizer", "train_state", "ema", "epoch"):  # one source's epoch / resume state: not ours
        meta.pop(key, None)
    out = Path(out)
    atomic_torch_save(checkpoint_dict(src.model, labels=src.labels, preprocessing=src.preprocessing,
                                      variant=src.variant, meta=meta), out)
    return out
