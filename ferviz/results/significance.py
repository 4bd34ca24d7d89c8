"""How sure is a number? Bootstrap intervals for one model, paired tests for two models on the same items.

Every accuracy in this project is one training run (one seed) scored on one finite test set. Two sources
of doubt follow, and this module measures the one a single run allows:

* **test-set sampling** — with 3,589 items an accuracy near 65 % has a standard error of about 0.8
  points. :func:`bootstrap_ci` gives a percentile bootstrap interval for accuracy or macro-F1.
* **comparing two models** on the *same* items: the items are shared, so the right test is paired.
  :func:`mcnemar` tests whether the two models' error rates differ, using only the items where exactly
  one of them is right (exact binomial test, with the continuity-corrected χ² beside it), and
  :func:`paired_bootstrap` gives an interval for the accuracy difference by resampling items once for
  both models. :func:`compare_predictions` bundles both into a :class:`PairedComparison`.

Seed-to-seed spread (training noise) needs several runs; :func:`seed_spread` summarises them when they
exist and says "one seed" when they do not, and :func:`paired_seeds` tests two configurations trained
with the same seeds (a paired t-test over seeds). All rates are fractions in [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats

from ferviz.errors import FervizError

#: Bootstrap resamples drawn by default, and the seed that makes every interval reproducible.
N_BOOT, SEED, LEVEL = 2000, 0, 0.95
#: Significance level used in the plain-language verdicts.
ALPHA = 0.05
METRICS = ("accuracy", "macro_f1")
_CHUNK = 250  # bootstrap resamples drawn at once (memory: _CHUNK x N indices)


class SignificanceError(FervizError, ValueError):
    """Predictions that cannot be compared (different lengths, labels out of range, nothing to score)."""


def _classes(values: Any, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        raise SignificanceError(f"{name} must be a 1-D array of integer class indices, got shape {arr.shape} "
                                f"and dtype {arr.dtype}")
    return arr.astype(np.int64)


def _flags(values: Any, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.dtype != bool:
        raise SignificanceError(f"{name} must be a 1-D boolean array (True where the model is right), "
                                f"got shape {arr.shape} and dtype {arr.dtype}")
    return arr


def _same_length(**arrays: np.ndarray) -> int:
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise SignificanceError("the arrays must score the same items: lengths "
                                + ", ".join(f"{k}={v}" for k, v in lengths.items()))
    n = next(iter(lengths.values()))
    if n == 0:
        raise SignificanceError("nothing to score: the arrays are empty")
    return n


# ------------------------------------------------------------------------------------------ intervals

@dataclass(frozen=True)
class Interval:
    """A point estimate with a percentile bootstrap confidence interval (fractions, or their difference).

    Attributes
    ----------
    estimate : float
        The value on the items as given.
    low, high : float
        The ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of the bootstrap distribution.
    level : float
        Confidence level, e.g. 0.95.
    n_boot : int
        Number of resamples.
    """

    estimate: float
    low: float
    high: float
    level: float = LEVEL
    n_boot: int = N_BOOT

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies inside ``[low, high]``."""
        return self.low <= value <= self.high

    def text(self, signed: bool = False, digits: int = 1) -> str:
        """``'65.2 % [63.6, 66.8]'`` (or ``'-0.7 pp [-1.9, +0.4]'`` with ``signed``), values in percent."""
        if signed:
            return (f"{100 * self.estimate:+.{digits}f} pp [{100 * self.low:+.{digits}f}, "
                    f"{100 * self.high:+.{digits}f}]")
        return f"{100 * self.estimate:.{digits}f} % {self.bounds_text(digits)}"

    def bounds_text(self, digits: int = 1) -> str:
        """``'[63.6, 66.8]'``: the bounds alone, in percent (for a table whose estimate has its own column)."""
        return f"[{100 * self.low:.{digits}f}, {100 * self.high:.{digits}f}]"

    def to_dict(self) -> dict[str, float]:
        return {k: (int(v) if k == "n_boot" else float(v)) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Interval:
        return cls(float(data["estimate"]), float(data["low"]), float(data["high"]),
                   float(data.get("level", LEVEL)), int(data.get("n_boot", N_BOOT)))


def _resamples(n: int, n_boot: int, seed: int):
    """Chunks of bootstrap index arrays, (chunk, n) each, ``n_boot`` rows in all, from one seeded stream."""
    if n_boot < 1:
        raise SignificanceError(f"n_boot must be at least 1, got {n_boot}")
    rng = np.random.default_rng(seed)
    for start in range(0, n_boot, _CHUNK):
        yield rng.integers(0, n, size=(min(_CHUNK, n_boot - start), n))


def _macro_f1_rows(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Macro-F1 of each row of (B, N) label arrays over ``n_classes`` classes; F1 = 2TP / (2TP + FP + FN)."""
    b, k = len(y_true), n_classes
    offset = np.arange(b)[:, None] * k
    true_flat, pred_flat = (offset + y_true).ravel(), (offset + y_pred).ravel()
    tp = np.bincount(true_flat[(y_true == y_pred).ravel()], minlength=b * k).reshape(b, k)
    den = (np.bincount(true_flat, minlength=b * k) + np.bincount(pred_flat, minlength=b * k)).reshape(b, k)
    f1 = np.divide(2.0 * tp, den, out=np.zeros((b, k)), where=den > 0)  # den = 2TP + FP + FN
    return f1.mean(axis=1)


def _score_rows(metric: str, y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    if metric == "accuracy":
        return (y_true == y_pred).mean(axis=-1)
    if metric == "macro_f1":
        return _macro_f1_rows(np.atleast_2d(y_true), np.atleast_2d(y_pred), n_classes)
    raise SignificanceError(f"unknown metric {metric!r}; expected one of {', '.join(METRICS)}")


def score(metric: str, y_true: Any, y_pred: Any, n_classes: int | None = None) -> float:
    """Accuracy or macro-F1 (over ``n_classes`` classes, default max label + 1) of one set of predictions."""
    t, p = _classes(y_true, "y_true"), _classes(y_pred, "y_pred")
    _same_length(y_true=t, y_pred=p)
    k = _n_classes(n_classes, t, p)
    return float(np.ravel(_score_rows(metric, t[None], p[None], k))[0])


def _n_classes(n_classes: int | None, *labels: np.ndarray) -> int:
    top = max(int(a.max()) for a in labels) + 1
    k = top if n_classes is None else int(n_classes)
    if k < top or min(int(a.min()) for a in labels) < 0:
        raise SignificanceError(f"labels must be class indices in [0, {k - 1}]")
    return k


def _interval(estimate: float, samples: np.ndarray, level: float, n_boot: int) -> Interval:
    if not 0 < level < 1:
        raise SignificanceError(f"level must be between 0 and 1, got {level}")
    low, high = np.quantile(samples, [(1 - level) / 2, (1 + level) / 2])
    return Interval(float(estimate), float(low), float(high), float(level), int(n_boot))


def bootstrap_ci(y_true: Any, y_pred: Any, metric: str = "accuracy", *, n_classes: int | None = None,
                 n_boot: int = N_BOOT, level: float = LEVEL, seed: int = SEED) -> Interval:
    """Percentile bootstrap interval of one model's accuracy or macro-F1 (items resampled with replacement).

    Parameters
    ----------
    y_true, y_pred : (N,) array of int
        True and predicted class indices.
    metric : {'accuracy', 'macro_f1'}
        Macro-F1 is averaged over ``n_classes`` classes, as :func:`ferviz.results.metrics.compute_report` does.
    n_classes : int, optional
        K; default the largest label + 1.
    n_boot, level, seed : int, float, int
        Resamples, confidence level and the seed of the resampling.

    Returns
    -------
    Interval
        ``estimate`` is the metric on the items as given; the interval covers test-set sampling only,
        not seed-to-seed training noise.
    """
    t, p = _classes(y_true, "y_true"), _classes(y_pred, "y_pred")
    n = _same_length(y_true=t, y_pred=p)
    k = _n_classes(n_classes, t, p)
    samples = np.concatenate([_score_rows(metric, t[idx], p[idx], k) for idx in _resamples(n, n_boot, seed)])
    return _interval(score(metric, t, p, k), samples, level, n_boot)


def paired_bootstrap(y_true: Any, pred_a: Any, pred_b: Any, metric: str = "accuracy", *,
                     n_classes: int | None = None, n_boot: int = N_BOOT, level: float = LEVEL,
                     seed: int = SEED) -> Interval:
    """Bootstrap interval of ``metric(A) - metric(B)``, both models scored on the same resampled items.

    Resampling items once for both models keeps the pairing, so the interval is much narrower than two
    separate intervals would suggest when the models agree on most items. An interval that excludes 0
    says the difference is larger than test-set sampling explains (at ``level``).

    Returns
    -------
    Interval
        Of the difference, a fraction in [-1, 1] (multiply by 100 for percentage points).
    """
    t, a, b = _classes(y_true, "y_true"), _classes(pred_a, "pred_a"), _classes(pred_b, "pred_b")
    n = _same_length(y_true=t, pred_a=a, pred_b=b)
    k = _n_classes(n_classes, t, a, b)
    samples = np.concatenate([_score_rows(metric, t[idx], a[idx], k) - _score_rows(metric, t[idx], b[idx], k)
                              for idx in _resamples(n, n_boot, seed)])
    return _interval(score(metric, t, a, k) - score(metric, t, b, k), samples, level, n_boot)


# ------------------------------------------------------------------------------------------ McNemar

@dataclass(frozen=True)
class McNemar:
    """McNemar's test of two models on the same items.

    Attributes
    ----------
    a_only : int
        Items model A gets right and model B wrong.
    b_only : int
        Items B gets right and A wrong.
    n : int
        All items (the ones both get right or both wrong do not enter the test).
    p_exact : float
        Two-sided exact binomial p-value: under "equal error rates" each discordant item is A's with
        probability 1/2, so ``p = min(1, 2 P[Bin(a_only + b_only, 1/2) <= min(a_only, b_only)])``.
    chi2, p_chi2 : float
        The continuity-corrected statistic ``(|a_only - b_only| - 1)^2 / (a_only + b_only)`` and its
        χ²(1) p-value (0 and 1 without discordant items).
    """

    a_only: int
    b_only: int
    n: int
    p_exact: float
    chi2: float
    p_chi2: float

    @property
    def discordant(self) -> int:
        """Items exactly one model gets right."""
        return self.a_only + self.b_only

    @property
    def p_value(self) -> float:
        """The exact p-value (valid for any number of discordant items)."""
        return self.p_exact

    def significant(self, alpha: float = ALPHA) -> bool:
        return self.p_exact < alpha

    def to_dict(self) -> dict[str, float]:
        return {"a_only": self.a_only, "b_only": self.b_only, "n": self.n, "p_exact": self.p_exact,
                "chi2": self.chi2, "p_chi2": self.p_chi2}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> McNemar:
        return cls(int(data["a_only"]), int(data["b_only"]), int(data["n"]), float(data["p_exact"]),
                   float(data["chi2"]), float(data["p_chi2"]))


def mcnemar(a_correct: Any, b_correct: Any) -> McNemar:
    """McNemar's test from two (N,) boolean arrays (True where each model is right), see :class:`McNemar`."""
    a, b = _flags(a_correct, "a_correct"), _flags(b_correct, "b_correct")
    n = _same_length(a_correct=a, b_correct=b)
    a_only, b_only = int(np.sum(a & ~b)), int(np.sum(~a & b))
    m = a_only + b_only
    if m == 0:
        return McNemar(a_only, b_only, n, 1.0, 0.0, 1.0)
    p_exact = min(1.0, 2.0 * float(stats.binom.cdf(min(a_only, b_only), m, 0.5)))
    chi2 = (abs(a_only - b_only) - 1) ** 2 / m
    return McNemar(a_only, b_only, n, p_exact, float(chi2), float(stats.chi2.sf(chi2, 1)))


def disagreement_matrix(a_correct: Any, b_correct: Any) -> np.ndarray:
    """(2, 2) counts: rows A right / A wrong, columns B right / B wrong; off the diagonal they disagree."""
    a, b = _flags(a_correct, "a_correct"), _flags(b_correct, "b_correct")
    _same_length(a_correct=a, b_correct=b)
    return np.array([[np.sum(a & b), np.sum(a & ~b)], [np.sum(~a & b), np.sum(~a & ~b)]], dtype=np.int64)


# ------------------------------------------------------------------------------------ two models compared

@dataclass(frozen=True)
class PairedComparison:
    """Two models scored on the same items: both scores with intervals, their difference, McNemar's test.

    Attributes
    ----------
    name_a, name_b : str
        The models (file names or variants).
    n : int
        Items scored by both.
    accuracy_a, accuracy_b, macro_f1_a, macro_f1_b : Interval
        Each model's bootstrap interval.
    difference : Interval
        Paired bootstrap interval of accuracy(A) - accuracy(B).
    macro_f1_difference : Interval
        The same for macro-F1.
    test : McNemar
        The paired test on correctness.
    matrix : (2, 2) list of int
        :func:`disagreement_matrix`.
    """

    name_a: str
    name_b: str
    n: int
    accuracy_a: Interval
    accuracy_b: Interval
    macro_f1_a: Interval
    macro_f1_b: Interval
    difference: Interval
    macro_f1_difference: Interval
    test: McNemar
    matrix: list[list[int]]

    def verdict(self, alpha: float = ALPHA) -> str:
        """One sentence: which model is more accurate, and whether the data can tell them apart."""
        diff = 100 * self.difference.estimate
        level = round(100 * self.difference.level)
        head = f"{self.name_a} vs {self.name_b}: "
        head += (f"accuracy {abs(diff):.2f} points {'higher' if diff > 0 else 'lower'} for {self.name_a}"
                 if diff else "the same accuracy")
        tail = (f"McNemar exact p = {self.test.p_exact:.3g} on {self.test.discordant} items where they "
                f"disagree; {level} % interval of the difference {self.difference.text(signed=True)}")
        if self.test.significant(alpha):
            return f"{head} — a significant difference at α = {alpha} ({tail})."
        return f"{head} — not a significant difference at α = {alpha} ({tail})."

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name_a": self.name_a, "name_b": self.name_b, "n": self.n}
        for key in _INTERVALS:
            out[key] = getattr(self, key).to_dict()
        out["test"] = self.test.to_dict()
        out["matrix"] = [[int(v) for v in row] for row in self.matrix]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PairedComparison:
        """Inverse of :meth:`to_dict`; a missing key raises ``KeyError``."""
        iv = {k: Interval.from_dict(data[k]) for k in _INTERVALS}
        return cls(str(data["name_a"]), str(data["name_b"]), int(data["n"]), **iv,
                   test=McNemar.from_dict(data["test"]), matrix=[[int(v) for v in r] for r in data["matrix"]])


_INTERVALS = ("accuracy_a", "accuracy_b", "macro_f1_a", "macro_f1_b", "difference", "macro_f1_difference")


def compare_predictions(y_true: Any, pred_a: Any, pred_b: Any, *, names: Sequence[str] = ("A", "B"),
                        n_classes: int | None = None, n_boot: int = N_BOOT, level: float = LEVEL,
                        seed: int = SEED) -> PairedComparison:
    """Compare two models' predictions on the same items (see :class:`PairedComparison`).

    Parameters
    ----------
    y_true, pred_a, pred_b : (N,) array of int
        True classes and each model's predicted classes, item for item.
    names : (str, str)
        How the two models are called in the verdict.
    n_classes, n_boot, level, seed
        As in :func:`bootstrap_ci`; every interval uses the same ``seed``.
    """
    t, a, b = _classes(y_true, "y_true"), _classes(pred_a, "pred_a"), _classes(pred_b, "pred_b")
    n = _same_length(y_true=t, pred_a=a, pred_b=b)
    k = _n_classes(n_classes, t, a, b)
    opts = {"n_classes": k, "n_boot": n_boot, "level": level, "seed": seed}
    name_a, name_b = (str(x) for x in names)
    return PairedComparison(
        name_a, name_b, n,
        bootstrap_ci(t, a, "accuracy", **opts), bootstrap_ci(t, b, "accuracy", **opts),
        bootstrap_ci(t, a, "macro_f1", **opts), bootstrap_ci(t, b, "macro_f1", **opts),
        paired_bootstrap(t, a, b, "accuracy", **opts), paired_bootstrap(t, a, b, "macro_f1", **opts),
        mcnemar(a == t, b == t), disagreement_matrix(a == t, b == t).tolist())


def disagreements(y_true: Any, probs_a: Any, probs_b: Any) -> tuple[np.ndarray, np.ndarray]:
    """Where exactly one of two models is right, the most confident wrong answers first.

    Parameters
    ----------
    y_true : (N,) array of int
    probs_a, probs_b : (N, K) array of float
        Each model's class probabilities for the same items.

    Returns
    -------
    a_only : (M,) ndarray of int64
        Items A gets right and B wrong, by decreasing confidence of B's wrong answer.
    b_only : (L,) ndarray of int64
        Items B gets right and A wrong, by decreasing confidence of A's wrong answer.
    """
    t = _classes(y_true, "y_true")
    pa, pb = np.asarray(probs_a, dtype=float), np.asarray(probs_b, dtype=float)
    if pa.ndim != 2 or pa.shape != pb.shape or len(pa) != len(t):
        raise SignificanceError(f"probabilities must be two (N, K) arrays for the same {len(t)} items, got "
                                f"{pa.shape} and {pb.shape}")
    a_right, b_right = pa.argmax(1) == t, pb.argmax(1) == t

    def ordered(mask: np.ndarray, wrong_probs: np.ndarray) -> np.ndarray:
        hits = np.flatnonzero(mask)
        return hits[np.argsort(-wrong_probs[hits].max(1), kind="stable")]

    return ordered(a_right & ~b_right, pb), ordered(~a_right & b_right, pa)


# ------------------------------------------------------------------------------------------- seeds

@dataclass(frozen=True)
class Spread:
    """Several training runs of one configuration: the mean, the sample standard deviation, the range."""

    runs: int
    mean: float
    std: float  # NaN for a single run: one seed has no spread
    low: float
    high: float

    @property
    def one_seed(self) -> bool:
        return self.runs == 1

    def text(self, digits: int = 2) -> str:
        """``'54.56 % (one seed)'`` or ``'54.10 ± 0.42 % (3 seeds)'`` for values in percent."""
        if self.one_seed:
            return f"{self.mean:.{digits}f} % (one seed)"
        return f"{self.mean:.{digits}f} ± {self.std:.{digits}f} % ({self.runs} seeds)"


def seed_spread(values: Sequence[float]) -> Spread:
    """Mean, sample standard deviation (ddof=1; NaN for one run) and range of one score over seeds."""
    arr = np.asarray([float(v) for v in values], dtype=float)
    if arr.size == 0 or not np.all(np.isfinite(arr)):
        raise SignificanceError("seed_spread needs at least one finite value")
    std = float(arr.std(ddof=1)) if arr.size > 1 else math.nan
    return Spread(int(arr.size), float(arr.mean()), std, float(arr.min()), float(arr.max()))


@dataclass(frozen=True)
class SeedPairs:
    """Two configurations trained with the same seeds: the per-seed differences and a paired t-test.

    ``differences`` are A minus B per shared seed (in the scores' unit, e.g. percent). With seeds paired,
    the run-to-run noise both share (data order, initialisation) cancels; the test asks whether the mean
    difference is zero. Few seeds make a weak test: a large p-value means "within seed noise", not
    "equal".
    """

    seeds: tuple[int, ...]
    differences: tuple[float, ...]
    mean: float
    std: float
    t: float
    p_value: float
    a_wins: int  # seeds where A scored higher

    @property
    def significant(self) -> bool:
        return self.p_value < ALPHA

    def text(self, digits: int = 2, unit: str = " pp", a_name: str = "A") -> str:
        """``'+0.84 ± 0.51 pp over 3 paired seeds (A higher in 3 of 3), paired t-test p = 0.120: within
        seed noise'``; ``a_name`` replaces ``A``."""
        verdict = "a real difference at the 5 % level" if self.significant else "within seed noise"
        n = len(self.seeds)
        return (f"{self.mean:+.{digits}f} ± {self.std:.{digits}f}{unit} over {n} paired seeds "
                f"({a_name} higher in {self.a_wins} of {n}), paired t-test p = {self.p_value:.3f}: {verdict}")


def paired_seeds(a: dict[int, float], b: dict[int, float]) -> SeedPairs:
    """Paired t-test of the scores of A and B over the seeds both have (at least two).

    Parameters
    ----------
    a, b : dict
        Score per training seed, e.g. ``{0: 61.2, 1: 60.8, 2: 61.9}``.

    Raises
    ------
    SignificanceError
        Fewer than two shared seeds, or a non-finite score.
    """
    seeds = tuple(sorted(set(a) & set(b)))
    if len(seeds) < 2:
        raise SignificanceError(f"a paired test over seeds needs at least two shared seeds, got {len(seeds)}")
    x = np.array([float(a[s]) for s in seeds])
    y = np.array([float(b[s]) for s in seeds])
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise SignificanceError("paired_seeds needs finite scores")
    diff = x - y
    std = float(diff.std(ddof=1))
    if std == 0:  # identical differences: t is infinite unless they are all zero
        t, p = (0.0, 1.0) if diff[0] == 0 else (math.copysign(math.inf, diff[0]), 0.0)
    else:
        result = stats.ttest_rel(x, y)
        t, p = float(result.statistic), float(result.pvalue)
    return SeedPairs(seeds, tuple(float(d) for d in diff), float(diff.mean()), std, t, p,
                     int((diff > 0).sum()))
