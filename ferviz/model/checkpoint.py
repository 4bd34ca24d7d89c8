"""Checkpoints are data, not code: a state dict plus JSON-able metadata, loaded with ``weights_only=True``.

A checkpoint file (``torch.save`` of a plain dict) holds::

    format         "ferviz-checkpoint/1"
    variant        registry name of the model variant (or "custom")
    config         ModelConfig.to_dict()
    labels         class names in output order
    preprocessing  Preprocessing.to_dict()
    metrics        small dict of headline metrics (may be empty)
    meta           anything else JSON-able (dataset, split, recipe, command)
    state_dict     the model's tensors

Files are written atomically (temporary file in the same folder, fsync, ``os.replace``), so a killed
process never leaves a half-written checkpoint in place of a good one. Shipped models have a model
card ``<name>.json`` beside them whose ``sha256`` is verified on load.

Models that are not ferviz checkpoints (:data:`EXTERNAL_MODELS`: face-api.js's network) load through the
same :func:`load_checkpoint`, by registry name (``faceapi``) or folder, into the same :class:`LoadedModel`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ferviz.data.preprocess import Preprocessing
from ferviz.errors import CheckpointError
from ferviz.model.network import FERNet, ModelConfig

log = logging.getLogger(__name__)
FORMAT = "ferviz-checkpoint/1"
REQUIRED = ("format", "config", "labels", "preprocessing", "state_dict")


@dataclass
class LoadedModel:
    """A ready-to-use model (in eval mode) and everything its checkpoint said about itself."""

    model: FERNet  # or an external model (ferviz.model.faceapi.FaceApiNet): logits out, a ``cfg``
    labels: list[str]
    preprocessing: Preprocessing
    variant: str
    path: Path
    sha256: str
    metrics: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    @property
    def config(self) -> ModelConfig:
        return self.model.cfg


#: Models that are not ferviz checkpoints: registry name -> folder inside ``MODELS_DIR``. The CLI's
#: ``--model``, the app's model pickers and :func:`load_checkpoint` accept these names.
EXTERNAL_MODELS: dict[str, str] = {"faceapi": "faceapi"}


def resolve_model(path: str | Path) -> Path:
    """A registry name of :data:`EXTERNAL_MODELS` -> its folder in ``models/``; any other path unchanged."""
    from ferviz.paths import MODELS_DIR

    text = str(path)
    if text in EXTERNAL_MODELS and not Path(text).exists():
        return MODELS_DIR / EXTERNAL_MODELS[text]
    return Path(path)


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def atomic_torch_save(obj: dict, path: str | Path) -> None:
    """``torch.save`` to a temporary file beside ``path``, fsync, then rename over it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(obj, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; a checkpoint is an ordinary readable file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def checkpoint_dict(model: FERNet, *, labels, preprocessing: Preprocessing, variant: str = "custom",
                    metrics: dict | None = None, meta: dict | None = None) -> dict:
    if len(labels) != model.cfg.num_classes:
        raise ValueError(f"{len(labels)} labels for a model with {model.cfg.num_classes} outputs")
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    return {"format": FORMAT, "variant": variant, "config": model.cfg.to_dict(), "labels": list(labels),
            # the model's config is the source of the input side and mode: the stored preprocessing agrees
            "preprocessing": Preprocessing.matching(model.cfg, preprocessing).to_dict(),
            "metrics": dict(metrics or {}),
            "meta": dict(meta or {}), "state_dict": state}


def save_checkpoint(path: str | Path, model: FERNet, **kwargs) -> Path:
    """Write a self-describing checkpoint atomically; see :func:`checkpoint_dict` for the keywords."""
    atomic_torch_save(checkpoint_dict(model, **kwargs), path)
    return Path(path)


def read_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint dict safely: ``weights_only=True``, so no pickled object is ever executed."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if not zipfile.is_zipfile(path):  # torch.save has written zip archives since PyTorch 1.6, ferviz's always
        size = path.stat().st_size
        raise CheckpointError(f"{path}: not a PyTorch checkpoint ({size:,} byte{'' if size == 1 else 's'} that are not "
                              "the zip archive torch.save writes: another kind of file, or one cut short)")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(f"{path}: refused — it contains pickled objects that are not plain data "
                              "(only tensors and JSON-like values are loaded): "
                              f"{str(exc).splitlines()[0]}") from None
    except Exception as exc:  # noqa: BLE001 - any failure to parse foreign bytes is the same user error
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0] if str(exc) else 'no detail'})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a ferviz checkpoint (expected a dict with format={FORMAT!r}); "
                              "train one with `ferviz train` or pick a file from models/")
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise CheckpointError(f"{path}: checkpoint lacks {', '.join(missing)}")
    return data


def card_path(path: str | Path) -> Path:
    return Path(path).with_suffix(".json")


def expected_sha256(path: str | Path) -> str | None:
    """The sha256 recorded in the model card beside ``path`` (``<stem>.json``), if there is one."""
    card = card_path(path)
    if not card.is_file():
        return None
    try:
        return json.loads(card.read_text()).get("sha256")
    except (json.JSONDecodeError, OSError) as exc:
        raise CheckpointError(f"{card}: unreadable model card ({exc})") from None


def load_checkpoint(path: str | Path, *, verify: bool = True) -> LoadedModel:
    """Load a checkpoint into an eval-mode model. With ``verify`` the file's sha256 must match its card.

    ``path`` may also be a registry name of :data:`EXTERNAL_MODELS` (``faceapi``) or such a model's folder.
    """
    path = resolve_model(path).resolve()
    if path.is_dir():
        from ferviz.model import faceapi  # torch-only module; imported when such a model is asked for

        if faceapi.is_faceapi_folder(path):
            return _load_faceapi(faceapi, path, verify)
        raise CheckpointError(f"{path}: a folder, not a checkpoint; give a .pt file or one of "
                              f"{', '.join(EXTERNAL_MODELS)}")
    digest = file_sha256(path) if path.is_file() else ""
    want = expected_sha256(path) if verify else None
    if want is not None and want != digest:
        raise CheckpointError(f"{path}: sha256 {digest[:12]}… does not match its model card "
                              f"({want[:12]}…); the file was changed or replaced — restore it from git")
    data = read_checkpoint(path)
    try:
        cfg = ModelConfig.from_dict(data["config"])
        model = FERNet(cfg)
        model.load_state_dict(data["state_dict"])
    except (ValueError, TypeError, RuntimeError, KeyError) as exc:
        raise CheckpointError(f"{path}: weights do not fit the recorded config: "
                              f"{str(exc).splitlines()[0]}") from None
    model.eval()
    return LoadedModel(model=model, labels=list(data["labels"]),
                       preprocessing=Preprocessing.matching(cfg, Preprocessing.from_dict(data["preprocessing"])),
                       variant=str(data.get("variant", "custom")), path=path, sha256=digest,
                       metrics=dict(data.get("metrics", {})), meta=dict(data.get("meta", {})))


def _load_faceapi(faceapi, folder: Path, verify: bool) -> LoadedModel:
    """face-api.js's weights in ``folder`` as a :class:`LoadedModel` (FER2013 labels, rgb input).

    With ``verify``, the ``.bin``'s sha256 must match ``sha256`` in the model card beside the folder
    (``<folder>.json``, e.g. ``models/faceapi.json``) when there is one.
    """
    from ferviz.data.labels import EMOTIONS

    digest = faceapi.weights_sha256(folder)
    want = expected_sha256(folder) if verify else None
    if want is not None and want != digest:
        raise CheckpointError(f"{folder}: weights sha256 {digest[:12]}… do not match the model card "
                              f"({want[:12]}…); the files were changed or replaced — restore them from git")
    return LoadedModel(model=faceapi.load_faceapi(folder), labels=list(EMOTIONS), preprocessing=faceapi.PREPROCESSING,
                       variant="faceapi", path=folder, sha256=digest, meta=dict(faceapi.META))
