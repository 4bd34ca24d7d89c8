"""Test items that are also training items: exact and near duplicates across splits, and their effect.

FER2013 was scraped from the web, and the same photo often appears more than once. When a test item has
a copy in the training split, the model has seen it with its label, and its score on that item measures
memory, not generalisation. This module finds such items and splits any score into the part earned on
duplicated items and the part earned on clean ones.

Two kinds of duplicate are found (:func:`find_duplicates`):

* **exact** — pixel-identical images (same shape, same bytes; :func:`image_digests` hashes them with
  BLAKE2b). No threshold and no false positive.
* **near** — the same photo re-encoded, re-cropped by a pixel or two or slightly re-toned. Both images are
  brought to 48x48; candidates are the :data:`CANDIDATES` training images whose 16x16 thumbnails
  correlate best with the test image, and the similarity is the best Pearson correlation of the test
  image's central 40x40 with the candidate's 40x40 window shifted by up to :data:`SHIFT` pixels. An item
  is a near duplicate when that similarity reaches :data:`NEAR_THRESHOLD` (0.95). Near-blank images
  (pixel standard deviation below :data:`MIN_STD`) are left out of near matching: their correlation
  means nothing.

How the threshold was chosen (FER2013 PublicTest against Training, measured in
``models/reports/fer2013_publictest_leakage.json``): the similarity of each PublicTest image to its best
training match is bimodal, with a trough at 0.88-0.90 between "another face" and "the same photo".
Pairs were inspected by eye, up to 8 per band of 0.01: all 39 inspected pairs at 0.95 or above were the
same photo; in 0.90-0.93 most still were, with some different faces; below 0.89 most were different
people.
0.95 is therefore conservative: it undercounts near duplicates rather than calling different faces
duplicates. Mirror images are not searched (measured: 2 PublicTest items at 0.95).

:func:`leakage_scores` gives the accuracy on duplicated and clean items of any set of predictions; the
clean accuracy is the *deduplicated* number.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from scipy import stats

from ferviz.errors import FervizError
from ferviz.results.significance import N_BOOT, Interval, bootstrap_ci, score

#: Similarity (shift-tolerant Pearson correlation) from which a test image counts as a near duplicate.
NEAR_THRESHOLD = 0.95
#: Training images per test image whose full similarity is computed (best thumbnail correlations).
CANDIDATES = 5
#: Largest shift, in pixels at 48x48, between a test image and its training copy.
SHIFT = 2
#: Images whose pixel standard deviation is below this are not near-matched (blank or nearly so).
MIN_STD = 2.0
SIDE, THUMB = 48, 16  # common size of the compared images; side of the retrieval thumbnails
#: Bin edges of the similarity histogram a leakage report keeps (shows the threshold's trough).
HIST_EDGES = tuple(round(0.5 + 0.02 * i, 2) for i in range(26))
_BLOCK = 512  # test images per similarity block (memory: _BLOCK x reference floats)


class LeakageError(FervizError, ValueError):
    """Images or predictions that cannot be matched (wrong shape, wrong dtype, different lengths)."""


def _images(images: Any, name: str) -> np.ndarray:
    arr = np.asarray(images)
    if arr.ndim != 3 or arr.dtype != np.uint8:
        raise LeakageError(f"{name} must be an (N, H, W) uint8 array of grayscale images, got shape "
                           f"{arr.shape} and dtype {arr.dtype}")
    return arr


def image_digests(images: Any) -> np.ndarray:
    """A hex BLAKE2b-128 digest of each image's shape and bytes: equal digests mean pixel-identical images.

    Returns
    -------
    (N,) ndarray of str
    """
    arr = _images(images, "images")
    shape = f"{arr.shape[1]}x{arr.shape[2]}:".encode()
    return np.array([hashlib.blake2b(shape + np.ascontiguousarray(im).tobytes(), digest_size=16).hexdigest()
                     for im in arr], dtype="U32")


def exact_matches(query: Any, reference: Any) -> np.ndarray:
    """For each query image, the index of the first pixel-identical reference image, or -1 when none.

    Returns
    -------
    (N,) ndarray of int64
    """
    return _first_match(image_digests(query), image_digests(reference))


def _first_match(query_digests: np.ndarray, reference_digests: np.ndarray) -> np.ndarray:
    first: dict[str, int] = {}
    for i, digest in enumerate(reference_digests):
        first.setdefault(str(digest), i)
    return np.array([first.get(str(d), -1) for d in query_digests], dtype=np.int64)


def exact_groups(images: Any) -> np.ndarray:
    """Group id of every image: the index of the first image pixel-identical to it (itself if unique).

    ``np.unique(groups, return_counts=True)`` then gives the duplicate sets and their sizes.
    """
    digests = image_digests(images)
    first: dict[str, int] = {}
    return np.array([first.setdefault(str(d), i) for i, d in enumerate(digests)], dtype=np.int64)


def _resized(images: np.ndarray) -> np.ndarray:
    if images.shape[1:] == (SIDE, SIDE):
        return images
    return np.stack([cv2.resize(im, (SIDE, SIDE), interpolation=cv2.INTER_AREA) for im in images])


def _unit_rows(rows: np.ndarray) -> np.ndarray:
    """Each row centred and scaled to unit length (float32); constant rows stay zero."""
    x = rows.reshape(len(rows), -1).astype(np.float32)
    x -= x.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norm, out=np.zeros_like(x), where=norm > 1e-6)


def _thumbnails(images: np.ndarray) -> np.ndarray:
    return _unit_rows(np.stack([cv2.resize(im, (THUMB, THUMB), interpolation=cv2.INTER_AREA)
                                for im in images]) if len(images) else np.zeros((0, THUMB, THUMB)))


def nearest_similarity(query: Any, reference: Any, *, candidates: int = CANDIDATES, shift: int = SHIFT,
                       min_std: float = MIN_STD) -> tuple[np.ndarray, np.ndarray]:
    """Each query image's best shift-tolerant correlation with a reference image (see the module notes).

    Parameters
    ----------
    query, reference : (N, H, W) and (M, H', W') uint8 arrays
        Grayscale images, brought to 48x48 first.
    candidates : int
        Reference images per query whose full similarity is computed (best 16x16 thumbnail correlations).
    shift : int
        Largest shift in pixels (at 48x48) tried in each direction.
    min_std : float
        Query and reference images with a smaller pixel standard deviation get no match.

    Returns
    -------
    similarity : (N,) ndarray of float64
        In [-1, 1]; NaN for a near-blank query image or an empty reference.
    match : (N,) ndarray of int64
        Index of the best reference image, -1 where ``similarity`` is NaN.
    """
    q, r = _resized(_images(query, "query")), _resized(_images(reference, "reference"))
    if not 0 <= shift < SIDE // 4:
        raise LeakageError(f"shift must be between 0 and {SIDE // 4 - 1} pixels, got {shift}")
    similarity = np.full(len(q), np.nan)
    match = np.full(len(q), -1, dtype=np.int64)
    usable_r = np.flatnonzero(r.reshape(len(r), -1).std(axis=1) >= min_std)
    usable_q = np.flatnonzero(q.reshape(len(q), -1).std(axis=1) >= min_std)
    if not len(usable_r) or not len(usable_q):
        return similarity, match
    k = max(1, min(int(candidates), len(usable_r)))
    thumbs_r = _thumbnails(r[usable_r])
    m = SIDE - 2 * SIDE // 12  # 40: the central window, leaving room for the shifts
    lo = (SIDE - m) // 2
    for start in range(0, len(usable_q), _BLOCK):
        rows = usable_q[start:start + _BLOCK]
        scores = _thumbnails(q[rows]) @ thumbs_r.T
        best_k = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < scores.shape[1] else \
            np.tile(np.arange(scores.shape[1]), (len(rows), 1))
        centre = _unit_rows(q[rows][:, lo:lo + m, lo:lo + m])
        best = np.full(len(rows), -np.inf)
        best_ref = np.zeros(len(rows), dtype=np.int64)
        for j in range(best_k.shape[1]):
            ref = usable_r[best_k[:, j]]
            images = r[ref]
            for dy in range(-shift, shift + 1):
                for dx in range(-shift, shift + 1):
                    window = _unit_rows(images[:, lo + dy:lo + dy + m, lo + dx:lo + dx + m])
                    sim = np.einsum("ij,ij->i", centre, window)
                    better = sim > best
                    best[better], best_ref[better] = sim[better], ref[better]
        similarity[rows], match[rows] = np.clip(best, -1.0, 1.0), best_ref
    return similarity, match


@dataclass(frozen=True)
class Duplicates:
    """Which query (test) items have a copy among the reference (training) items.

    Attributes
    ----------
    exact : (N,) bool ndarray
        Pixel-identical to a reference image.
    exact_match : (N,) int64 ndarray
        That reference image's index, -1 where none.
    near : (N,) bool ndarray
        Not exact, but similarity >= ``threshold`` (always False when near matching was skipped).
    similarity, near_match : (N,) ndarrays
        :func:`nearest_similarity`'s result (all NaN / -1 when skipped).
    label_conflict : (N,) bool ndarray
        Exact duplicates with a reference copy that carries another label (False without labels).
    threshold : float
        The near-duplicate threshold used; NaN when near matching was skipped.
    """

    exact: np.ndarray
    exact_match: np.ndarray
    near: np.ndarray
    near_match: np.ndarray
    similarity: np.ndarray
    label_conflict: np.ndarray
    threshold: float

    @property
    def leaked(self) -> np.ndarray:
        """Exact or near duplicates."""
        return self.exact | self.near

    @property
    def searched_near(self) -> bool:
        return not math.isnan(self.threshold)

    def counts(self) -> dict[str, int]:
        """``n``, ``exact``, ``near``, ``leaked`` and ``label_conflicts``."""
        return {"n": int(len(self.exact)), "exact": int(self.exact.sum()), "near": int(self.near.sum()),
                "leaked": int(self.leaked.sum()), "label_conflicts": int(self.label_conflict.sum())}

    def histogram(self, edges: Sequence[float] = HIST_EDGES) -> dict[str, list]:
        """Counts of the non-exact items' similarity per bin (``edges`` ascending; the last bin is closed)."""
        values = self.similarity[~self.exact & np.isfinite(self.similarity)]
        counts, _ = np.histogram(values, bins=np.asarray(edges, dtype=float))
        below = int(np.sum(values < edges[0]))
        return {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts], "below": below}


def find_duplicates(query: Any, reference: Any, *, query_labels: Any = None, reference_labels: Any = None,
                    near: bool = True, threshold: float = NEAR_THRESHOLD, **options) -> Duplicates:
    """Exact and (optionally) near duplicates of ``query`` images among ``reference`` images.

    Parameters
    ----------
    query, reference : (N, H, W) and (M, H', W') uint8 arrays
        E.g. the evaluated split and the training split.
    query_labels, reference_labels : (N,) and (M,) int arrays, optional
        With both, exact duplicates that have a reference copy with another label are flagged in
        ``label_conflict``.
    near : bool
        Also search near duplicates (about 4 s for 3,589 against 28,709 images on one core).
    threshold : float
        Near-duplicate threshold, default :data:`NEAR_THRESHOLD`.
    **options
        Passed to :func:`nearest_similarity` (``candidates``, ``shift``, ``min_std``).

    Returns
    -------
    Duplicates
    """
    q = _images(query, "query")
    q_digests, r_digests = image_digests(q), image_digests(reference)
    match = _first_match(q_digests, r_digests)
    exact = match >= 0
    conflict = np.zeros(len(q), dtype=bool)
    if query_labels is not None and reference_labels is not None:
        ql, rl = np.asarray(query_labels), np.asarray(reference_labels)
        if len(ql) != len(q) or len(rl) != len(reference):
            raise LeakageError(f"{len(ql)} query labels for {len(q)} images, or {len(rl)} reference labels "
                               f"for {len(reference)} images")
        labels_of: dict[str, set[int]] = {}
        for digest, label in zip(r_digests, rl, strict=True):
            labels_of.setdefault(str(digest), set()).add(int(label))
        for i in np.flatnonzero(exact):
            conflict[i] = labels_of[str(q_digests[i])] != {int(ql[i])}
    if not near:
        nan = np.full(len(q), np.nan)
        return Duplicates(exact, match, np.zeros(len(q), bool), np.full(len(q), -1, np.int64), nan, conflict,
                          math.nan)
    if not 0 < threshold <= 1:
        raise LeakageError(f"threshold must be in (0, 1], got {threshold}")
    similarity, near_match = nearest_similarity(q, reference, **options)
    similarity[exact], near_match[exact] = 1.0, match[exact]
    is_near = ~exact & (np.nan_to_num(similarity, nan=-1.0) >= threshold)
    return Duplicates(exact, match, is_near, near_match, similarity, conflict, float(threshold))


# ------------------------------------------------------------------------------------------- scores

@dataclass(frozen=True)
class SubsetScore:
    """Accuracy on a subset of the items (NaN when the subset is empty)."""

    n: int
    correct: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else math.nan

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "correct": self.correct,
                "accuracy": None if math.isnan(self.accuracy) else self.accuracy}


@dataclass(frozen=True)
class LeakageScores:
    """One model's accuracy on all items, on the duplicated ones and on the clean (deduplicated) ones.

    Attributes
    ----------
    all, duplicated, clean : SubsetScore
    macro_f1_all, macro_f1_clean : float
        Macro-F1 over ``n_classes`` classes on all and on the clean items.
    p_value : float
        Fisher's exact test (two-sided) that accuracy is the same on duplicated and clean items.
    """

    all: SubsetScore
    duplicated: SubsetScore
    clean: SubsetScore
    macro_f1_all: float
    macro_f1_clean: float
    p_value: float

    @property
    def inflation(self) -> float:
        """All-items accuracy minus clean accuracy (what the duplicates add to the plain number)."""
        return self.all.accuracy - self.clean.accuracy

    @property
    def gap(self) -> float:
        """Accuracy on duplicated items minus accuracy on clean items."""
        return self.duplicated.accuracy - self.clean.accuracy

    def to_dict(self) -> dict[str, Any]:
        def num(v: float) -> float | None:
            return None if math.isnan(v) else float(v)

        return {"all": self.all.to_dict(), "duplicated": self.duplicated.to_dict(),
                "clean": self.clean.to_dict(),
                "macro_f1_all": num(self.macro_f1_all), "macro_f1_clean": num(self.macro_f1_clean),
                "inflation": num(self.inflation), "gap": num(self.gap), "p_value": num(self.p_value)}


def leakage_scores(y_true: Any, y_pred: Any, duplicated: Any, n_classes: int | None = None) -> LeakageScores:
    """Split one set of predictions into duplicated and clean items.

    Parameters
    ----------
    y_true, y_pred : (N,) array of int
        True and predicted classes.
    duplicated : (N,) array of bool
        Which items have a copy in the training data (e.g. :attr:`Duplicates.exact` or ``.leaked``).
    n_classes : int, optional
        Classes the macro-F1 averages over; default the largest label + 1.

    Returns
    -------
    LeakageScores
    """
    t, p, d = np.asarray(y_true), np.asarray(y_pred), np.asarray(duplicated)
    if not (t.ndim == p.ndim == d.ndim == 1) or not len(t) == len(p) == len(d) or d.dtype != bool:
        raise LeakageError(f"y_true, y_pred and duplicated must be 1-D and of equal length (duplicated "
                           f"boolean), got shapes {t.shape}, {p.shape}, {d.shape} and dtype {d.dtype}")
    if not len(t):
        raise LeakageError("nothing to score: no items")
    right = t == p
    k = n_classes or int(max(t.max(), p.max())) + 1
    parts = [SubsetScore(int(m.sum()), int(right[m].sum())) for m in (np.ones_like(d), d, ~d)]
    table = [[part.correct, part.n - part.correct] for part in parts[1:]]
    p_value = float(stats.fisher_exact(table).pvalue) if parts[1].n and parts[2].n else math.nan
    f1_clean = score("macro_f1", t[~d], p[~d], k) if parts[2].n else math.nan
    return LeakageScores(*parts, score("macro_f1", t, p, k), f1_clean, p_value)


@dataclass(frozen=True)
class Deduplicated:
    """One model's plain and deduplicated scores on a split (what the Evaluate page and reports show).

    Attributes
    ----------
    exact : LeakageScores
        Split by exact duplicates.
    leaked : LeakageScores
        Split by exact or near duplicates (the same as ``exact`` when near duplicates were not searched).
    accuracy : Interval
        Bootstrap interval of the plain accuracy.
    clean_accuracy : Interval or None
        Bootstrap interval of the accuracy without exact and near duplicates; None if no item is clean.
    """

    exact: LeakageScores
    leaked: LeakageScores
    accuracy: Interval
    clean_accuracy: Interval | None

    def to_dict(self) -> dict[str, Any]:
        exact, leaked = self.exact.to_dict(), self.leaked.to_dict()
        if self.clean_accuracy is not None:
            leaked["clean_accuracy_ci"] = self.clean_accuracy.to_dict()
        return {"accuracy": self.accuracy.to_dict(), "exact": exact, "leaked": leaked}


def deduplicated(y_true: Any, y_pred: Any, dups: Duplicates, n_classes: int | None = None, *,
                 n_boot: int = N_BOOT) -> Deduplicated:
    """Plain and deduplicated scores of one set of predictions on the items ``dups`` describes.

    Parameters
    ----------
    y_true, y_pred : (N,) array of int
        Aligned with the query items of ``dups``.
    dups : Duplicates
        From :func:`find_duplicates`.
    n_classes : int, optional
        Classes the macro-F1 averages over.
    n_boot : int
        Bootstrap resamples per interval.
    """
    t, p = np.asarray(y_true), np.asarray(y_pred)
    if len(t) != len(dups.exact):
        raise LeakageError(f"{len(t)} predictions for {len(dups.exact)} searched items")
    k = n_classes or int(max(t.max(), p.max())) + 1
    clean = ~dups.leaked
    clean_ci = bootstrap_ci(t[clean], p[clean], n_classes=k, n_boot=n_boot) if clean.any() else None
    return Deduplicated(leakage_scores(t, p, dups.exact, k), leakage_scores(t, p, dups.leaked, k),
                        bootstrap_ci(t, p, n_classes=k, n_boot=n_boot), clean_ci)


# ---------------------------------------------------------------------------------------- protocol

def protocol_caveats(evaluated_usages: Sequence[str], *, train_split: str | None = None,
                     selected_on: str | None = None) -> list[str]:
    """Plain-language warnings when the evaluated items overlap the model's training or selection split.

    Parameters
    ----------
    evaluated_usages : sequence of str
        The usage values of the evaluated items (a split, or all of a dataset's usages for ``'all'``).
    train_split, selected_on : str, optional
        From the model's card or checkpoint: the split it was trained on and the split its best epoch
        was chosen on. Only meaningful for the dataset the model was trained on: pass None otherwise.

    Returns
    -------
    list of str
        Empty when the evaluated items are held out from both.
    """
    usages = {str(u) for u in evaluated_usages if str(u)}
    caveats = []
    if train_split and train_split in usages:
        caveats.append(f"The evaluated items include **{train_split}**, the split this model was trained on: "
                       "these numbers measure memory, not generalisation.")
    if selected_on and selected_on in usages:
        where = "are" if usages == {selected_on} else "include"
        caveats.append(f"The evaluated items {where} **{selected_on}**, the split this model was selected "
                       "on (its best epoch, or its averaging window): the numbers are optimistic (a "
                       "held-out split, e.g. PrivateTest, gives unbiased ones).")
    return caveats


def model_caveats(loaded, dataset: str, evaluated_usages: Sequence[str]) -> list[str]:
    """:func:`protocol_caveats` for a loaded checkpoint evaluated on items of ``dataset``.

    The training and selection splits come from the model card beside the checkpoint, else from the
    checkpoint's own ``meta`` (``train_split``, ``select_split``); they apply only when ``dataset`` (a
    :attr:`ferviz.data.datasets.FaceDataset.name`) is the dataset the model was trained on.
    """
    from ferviz.results.modelcard import card_beside

    try:
        card = card_beside(loaded.path)
    except FervizError:
        card = None
    meta = loaded.meta or {}
    trained_on = (card.dataset if card is not None and card.dataset else "") or str(meta.get("dataset", ""))
    if not trained_on or trained_on.lower() != str(dataset).lower():
        return []
    train_split = (card.train_split if card is not None else "") or str(meta.get("train_split", ""))
    selected_on = (card.selected_on if card is not None else "") or str(meta.get("select_split", ""))
    return protocol_caveats(evaluated_usages, train_split=train_split or None,
                            selected_on=selected_on or None)
