"""ferviz: facial expression recognition with a DCNN-BiLSTM dual-attention model, explained.

The public API: what scripts, notebooks, the CLI and the app call, so the packages inside can move
without breaking them.

>>> import ferviz
>>> model = ferviz.load_model()                      # the shipped model, ferviz.DEFAULT_MODEL
>>> pred = ferviz.predict(model, "photo.jpg")        # bytes, a path or an array
>>> [(face.label, face.confidence) for face in pred.faces]
>>> data = ferviz.load_dataset("fer2013.csv")        # the format is guessed from the file
>>> ferviz.evaluate(model, data, split="PublicTest").report.format_table()

``import ferviz`` stays light: every function imports what it needs when it is first called, and the
names below resolve lazily. The core never imports Streamlit; ``ferviz.ui`` is the only bridge to the
app. The layers (docs/DESIGN.md has the map): ``data`` -> ``pipeline`` / ``model`` -> ``train``,
``results``, ``explain`` -> ``figures`` -> ``ui`` -> pages; ``serve`` runs the app for a room.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - names for annotations only
    import numpy as np

    from ferviz.data.datasets import FaceDataset
    from ferviz.model.checkpoint import LoadedModel
    from ferviz.pipeline.faces import FaceOptions
    from ferviz.pipeline.inference import ImagePrediction
    from ferviz.results.evaluation import Evaluation

__version__ = "0.1.0"

__all__ = ["DEFAULT_MODEL", "evaluate", "load_dataset", "load_model", "predict", "__version__"]

#: Names resolved on first access (module, attribute), so ``import ferviz`` imports neither torch nor pandas.
_LAZY = {
    "DEFAULT_MODEL": ("ferviz.paths", "DEFAULT_MODEL"),
    "MODELS_DIR": ("ferviz.paths", "MODELS_DIR"),
    "LoadedModel": ("ferviz.model.checkpoint", "LoadedModel"),
    "FaceDataset": ("ferviz.data.datasets", "FaceDataset"),
    "FaceOptions": ("ferviz.pipeline.faces", "FaceOptions"),
    "ImagePrediction": ("ferviz.pipeline.inference", "ImagePrediction"),
    "Evaluation": ("ferviz.results.evaluation", "Evaluation"),
    "FervizError": ("ferviz.errors", "FervizError"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'ferviz' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def load_model(path: str | Path | None = None, *, verify: bool = True) -> LoadedModel:
    """Load a checkpoint for inference (eval mode, CPU, ``torch.load(weights_only=True)``).

    Parameters
    ----------
    path : str or Path, optional
        A ``.pt`` file written by ``ferviz train`` / ``ferviz ship``; default :data:`DEFAULT_MODEL`.
    verify : bool
        Check the file's SHA-256 against its model card when it has one (a shipped model).

    Returns
    -------
    LoadedModel
        The network, its class labels, its preprocessing (input side and mode) and its metadata.

    Raises
    ------
    ferviz.errors.CheckpointError
        A missing, corrupt or foreign file, with a message saying what to do.
    """
    from ferviz.model.checkpoint import load_checkpoint
    from ferviz.paths import DEFAULT_MODEL

    return load_checkpoint(DEFAULT_MODEL if path is None else path, verify=verify)


def _as_model(model: LoadedModel | str | Path | None) -> LoadedModel:
    return model if hasattr(model, "preprocessing") else load_model(model)


def predict(model: LoadedModel | str | Path | None, image: bytes | str | Path | np.ndarray, *,
            name: str | None = None, options: FaceOptions | None = None, tta: str = "none") -> ImagePrediction:
    """Every face in one picture, with its expression probabilities.

    Parameters
    ----------
    model : LoadedModel, str, Path or None
        A model from :func:`load_model`, or a checkpoint path to load (None: the shipped model).
    image : bytes, str, Path or ndarray
        A file's bytes or path (decoded as an untrusted image), an (H, W, 3) uint8 RGB picture (faces
        are detected first), or an (H, W) uint8 gray face crop (classified as it is).
    name : str, optional
        Shown in messages and results.
    options : FaceOptions, optional
        Detector, minimum confidence, no-face fallback, alignment, face cap (default: YuNet, no fallback).
    tta : str
        Test-time augmentation: ``none``, ``flip`` or ``ten_crop``.

    Returns
    -------
    ImagePrediction
        ``faces`` (each with ``box``, ``label``, ``confidence`` and ``probs``), empty with a ``message``
        when no face was found; ``rows()`` gives one dict per face.
    """
    from ferviz.pipeline.faces import FaceOptions
    from ferviz.pipeline.inference import predict as predict_content

    return predict_content(_as_model(model), image, name=name, options=options or FaceOptions(), tta=tta)


def load_dataset(path: str | Path, kind: str = "auto", *, size: int | None = None,
                 strict: bool = False) -> FaceDataset:
    """Read a labelled face dataset (FER2013, CK+, JAFFE, RAF-DB, an ``.npz`` or a folder per class).

    Parameters
    ----------
    path : str or Path
        The release's file or root folder.
    kind : str
        The reader (``fer2013``, ``ckplus``, ``jaffe``, ``rafdb``, ``npz``, ``folder``); ``auto`` guesses
        it from the files.
    size : int, optional
        Resize every image to ``size x size`` pixels while reading.
    strict : bool
        Raise on the first bad item instead of skipping it (the reader reports what it skipped).

    Returns
    -------
    FaceDataset
        ``images`` (N, H, W) uint8, ``labels`` (N,) int, ``usage`` per item; ``split(name)`` selects one.
    """
    from ferviz.data.datasets import load_dataset as read

    return read(kind, path, size=size, strict=strict)


def evaluate(model: LoadedModel | str | Path | None, dataset: FaceDataset | str | Path, *,
             split: str | None = None, batch_size: int = 256, tta: str = "none") -> Evaluation | None:
    """Score a model on a dataset: accuracy, per-class and macro metrics, confusion matrix, calibration.

    Parameters
    ----------
    model : LoadedModel, str, Path or None
        A model from :func:`load_model`, or a checkpoint path (None: the shipped model).
    dataset : FaceDataset, str or Path
        A dataset from :func:`load_dataset`, or a path to read with ``kind='auto'``.
    split : str, optional
        Score only the items of this usage (e.g. ``PublicTest``); default all of them.
    batch_size : int
        Faces per forward pass.
    tta : str
        Test-time augmentation (``none``, ``flip``, ``ten_crop``), recorded in the report.

    Returns
    -------
    Evaluation or None
        ``report`` (a :class:`ferviz.results.metrics.MetricReport`) and the per-item probabilities; None on a
        torchrun rank other than 0.
    """
    from ferviz.results.evaluation import evaluate as score

    ds = load_dataset(dataset) if isinstance(dataset, str | Path) else dataset
    if split:
        ds = ds.split(split)
    return score(_as_model(model), ds, split=split or "all", batch_size=batch_size, tta=tta)
