"""Labels that are probably wrong: confident learning on probabilities that did not see the item.

Confident learning (Northcutt, Jiang & Chuang, JAIR 2021) compares each item's given label with a model's
predicted probabilities, using per-class confidence thresholds so that a class the model is shy about is
not flagged wholesale. ferviz calls ``cleanlab.filter.find_label_issues`` for it (:data:`FILTERS` lists
the rules it offers here). The probabilities must come from models that never trained on the item:

* a **test split** scored by the shipped models (:func:`ensemble_probs` averages several), or
* **out-of-fold** probabilities on a small dataset (:func:`out_of_fold_probs`: HOG and thumbnail features
  and a logistic regression, K folds, each item scored by the model of the fold that left it out).

:func:`find_label_issues` returns a :class:`LabelIssues`: the flagged items, most likely wrong first, with
their given label, a suggested label (the most probable *other* class) and a score in [0, 1] (one minus the
probability of the given label). :func:`flip_labels` and :func:`flip_check` measure the finder on labels
flipped on purpose.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ferviz.errors import FervizError

log = logging.getLogger(__name__)

#: ``filter_by`` rules of cleanlab offered here -> what they flag.
FILTERS: dict[str, str] = {
    "prune_by_noise_rate": "for each off-diagonal cell of the confident joint, the items most over-confident "
                           "in the other class, as many as the cell estimates (cleanlab's default)",
    "prune_by_class": "for each given class, the items with the lowest probability of it, as many as the "
                      "confident joint estimates are mislabelled in that class",
    "both": "items flagged by both prune_by_noise_rate and prune_by_class",
    "confident_learning": "the off-diagonal of the confident joint: an item whose probability of another "
                          "class reaches that class's mean self-confidence",
    "predicted_neq_given": "every item whose most probable class is not its given label (a baseline)",
}
DEFAULT_FILTER = "both"
#: Side of the thumbnail whose pixels join the HOG features of :func:`out_of_fold_probs`.
THUMB = 12
#: Inverse regularisation strength of the out-of-fold logistic regressions.
C_OOF = 0.5
#: What :func:`out_of_fold_probs` fits, for the reports.
OOF_MODEL = (f"HOG (8 px cells, 9 bins, 2x2 blocks) and {THUMB}x{THUMB} thumbnail pixels, standardised, "
             "logistic regression (C = {C_OOF})")


@dataclass(frozen=True)
class LabelIssues:
    """Items whose given label is probably wrong, most likely wrong first.

    Attributes
    ----------
    index : (M,) int ndarray
        Positions of the flagged items in the scored arrays.
    given, suggested : (M,) int ndarray
        Their given label and the most probable other class.
    score : (M,) float ndarray
        ``1 - p(given label)`` in [0, 1]; higher means more likely wrong.
    n : int
        Items examined.
    method : dict
        The method and its settings (JSON-able).
    """

    index: np.ndarray
    given: np.ndarray
    suggested: np.ndarray
    score: np.ndarray
    n: int
    method: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.index)

    def mask(self) -> np.ndarray:
        """(n,) bool: which items are flagged."""
        out = np.zeros(self.n, bool)
        out[self.index] = True
        return out


def _check(labels: Any, probs: Any) -> tuple[np.ndarray, np.ndarray]:
    labels, probs = np.asarray(labels, np.int64), np.asarray(probs, np.float64)
    if probs.ndim != 2 or len(probs) != len(labels):
        raise FervizError(f"probabilities must be (N, K) for N = {len(labels)} labels; got {probs.shape}")
    if len(labels) and (labels.min() < 0 or labels.max() >= probs.shape[1]):
        raise FervizError(f"labels must index the {probs.shape[1]} classes of the probabilities")
    if not np.all(np.isfinite(probs)) or (probs < 0).any():
        raise FervizError("probabilities must be finite and non-negative")
    return labels, probs / np.maximum(probs.sum(1, keepdims=True), 1e-12)


def suggested_labels(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """(N,) the most probable class other than the given one."""
    masked = np.array(probs, np.float64, copy=True)
    masked[np.arange(len(labels)), labels] = -1.0
    return masked.argmax(1)


def find_label_issues(labels: Any, probs: Any, *, filter_by: str = DEFAULT_FILTER) -> LabelIssues:
    """Flag the items whose label is probably wrong (confident learning through cleanlab).

    Parameters
    ----------
    labels : (N,) int
        Given labels, indices into the K classes.
    probs : (N, K) float
        Out-of-sample class probabilities (rows are renormalised to sum to 1).
    filter_by : str
        A key of :data:`FILTERS`.

    Returns
    -------
    LabelIssues
        Ordered by score, highest first.

    Raises
    ------
    FervizError
        On mismatched shapes, a label outside the classes, an unknown rule, or cleanlab missing.
    """
    labels, probs = _check(labels, probs)
    if filter_by not in FILTERS:
        raise FervizError(f"unknown rule {filter_by!r}; choose one of {', '.join(FILTERS)}")
    method: dict[str, Any] = {"name": "confident learning", "filter_by": filter_by,
                              "description": FILTERS[filter_by], "score": "1 - p(given label)",
                              "suggested": "the most probable class other than the given one"}
    if filter_by == "predicted_neq_given":
        flagged = probs.argmax(1) != labels
    else:
        try:
            import cleanlab
            from cleanlab.filter import find_label_issues as cleanlab_issues
        except ImportError as exc:  # pragma: no cover - a pinned dependency
            raise FervizError("the label-noise finder needs cleanlab: pip install cleanlab==2.9.0") from exc
        present = np.unique(labels)
        if len(present) < 2:
            raise FervizError("confident learning needs at least two classes among the given labels")
        with warnings.catch_warnings():  # "too few examples in class k": small classes, said in the method
            warnings.filterwarnings("ignore", message="May not flag all label issues", category=UserWarning)
            flagged = np.asarray(cleanlab_issues(labels, probs, filter_by=filter_by, n_jobs=1), bool)
        method["library"] = f"cleanlab {cleanlab.__version__}"
    index = np.flatnonzero(flagged)
    score = 1.0 - probs[index, labels[index]]
    order = np.argsort(-score, kind="stable")
    index = index[order]
    return LabelIssues(index, labels[index], suggested_labels(labels[index], probs[index]), score[order],
                       len(labels), method)


def ensemble_probs(probs: Sequence[np.ndarray]) -> np.ndarray:
    """(N, K) mean of several models' probabilities on the same items (one model: itself)."""
    if not probs:
        raise FervizError("no model probabilities to average")
    shapes = {np.shape(p) for p in probs}
    if len(shapes) != 1:
        raise FervizError(f"the models scored different items or classes: shapes {sorted(shapes)}")
    return np.mean(np.stack([np.asarray(p, np.float64) for p in probs]), axis=0)


def out_of_fold_probs(images: np.ndarray, labels: Any, n_classes: int, *, folds: int = 5,
                      seed: int = 0) -> np.ndarray:
    """(N, K) probabilities from K-fold logistic regressions: each item scored by a model without it.

    The features are the face's HOG (8 px cells, 9 bins, 2 x 2 blocks, of the 48 x 48 face) and its
    :data:`THUMB` x :data:`THUMB` thumbnail, standardised.

    Parameters
    ----------
    images : (N, H, W) uint8
        Grey faces (resized to 48 x 48 for the features).
    labels : (N,) int
        Given labels in [0, n_classes).
    n_classes : int
        K; a class missing from a fold's training part gets probability 0 there.
    folds, seed : int
        Stratified folds (at most the size of the smallest class, at least 2) and their shuffling seed.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from ferviz.data.hog import hog_descriptor
    from ferviz.data.preprocess import resize_faces

    labels = np.asarray(labels, np.int64)
    counts = np.bincount(labels, minlength=n_classes)
    k = int(min(folds, counts[counts > 0].min()))
    if k < 2:
        raise FervizError("out-of-fold probabilities need at least 2 items of every class present")
    faces = resize_faces(np.asarray(images, np.uint8), 48)
    hog = np.stack([hog_descriptor(face) for face in faces])
    thumbs = resize_faces(faces, THUMB).reshape(len(faces), -1) / 255.0
    features = np.hstack([hog, thumbs]).astype(np.float32)
    out = np.zeros((len(labels), n_classes), np.float64)
    for fold, (train, test) in enumerate(StratifiedKFold(k, shuffle=True, random_state=seed).split(features,
                                                                                                  labels)):
        model = make_pipeline(StandardScaler(), LogisticRegression(C=C_OOF, max_iter=500))
        model.fit(features[train], labels[train])
        out[np.ix_(test, model.classes_)] = model.predict_proba(features[test])
        log.info("out-of-fold probabilities: fold %d of %d done", fold + 1, k)
    return out


def flip_labels(labels: Any, candidates: np.ndarray, fraction: float, n_classes: int, *,
                seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Flip ``fraction`` of the ``candidates`` to a uniformly random other class.

    Returns
    -------
    flipped_labels : (N,) int64
        The labels with the flips applied.
    flipped : (N,) bool
        Which items were flipped.
    """
    labels = np.asarray(labels, np.int64).copy()
    rng = np.random.default_rng(seed)
    pool = np.flatnonzero(np.asarray(candidates, bool))
    chosen = rng.choice(pool, size=int(round(fraction * len(pool))), replace=False)
    shift = rng.integers(1, n_classes, size=len(chosen))
    labels[chosen] = (labels[chosen] + shift) % n_classes
    flipped = np.zeros(len(labels), bool)
    flipped[chosen] = True
    return labels, flipped


def flip_check(labels: Any, probs: Any, candidates: np.ndarray, *, fraction: float = 0.05,
               seeds: Sequence[int] = (0, 1, 2, 3, 4), filter_by: str = DEFAULT_FILTER) -> dict[str, Any]:
    """Recall and precision of the finder on labels flipped on purpose among ``candidates``.

    The finder runs on the candidates only (a clean subset, e.g. faces most annotators agree on), with
    ``fraction`` of them flipped to a random other class, once per seed.

    Returns
    -------
    dict
        ``runs`` (one per seed: flipped, flagged, hits, recall, precision) and their means.
    """
    labels, probs = _check(labels, probs)
    sub = np.flatnonzero(np.asarray(candidates, bool))
    if len(sub) < 10:
        raise FervizError(f"only {len(sub)} clean items: too few to flip labels among")
    k = probs.shape[1]
    runs = []
    for seed in seeds:
        noisy, flipped = flip_labels(labels[sub], np.ones(len(sub), bool), fraction, k, seed=seed)
        issues = find_label_issues(noisy, probs[sub], filter_by=filter_by)
        hits = int(flipped[issues.index].sum())
        runs.append({"seed": int(seed), "flipped": int(flipped.sum()), "flagged": len(issues), "hits": hits,
                     "recall": hits / max(int(flipped.sum()), 1), "precision": hits / max(len(issues), 1)})
    return {"fraction": fraction, "n_candidates": int(len(sub)), "filter_by": filter_by, "runs": runs,
            "recall_mean": float(np.mean([r["recall"] for r in runs])),
            "precision_mean": float(np.mean([r["precision"] for r in runs]))}
