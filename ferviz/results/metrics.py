"""Confusion matrix, the paper's metrics (eqs. 26-32), calibration, and a JSON-able report.

Every rate here is a **fraction in [0, 1]**; the paper prints percent, and :mod:`ferviz.results.reported`
keeps its numbers as printed. Per class ``k`` the counts are one-vs-rest: TP = C[k, k], FP = column
sum - TP, FN = row sum - TP, TN = total - TP - FP - FN, with C the confusion matrix (rows true,
columns predicted).

Read by the paper's own equations, two of its metrics are not new (docs/DESIGN.md §7):

* GAR (eq. 31) = TP / (TP + FN) is recall (eq. 29), exactly;
* FAR (eq. 32, "false acceptances / total attempts") is, per class, FP / (FP + TN) = 1 - specificity
  (eq. 27). The identity fails only where specificity is undefined (every sample is of class ``k``).

A ratio whose denominator is zero is 0.0, as scikit-learn's ``zero_division=0``. Macro averages run
over all ``len(class_names)`` classes (scikit-learn with ``labels=range(K)``), so pass only the
classes the evaluated data can contain; balanced accuracy averages recall over the classes present
in ``y_true`` only, as :func:`sklearn.metrics.balanced_accuracy_score` does.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ferviz.errors import FervizError

logger = logging.getLogger(__name__)

#: Per-class rates, in display order; the keys of ``MetricReport.macro`` and ``.weighted``.
RATES: tuple[str, ...] = ("accuracy", "precision", "recall", "specificity", "f1", "gar", "far")
#: One-vs-rest counts stored per class.
COUNTS: tuple[str, ...] = ("tp", "fp", "tn", "fn", "support")
#: The metrics the paper tabulates (Tables 4-10), in its order.
PAPER_METRICS: tuple[str, ...] = ("accuracy", "specificity", "precision", "recall", "f1", "gar", "far")


class MetricError(FervizError, ValueError):
    """Labels or probabilities that cannot be scored (wrong shape, out of range, not probabilities)."""


def _labels(y: Any, n_classes: int, name: str) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        raise MetricError(f"{name} must be a 1-D array of integer class indices, got dtype {arr.dtype} "
                          f"and shape {arr.shape}; map class names with ferviz.data.labels.index_of first")
    if arr.size and (arr.min() < 0 or arr.max() >= n_classes):
        raise MetricError(f"{name} holds indices outside [0, {n_classes - 1}]; "
                          f"pass n_classes (or class_names) covering every label")
    return arr.astype(np.int64)


def confusion(y_true: Any, y_pred: Any, n_classes: int) -> np.ndarray:
    """Confusion matrix with true classes as rows and predicted classes as columns.

    Parameters
    ----------
    y_true, y_pred : (N,) array of int
        Class indices in ``[0, n_classes)``.
    n_classes : int
        K, the number of classes; classes absent from both arrays get a zero row and column.

    Returns
    -------
    (K, K) ndarray of int64
        ``C[i, j]`` counts samples of true class ``i`` predicted as ``j``; ``C.sum() == N``.
    """
    if n_classes < 1:
        raise MetricError(f"n_classes must be at least 1, got {n_classes}")
    t, p = _labels(y_true, n_classes, "y_true"), _labels(y_pred, n_classes, "y_pred")
    if t.shape != p.shape:
        raise MetricError(f"y_true and y_pred differ in length ({t.size} vs {p.size})")
    flat = np.bincount(t * n_classes + p, minlength=n_classes * n_classes)
    return flat.reshape(n_classes, n_classes)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` elementwise, 0.0 where ``den == 0`` (scikit-learn's ``zero_division=0``)."""
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def one_vs_rest(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Per-class TP, FP, TN, FN and support, each a (K,) int array, from a (K, K) confusion matrix."""
    cm = np.asarray(cm)
    tp = np.diag(cm)
    fp, fn = cm.sum(axis=0) - tp, cm.sum(axis=1) - tp
    return {"tp": tp, "fp": fp, "tn": cm.sum() - tp - fp - fn, "fn": fn, "support": cm.sum(axis=1)}


def class_rates(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Per-class rates in [0, 1] from a (K, K) confusion matrix, keyed by :data:`RATES`.

    accuracy (TP + TN) / N is one-vs-rest (the paper's eq. 26 is :func:`overall_accuracy`);
    specificity TN / (TN + FP) (eq. 27); precision TP / (TP + FP) (eq. 28); recall TP / (TP + FN)
    (eq. 29); F1 = 2 TP / (2 TP + FP + FN), the harmonic mean of eq. 30; GAR (eq. 31) = recall;
    FAR = FP / (FP + TN) (eq. 32 read per class) = 1 - specificity. Zero denominators give 0.0.
    """
    c = one_vs_rest(cm)
    tp, fp, tn, fn = c["tp"], c["fp"], c["tn"], c["fn"]
    recall = _ratio(tp, tp + fn)
    return {
        "accuracy": _ratio(tp + tn, tp + fp + tn + fn),
        "precision": _ratio(tp, tp + fp),
        "recall": recall,
        "specificity": _ratio(tn, tn + fp),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "gar": recall.copy(),
        "far": _ratio(fp, fp + tn),
    }


def average(rates: dict[str, np.ndarray], support: np.ndarray | None = None) -> dict[str, float]:
    """Macro mean of each rate, or the support-weighted mean when ``support`` (K,) is given.

    A weighted average with zero total support is 0.0 for every rate.
    """
    if support is None:
        return {k: float(np.mean(v)) if v.size else 0.0 for k, v in rates.items()}
    total = float(np.sum(support))
    return {k: float(np.dot(v, support) / total) if total > 0 else 0.0 for k, v in rates.items()}


def overall_accuracy(cm: np.ndarray) -> float:
    """Eq. 26: correct predictions / all predictions = trace(C) / sum(C), in [0, 1] (0.0 if empty)."""
    return float(_ratio(np.trace(cm), np.sum(cm)))


def balanced_accuracy(cm: np.ndarray) -> float:
    """Mean recall over the classes present in ``y_true`` (rows with support > 0), in [0, 1]."""
    support = np.sum(cm, axis=1)
    present = support > 0
    return float(np.mean(np.diag(cm)[present] / support[present])) if present.any() else 0.0


def _probabilities(probs: Any, n: int, n_classes: int) -> np.ndarray:
    p = np.asarray(probs, dtype=float)
    if p.shape != (n, n_classes):
        raise MetricError(f"probs must have shape (N, K) = ({n}, {n_classes}), got {p.shape}")
    if not np.all(np.isfinite(p)) or p.min() < 0 or not np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
        raise MetricError("probs rows must be finite, non-negative and sum to 1; apply softmax to logits")
    return p


def top_k_accuracy(probs: np.ndarray, y_true: np.ndarray, k: int = 2) -> float:
    """Fraction in [0, 1] of samples whose true class is among the ``k`` most probable ones."""
    top = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return float(np.mean(np.any(top == y_true[:, None], axis=1))) if len(y_true) else 0.0


def nll(probs: np.ndarray, y_true: np.ndarray, eps: float = 1e-12) -> float:
    """Mean negative log-likelihood (nats) of the true class, ``p`` clipped below at ``eps``."""
    p_true = probs[np.arange(len(y_true)), y_true]
    return float(-np.mean(np.log(np.maximum(p_true, eps)))) if len(y_true) else 0.0


@dataclass(frozen=True)
class Reliability:
    """Reliability diagram data: equal-width confidence bins over [0, 1], right-closed.

    Attributes
    ----------
    edges : (B + 1,) ndarray
        The bin edges.
    confidence, accuracy : (B,) ndarray
        Mean confidence and accuracy per bin (NaN in empty bins).
    counts : (B,) ndarray
        Samples per bin.
    ece : float
        sum_b (n_b / N) |accuracy_b - confidence_b|, in [0, 1].
    """

    edges: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray
    counts: np.ndarray
    ece: float

    def frame(self) -> pd.DataFrame:
        """One row per bin: lower, upper, confidence, accuracy, count."""
        return pd.DataFrame({"lower": self.edges[:-1], "upper": self.edges[1:], "confidence": self.confidence,
                             "accuracy": self.accuracy, "count": self.counts})

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values; empty bins' NaN become ``None``."""
        def plain(a: np.ndarray) -> list:
            return [None if np.isnan(x) else float(x) for x in a]
        return {"edges": [float(x) for x in self.edges], "confidence": plain(self.confidence),
                "accuracy": plain(self.accuracy), "counts": [int(x) for x in self.counts],
                "ece": float(self.ece)}


def reliability(probs: Any, y_true: Any, n_bins: int = 15) -> Reliability:
    """Bin the top-class confidence of ``probs`` (N, K) and compare with the top class's accuracy.

    The predicted class is ``argmax(probs)``; a confidence ``c`` falls in bin ``b`` when
    ``edges[b] < c <= edges[b + 1]`` (the first bin also takes 0).
    """
    p = np.asarray(probs, dtype=float)
    if p.ndim != 2 or p.shape[1] < 1:
        raise MetricError(f"probs must be a 2-D (N, K) array of class probabilities, got shape {p.shape}")
    y = _labels(y_true, p.shape[1], "y_true")
    p = _probabilities(p, len(y), p.shape[1])
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    conf, correct = p.max(axis=1), (p.argmax(axis=1) == y).astype(float)
    bins = np.searchsorted(edges[1:-1], conf, side="left")
    counts = np.bincount(bins, minlength=n_bins)
    mean_conf = _ratio(np.bincount(bins, conf, n_bins), counts)
    mean_acc = _ratio(np.bincount(bins, correct, n_bins), counts)
    ece = float(np.sum(counts * np.abs(mean_acc - mean_conf)) / max(len(y), 1))
    empty = counts == 0
    mean_conf[empty] = mean_acc[empty] = np.nan
    return Reliability(edges, mean_conf, mean_acc, counts, ece)


@dataclass
class MetricReport:
    """Everything measured on one evaluation, as plain JSON-able values (rates in [0, 1]).

    Attributes
    ----------
    class_names : list of str
        The K class names in index order.
    confusion : list of list of int
        The (K, K) confusion matrix, rows true, columns predicted.
    per_class : list of dict
        One dict per class (``class``, :data:`COUNTS`, :data:`RATES`).
    macro, weighted : dict of str to float
        Each of :data:`RATES` mapped to its macro / support-weighted average.
    accuracy : float
        Eq. 26.
    n : int
        Number of samples.
    scores : dict of str to float
        ``balanced_accuracy`` and ``macro_f1``, plus ``top2_accuracy``, ``nll`` and ``ece`` when
        probabilities were given.
    reliability : dict or None
        The reliability bins (:meth:`Reliability.to_dict`) when probabilities were given.
    meta : dict
        Free-form (dataset, split, model, ...); must itself be JSON values (lists, not tuples).
    """

    class_names: list[str]
    confusion: list[list[int]]
    per_class: list[dict[str, Any]]
    macro: dict[str, float]
    weighted: dict[str, float]
    accuracy: float
    n: int
    scores: dict[str, float] = field(default_factory=dict)
    reliability: dict[str, Any] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def matrix(self) -> np.ndarray:
        """The (K, K) confusion matrix as an int64 array (rows true, columns predicted)."""
        return np.asarray(self.confusion, dtype=np.int64).reshape(len(self.class_names), -1)

    def to_dict(self) -> dict[str, Any]:
        """A deep copy as plain dicts, lists, str, int, float and None."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MetricReport:
        """Inverse of :meth:`to_dict`; unknown or missing keys raise :class:`MetricError`."""
        try:
            return cls(**data)
        except TypeError as err:
            raise MetricError(f"not a MetricReport dict ({err}); "
                              "was it written by MetricReport.to_json?") from err

    def to_json(self, path: str | Path) -> Path:
        """Write the report as indented JSON; returns the path. Floats round-trip exactly."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n", encoding="utf-8")
        logger.info("wrote metric report to %s", path)
        return path

    @classmethod
    def from_json(cls, path: str | Path) -> MetricReport:
        """Read a report written by :meth:`to_json`."""
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    def per_class_frame(self) -> pd.DataFrame:
        """One row per class (index: class name), columns :data:`COUNTS` then :data:`RATES`."""
        return pd.DataFrame(self.per_class).set_index("class")[list(COUNTS + RATES)]

    def summary_frame(self) -> pd.DataFrame:
        """Long form: columns ``metric``, ``average`` (overall / macro / weighted) and ``value``."""
        rows = [("accuracy", "overall", self.accuracy)]
        rows += [(k, "overall", v) for k, v in self.scores.items()]
        rows += [(k, avg, v) for avg, d in (("macro", self.macro), ("weighted", self.weighted))
                 for k, v in d.items()]
        return pd.DataFrame(rows, columns=["metric", "average", "value"])

    def paper_metrics(self, average: str = "macro") -> dict[str, float]:
        """The paper's seven metrics, comparable with :mod:`ferviz.results.reported` once multiplied by 100.

        ``accuracy`` is eq. 26; the others are the ``average`` ('macro' or 'weighted') of the per-class
        rates. (The paper does not say how it averaged.)
        """
        avg = {"macro": self.macro, "weighted": self.weighted}[average]
        return {k: self.accuracy if k == "accuracy" else avg[k] for k in PAPER_METRICS}

    def format_table(self, digits: int = 2) -> str:
        """A plain-text table for the CLI: per-class rows, macro and weighted rows, values in percent."""
        cols = ["support", "precision", "recall", "specificity", "f1", "far"]
        table = self.per_class_frame()[cols].copy()
        for name, avg in (("macro", self.macro), ("weighted", self.weighted)):
            table.loc[name] = [self.n] + [avg[c] for c in cols[1:]]
        table[cols[1:]] = table[cols[1:]] * 100
        table["support"] = table["support"].astype(int)
        where = ", ".join(f"{k}={v}" for k, v in self.meta.items() if isinstance(v, str | int | float))
        extra = "  ".join(f"{k} {v * 100 if k != 'nll' else v:.{digits}f}" for k, v in self.scores.items())
        head = f"n={self.n}  accuracy {self.accuracy * 100:.{digits}f}  {extra}".rstrip()
        body = table.to_string(float_format=lambda x: f"{x:.{digits}f}")
        return "\n".join(filter(None, [where, head + "  (values in %; nll in nats)", body]))


def compute_report(y_true: Any, y_pred: Any | None, class_names: Any, probs: Any | None = None,
                   meta: dict[str, Any] | None = None) -> MetricReport:
    """Score predictions against labels and return a :class:`MetricReport`.

    Parameters
    ----------
    y_true : (N,) array of int
        True class indices into ``class_names``.
    y_pred : (N,) array of int or None
        Predicted indices; ``None`` takes ``argmax(probs)``.
    class_names : sequence of str
        The K class names in index order (e.g. ``ferviz.data.labels.EMOTIONS``).
    probs : (N, K) array of float, optional
        Softmax probabilities (rows sum to 1); adds top-2 accuracy, NLL, ECE and reliability bins.
    meta : dict, optional
        Free-form JSON-able context stored with the report (dataset, split, model, ...).
    """
    names = [str(c) for c in class_names]
    if y_pred is None:
        if probs is None:
            raise MetricError("give y_pred, or probs to predict argmax(probs)")
        y_pred = np.asarray(probs).argmax(axis=1)
    cm = confusion(y_true, y_pred, len(names))
    counts, rates = one_vs_rest(cm), class_rates(cm)
    per_class = [{"class": name, **{k: int(counts[k][i]) for k in COUNTS},
                  **{k: float(rates[k][i]) for k in RATES}} for i, name in enumerate(names)]
    macro = average(rates)
    report = MetricReport(names, cm.tolist(), per_class, macro, average(rates, counts["support"]),
                          overall_accuracy(cm), int(cm.sum()),
                          {"balanced_accuracy": balanced_accuracy(cm), "macro_f1": macro["f1"]},
                          meta=dict(meta or {}))
    if probs is not None:
        _add_probability_scores(report, probs, np.asarray(y_true, dtype=np.int64))
    return report


def _add_probability_scores(report: MetricReport, probs: Any, y_true: np.ndarray) -> None:
    p = _probabilities(probs, report.n, len(report.class_names))
    rel = reliability(p, y_true)
    report.scores.update(top2_accuracy=top_k_accuracy(p, y_true, 2), nll=nll(p, y_true), ece=rel.ece)
    report.reliability = rel.to_dict()
