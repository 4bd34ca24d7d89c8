"""How a model does where people agree, and against the crowd's labels (FER+ votes beside FER2013).

* :func:`votes_for_sources` looks up FER+'s votes of FER2013 faces by their source name (the FER2013
  archive's ``source_name``, e.g. ``test/happy/PublicTest_10066130.jpg``); :func:`face_votes` does it for
  one face, for the pages that show one;
* :func:`agreement_metrics` scores predictions split by the agreement bands of
  :data:`ferviz.data.ferplus.AGREEMENT_BANDS`, on the faces whose FER2013 label the FER+ majority shares
  ("agreed") and against the FER+ majority label, each accuracy with a bootstrap interval.

Everything is keyed by class *name*, so a model whose output order differs from FER2013's is scored right.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ferviz.data import ferplus
from ferviz.data.ferplus import AGREEMENT_BANDS, FerPlusVotes, agreement_band, load_votes
from ferviz.data.labels import ALL_LABELS
from ferviz.errors import DatasetError
from ferviz.results.significance import bootstrap_ci

#: Environment variable naming a ``ferplus_votes.npz`` for the pages that show FER2013 faces.
VOTES_ENV = "FERVIZ_FERPLUS_VOTES"
#: The FER2013 class order of :attr:`FerPlusVotes.counts`.
FER2013_CLASSES: tuple[str, ...] = tuple(ALL_LABELS[:7])


def default_votes_path() -> Path | None:
    """``$FERVIZ_FERPLUS_VOTES`` when it names a file, else None."""
    value = os.environ.get(VOTES_ENV, "").strip()
    return Path(value) if value and Path(value).is_file() else None


@functools.lru_cache(maxsize=4)
def _cached_votes(path: str, mtime: float) -> FerPlusVotes:
    return load_votes(path)


def votes_for_sources(sources: Any, votes_path: str | Path) -> FerPlusVotes:
    """FER+ votes of FER2013 faces named by their source name, in the order given, from a votes file.

    The file is read once per path and modification time; unknown names get no votes (``matched`` False,
    :func:`ferviz.data.ferplus.votes_for_sources` with ``missing="empty"``).
    """
    path = Path(votes_path)
    if not path.is_file():
        raise DatasetError(f"{path}: no FER+ votes file (ferplus_votes.npz)")
    votes = _cached_votes(str(path.resolve()), path.stat().st_mtime)
    return ferplus.votes_for_sources(votes, sources, missing="empty")


@dataclass(frozen=True)
class FaceVotes:
    """FER+'s votes for one FER2013 face, ready to show (:func:`ferviz.figures.votes.votes_bar`)."""

    source: str
    counts: tuple[int, ...]  # votes per FER2013 class, in FER2013_CLASSES order
    other: int  # contempt, unknown or not a face
    majority: str | None  # the FER+ majority class, None when there is none
    agreement: int  # annotators of 10 who chose it (0: none)


def face_votes(source: str, votes_path: str | Path | None = None) -> FaceVotes | None:
    """FER+'s votes for the FER2013 face named ``source`` (e.g. ``test/fear/PublicTest_92046854.jpg``).

    Parameters
    ----------
    source : str
        The FER2013 archive's ``source_name`` of the face.
    votes_path : str or Path, optional
        ``ferplus_votes.npz``; default ``$FERVIZ_FERPLUS_VOTES``.

    Returns
    -------
    FaceVotes or None
        None when there is no votes file, or the name has no FER+ row.
    """
    path = Path(votes_path) if votes_path else default_votes_path()
    if path is None or not path.is_file():
        return None
    votes = votes_for_sources([source], path)
    if not votes.matched[0]:
        return None
    majority = int(votes.majority[0])
    return FaceVotes(str(source), tuple(int(c) for c in votes.counts[0]), int(votes.other[0]),
                     FER2013_CLASSES[majority] if majority >= 0 else None, int(votes.agreement[0]))


def model_order(votes: FerPlusVotes, class_names: Any) -> tuple[np.ndarray, np.ndarray]:
    """The FER+ majority and vote counts in a model's class order.

    Returns
    -------
    majority : (N,) int64
        Index into ``class_names``; -1 where there is no majority or the model lacks the class.
    counts : (N, K) int64
        Votes per model class (0 for a class FER+ does not have).
    """
    names = [str(n) for n in class_names]
    lut = np.array([names.index(c) if c in names else -1 for c in FER2013_CLASSES], np.int64)
    majority = votes.majority
    mapped = np.where(majority >= 0, lut[np.maximum(majority, 0)], -1)
    counts = np.zeros((len(votes), len(names)), np.int64)
    for k, pos in enumerate(lut):
        if pos >= 0:
            counts[:, pos] = votes.counts[:, k]
    return np.where(votes.usable, mapped, -1), counts


def _scored(y_true: np.ndarray, y_pred: np.ndarray, k: int, n_boot: int, seed: int) -> dict[str, Any]:
    if not len(y_true):
        return {"n": 0, "accuracy": None}
    return {"n": int(len(y_true)),
            "accuracy": bootstrap_ci(y_true, y_pred, "accuracy", n_classes=k, n_boot=n_boot, seed=seed).to_dict()}


def _matrix(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> list[list[int]]:
    m = np.zeros((k, k), np.int64)
    np.add.at(m, (y_true, y_pred), 1)
    return m.tolist()


def disputed_errors(errors: dict[str, int]) -> int:
    """Of an :func:`agreement_metrics` ``errors`` count, the errors on faces where people disagree: 7 or fewer
    of 10 annotators chose the same class, or no FER+ majority (every error outside the first band of
    :data:`ferviz.data.ferplus.AGREEMENT_BANDS`)."""
    return int(errors["total"]) - int(errors.get(AGREEMENT_BANDS[0][0], 0))


def agreement_metrics(y_true: Any, y_pred: Any, votes: FerPlusVotes, class_names: Any, *, n_boot: int = 2000,
                      seed: int = 0) -> dict[str, Any]:
    """A model's scores split by human agreement and against the FER+ majority (JSON-able).

    Parameters
    ----------
    y_true, y_pred : (N,) int
        Given (FER2013) labels and predictions, indices into ``class_names``.
    votes : FerPlusVotes
        The items' FER+ votes, row-aligned.
    class_names : sequence of str
        The model's classes.
    n_boot, seed : int
        Bootstrap resamples and seed of every interval.

    Returns
    -------
    dict
        ``all``; ``bands`` (one per agreement band: n, accuracy with interval, confusion matrix, errors);
        ``agreed`` (faces whose FER2013 label is the FER+ majority); ``ferplus_majority`` (predictions
        scored against the majority on faces that have one: accuracy and macro-F1 with intervals,
        confusion matrix); ``errors`` (how many of the model's errors fall in each band).
    """
    t, p = np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)
    if len(t) != len(votes) or len(p) != len(t):
        raise DatasetError(f"{len(votes)} rows of votes for {len(t)} labels and {len(p)} predictions")
    k = len(class_names)
    majority, _ = model_order(votes, class_names)
    band = agreement_band(votes.agreement * votes.usable)
    wrong = p != t
    out: dict[str, Any] = {"all": _scored(t, p, k, n_boot, seed), "bands": [], "errors": {}}
    for name, _, _ in AGREEMENT_BANDS:
        m = band == name
        out["bands"].append({"band": name, **_scored(t[m], p[m], k, n_boot, seed),
                             "errors": int((wrong & m).sum()), "matrix": _matrix(t[m], p[m], k)})
        out["errors"][name] = int((wrong & m).sum())
    out["errors"]["no FER+ majority"] = int((wrong & (band == "")).sum())
    out["errors"]["total"] = int(wrong.sum())
    agreed = (majority >= 0) & (majority == t)
    out["agreed"] = {**_scored(t[agreed], p[agreed], k, n_boot, seed),
                     "definition": "faces whose FER2013 label is the FER+ majority label"}
    has = majority >= 0
    maj = _scored(majority[has], p[has], k, n_boot, seed)
    if has.any():
        maj["macro_f1"] = bootstrap_ci(majority[has], p[has], "macro_f1", n_classes=k, n_boot=n_boot,
                                       seed=seed).to_dict()
    out["ferplus_majority"] = {**maj, "matrix": _matrix(majority[has], p[has], k),
                               "label_agrees": int((majority[has] == t[has]).sum()),
                               "definition": "predictions scored against the FER+ majority label, on faces "
                                             "that have one"}
    return out


#: How a gallery can order its faces -> what it means.
GALLERY_ORDERS: dict[str, str] = {
    "confidence": "the model's most confident first",
    "agreement_low": "faces people disagree about first",
    "agreement_high": "faces people agree on first",
}
#: Gallery filter for faces without a FER+ majority.
NO_MAJORITY = "no FER+ majority"


def order_items(indices: Any, confidence: Any, agreement: Any | None = None, *, band: str | None = None,
                order: str = "confidence") -> np.ndarray:
    """Filter a gallery's items by agreement band and order them.

    Parameters
    ----------
    indices : (M,) int
        The items (positions in ``confidence`` and ``agreement``).
    confidence : (N,) float
        The model's confidence per item (ties keep the order of ``indices``).
    agreement : (N,) int, optional
        Annotators of 10 who chose the FER+ majority (0: none); needed for bands and agreement orders.
    band : str, optional
        A band name of :data:`ferviz.data.ferplus.AGREEMENT_BANDS` or :data:`NO_MAJORITY`; None keeps all.
    order : str
        A key of :data:`GALLERY_ORDERS`; agreement orders break ties by confidence.
    """
    indices = np.asarray(indices, np.int64)
    conf = np.asarray(confidence, float)
    if order not in GALLERY_ORDERS:
        raise ValueError(f"unknown order {order!r}; choose one of {', '.join(GALLERY_ORDERS)}")
    if agreement is None:
        if band is not None or order != "confidence":
            raise ValueError("filtering or ordering by agreement needs the FER+ votes")
        return indices[np.argsort(-conf[indices], kind="stable")]
    agree = np.asarray(agreement)
    if band is not None:
        names = agreement_band(agree[indices])
        indices = indices[names == ("" if band == NO_MAJORITY else band)]
    if order == "confidence":
        return indices[np.argsort(-conf[indices], kind="stable")]
    sign = 1 if order == "agreement_low" else -1
    return indices[np.lexsort((-conf[indices], sign * agree[indices]))]
