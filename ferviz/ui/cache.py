"""Heavy objects shared by every browser session (``st.cache_resource``): treat them as read-only.

The model is used under ``torch.no_grad`` in eval mode only; anything that needs hooks (Captum's
Grad-CAM, ...) works on a per-call copy (see ``ferviz.explain``), so sharing is thread-safe.
"""

from __future__ import annotations

import atexit
import logging
import threading
from pathlib import Path

import numpy as np
import streamlit as st

from ferviz.data.datasets import FaceDataset, load_dataset
from ferviz.model.checkpoint import EXTERNAL_MODELS, LoadedModel, load_checkpoint
from ferviz.paths import DEFAULT_MODEL, MODELS_DIR
from ferviz.pipeline.faces import FaceOptions
from ferviz.pipeline.inference import predict
from ferviz.serve.access import dataset_from_upload, resolve_dataset_path

log = logging.getLogger(__name__)


@st.cache_resource(show_spinner="Loading model…", max_entries=8)
def _load(path: str, mtime: float) -> LoadedModel:  # mtime: a replaced file is reloaded
    loaded = load_checkpoint(path)
    warm_up(loaded)
    return loaded


def warm_up(loaded: LoadedModel) -> threading.Thread:
    """Run one throw-away prediction (detector and model) in a background thread, once per loaded model.

    The first prediction of a process pays for the detector's set-up and torch's first-call work (about
    7 s against 0.2-0.7 s later, bench/first_prediction.py); this pays it while the visitor is still
    choosing a picture. The model is only read (eval mode, no_grad), so a visitor's request may run at the
    same time.
    """
    def work() -> None:
        try:
            predict(loaded, np.full((240, 320, 3), 128, np.uint8), options=FaceOptions(fallback="centre"))
        except Exception:  # a warm-up never breaks the app; the real request will report the problem
            log.warning("warming up %s failed", loaded.path, exc_info=True)

    thread = threading.Thread(target=work, name="ferviz-warm-up", daemon=True)
    thread.start()
    _WARMING.append(thread)
    return thread


#: Warm-up threads started in this process: joined at exit, because a daemon thread still inside torch when
#: the interpreter finalises aborts the process ("terminate called without an active exception", exit 134).
_WARMING: list[threading.Thread] = []


@atexit.register
def _finish_warm_ups(timeout: float = 60.0) -> None:
    for thread in _WARMING:
        thread.join(timeout)


def load_model(path: str | Path) -> LoadedModel:
    """The cached, shared model for a checkpoint path or an external model's folder (verified against its card)."""
    path = Path(path).resolve()
    files = sorted(path.iterdir()) if path.is_dir() else [path]  # a folder model: its newest file decides
    return _load(str(path), max((p.stat().st_mtime for p in files), default=path.stat().st_mtime))


def shipped_models() -> dict[str, Path]:
    """Display name -> path of every checkpoint in ``models/``, the default first, then external models
    (``faceapi``: a folder of another format, see ``ferviz.model.checkpoint.EXTERNAL_MODELS``)."""
    paths = sorted(MODELS_DIR.glob("*.pt"), key=lambda p: (p != DEFAULT_MODEL, p.name))
    external = {name: MODELS_DIR / folder for name, folder in EXTERNAL_MODELS.items()}
    return {**{p.stem: p for p in paths}, **{n: p for n, p in external.items() if p.is_dir()}}


@st.cache_resource(show_spinner="Reading the dataset…", max_entries=2)
def _dataset(path: str, mtime: float) -> FaceDataset:
    return load_dataset("auto", path)


def load_dataset_cached(text: str) -> FaceDataset:
    """A dataset the user points to (must exist; in shared mode, inside the operator's roots), read once."""
    path = resolve_dataset_path(text)
    return _dataset(str(path), path.stat().st_mtime)


@st.cache_resource(show_spinner="Reading the uploaded dataset…", max_entries=2)
def _uploaded(name: str, digest: str, _data: bytes) -> FaceDataset:
    return dataset_from_upload(name, _data)


def load_uploaded_dataset(name: str, data: bytes) -> FaceDataset:
    """A dataset uploaded as an .npz or a .zip, read once per content (keyed by its sha256)."""
    import hashlib

    return _uploaded(name, hashlib.sha256(data).hexdigest(), data)
