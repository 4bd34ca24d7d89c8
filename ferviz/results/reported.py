"""The paper's reported numbers (Tables 4-10), published anchors, and an identity audit of the tables.

Everything here is *reported* or *published*, never measured by this project: the dashboard shows it
beside, never mixed with, a :class:`ferviz.results.metrics.MetricReport`. Values are **percent, as printed**
(``reported_frame(as_fraction=True)`` divides by 100 to match :mod:`ferviz.results.metrics`).

The paper (Jayaraman & Mahendran, Sci. Rep. 2025) defines GAR (eq. 31) exactly as recall (eq. 29),
and its FAR (eq. 32), read per class, is FP / (FP + TN) = 1 - specificity (eq. 27); its tables do not
satisfy either identity (docs/DESIGN.md §7). :func:`consistency_audit` lists every violation. The paper does
not say how it averages over classes; *if* its numbers were micro-averaged, precision = recall = F1 =
accuracy as well, which ``consistency_audit(micro=True)`` also checks.

Transcription notes (the tables win where the prose disagrees): the prose gives specificity gaps of
3.23 (CK+, vs ICNN-BiLSTM) and 1.11 (RAF-DB, vs NGO-BiLSTM) where Table 5 gives 3.27 and 1.10; it
introduces Table 8 (F1) as "recall percentages" and prints eq. 32 as "FRR"; it says "three datasets"
where it reports four.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import pandas as pd

logger = logging.getLogger(__name__)

DATASETS: tuple[str, ...] = ("FER2013", "CK+", "RAF-DB", "JAFFE")
PROPOSED = "Proposed"
MODELS: tuple[str, ...] = ("NGO-BiLSTM", "ICNN-BiLSTM", "HCNN-LSTM", PROPOSED)
#: Our stand-in for each baseline (docs/DESIGN.md §9), trained and measured the same way as the proposed
#: model.
STAND_INS: dict[str, str] = {"NGO-BiLSTM": "ngo_bilstm", "ICNN-BiLSTM": "cnn_bilstm", "HCNN-LSTM": "cnn_lstm"}
#: The paper's bibliography entries for the baselines: [7] Zhong et al. 2023, [16] Pansambal et al. 2024,
#: [21] Mohana et al. 2023.
PAPER_REFS: dict[str, int] = {"NGO-BiLSTM": 7, "ICNN-BiLSTM": 16, "HCNN-LSTM": 21}

# Rows are models (MODELS order), columns datasets (DATASETS order), percent as printed.
# Table 4. Accuracy percentage comparisons (eq. 26).
_ACCURACY = {"NGO-BiLSTM": (81.23, 93.12, 92.45, 91.02), "ICNN-BiLSTM": (80.14, 92.86, 93.78, 90.84),
             "HCNN-LSTM": (81.14, 89.82, 91.43, 90.27), PROPOSED: (82.89, 96.78, 95.78, 95.87)}
# Table 5. Specificity percentage comparisons (eq. 27).
_SPECIFICITY = {"NGO-BiLSTM": (89.87, 92.17, 92.11, 91.83), "ICNN-BiLSTM": (87.93, 91.25, 90.69, 90.14),
                "HCNN-LSTM": (82.54, 89.84, 87.24, 89.87), PROPOSED: (91.23, 94.52, 93.21, 93.27)}
# Table 6. Precision percentage comparisons (eq. 28).
_PRECISION = {"NGO-BiLSTM": (91.67, 96.72, 93.85, 93.58), "ICNN-BiLSTM": (93.22, 94.74, 94.67, 94.21),
              "HCNN-LSTM": (91.75, 91.16, 91.68, 90.89), PROPOSED: (95.27, 97.54, 95.63, 95.26)}
# Table 7. Recall percentage comparisons (eq. 29).
_RECALL = {"NGO-BiLSTM": (93.46, 95.12, 94.28, 93.87), "ICNN-BiLSTM": (92.92, 93.97, 92.36, 92.58),
           "HCNN-LSTM": (91.70, 91.89, 91.76, 91.16), PROPOSED: (94.18, 96.67, 95.79, 95.22)}
# Table 8. F1 score percentage comparisons (eq. 30).
_F1 = {"NGO-BiLSTM": (93.24, 94.28, 94.87, 93.84), "ICNN-BiLSTM": (92.98, 93.36, 92.78, 92.52),
       "HCNN-LSTM": (91.82, 91.76, 92.84, 90.78), PROPOSED: (94.87, 96.79, 95.29, 94.35)}
# Table 9. GAR comparisons (eq. 31).
_GAR = {"NGO-BiLSTM": (87.21, 96.28, 95.74, 95.21), "ICNN-BiLSTM": (84.35, 94.78, 92.49, 94.67),
        "HCNN-LSTM": (79.63, 90.26, 91.21, 91.08), PROPOSED: (88.57, 97.23, 96.87, 96.32)}
# Table 10. FAR comparisons (eq. 32).
_FAR = {"NGO-BiLSTM": (9.12, 4.21, 5.47, 4.32), "ICNN-BiLSTM": (9.23, 5.84, 7.54, 6.91),
        "HCNN-LSTM": (11.23, 7.35, 8.41, 7.82), PROPOSED: (7.23, 1.42, 1.96, 1.78)}

#: metric -> (table number, {model: values per dataset}); metric keys match ``ferviz.results.metrics.PAPER_METRICS``.
TABLES: dict[str, tuple[int, dict[str, tuple[float, ...]]]] = {
    "accuracy": (4, _ACCURACY), "specificity": (5, _SPECIFICITY), "precision": (6, _PRECISION),
    "recall": (7, _RECALL), "f1": (8, _F1), "gar": (9, _GAR), "far": (10, _FAR),
}


def reported_frame(as_fraction: bool = False) -> pd.DataFrame:
    """The paper's Tables 4-10 in long form.

    Returns
    -------
    DataFrame
        Columns ``model``, ``dataset``, ``metric``, ``value`` (percent as printed, or a fraction in
        [0, 1] with ``as_fraction=True``) and ``source`` (``'reported (Table N)'``); 7 metrics x
        4 models x 4 datasets = 112 rows.
    """
    scale = 0.01 if as_fraction else 1.0
    rows = [(model, dataset, metric, value * scale, f"reported (Table {table})")
            for metric, (table, by_model) in TABLES.items()
            for model, values in by_model.items()
            for dataset, value in zip(DATASETS, values, strict=True)]
    return pd.DataFrame(rows, columns=["model", "dataset", "metric", "value", "source"])


def reported_table(model: str = PROPOSED) -> pd.DataFrame:
    """One model's numbers as printed, in docs/DESIGN.md §8's layout.

    Parameters
    ----------
    model : str
        One of :data:`MODELS`.

    Returns
    -------
    DataFrame
        Metrics (:data:`TABLES` order) as rows, :data:`DATASETS` as columns, percent as printed.

    Raises
    ------
    KeyError
        For a model the paper does not report.
    """
    if model not in MODELS:
        raise KeyError(f"unknown model {model!r}; the paper reports {', '.join(MODELS)}")
    frame = reported_frame()
    wide = frame[frame["model"] == model].pivot(index="metric", columns="dataset", values="value")
    return wide.loc[list(TABLES), list(DATASETS)]


@dataclass(frozen=True)
class Identity:
    """``metric`` should equal ``offset + sign * other`` (values in the table's units)."""

    name: str
    metric: str
    other: str
    sign: float = 1.0
    offset: float = 0.0

    def expected(self, other_value: float, scale: float) -> float:
        return self.offset * scale + self.sign * other_value

    def label(self) -> str:
        return self.other if self.sign > 0 else f"1 - {self.other}"


#: Identities that follow from the paper's own equations, whatever the class averaging.
IDENTITIES: tuple[Identity, ...] = (
    Identity("GAR = recall (eqs. 29, 31)", "gar", "recall"),
    Identity("FAR = 1 - specificity (eqs. 27, 32)", "far", "specificity", sign=-1.0, offset=1.0),
)
#: Identities that hold only for micro-averaged metrics of single-label classification.
MICRO_IDENTITIES: tuple[Identity, ...] = (
    Identity("precision = accuracy (micro)", "precision", "accuracy"),
    Identity("recall = accuracy (micro)", "recall", "accuracy"),
    Identity("F1 = accuracy (micro)", "f1", "accuracy"),
)


def consistency_audit(table: pd.DataFrame | None = None, tol: float = 0.5, micro: bool = False,
                      scale: float = 100.0) -> pd.DataFrame:
    """Check every model x dataset of a long-form table against the metric identities.

    Parameters
    ----------
    table : DataFrame, optional
        Columns ``model``, ``dataset``, ``metric``, ``value``, as :func:`reported_frame`; default
        the paper's tables.
    tol : float
        Largest gap, in the table's units (percentage points by default), still called consistent.
    micro : bool
        Also check precision = recall = F1 = accuracy, which holds only if the table is
        micro-averaged (the paper does not say).
    scale : float
        The value meaning "all": 100 for percent, 1 for fractions.

    Returns
    -------
    DataFrame
        One row per (model, dataset, identity) with both metrics present: ``model``, ``dataset``,
        ``identity``, ``metric``, ``value``, ``compared_with``, ``expected``, ``gap`` (absolute)
        and ``verdict`` (``'consistent'`` or ``'violated'``).
    """
    table = reported_frame() if table is None else table
    lookup = _lookup(table)
    checks = IDENTITIES + (MICRO_IDENTITIES if micro else ())
    pairs = table[["model", "dataset"]].drop_duplicates().itertuples(index=False)
    rows = [row for model, dataset in pairs for ident in checks
            if (row := _check(lookup, model, dataset, ident, tol, scale)) is not None]
    columns = ["model", "dataset", "identity", "metric", "value", "compared_with", "expected", "gap",
               "verdict"]
    audit = pd.DataFrame(rows, columns=columns)
    logger.info("consistency audit: %d of %d checks violated", (audit["verdict"] == "violated").sum(),
                len(audit))
    return audit


def _lookup(table: pd.DataFrame) -> pd.Series:
    missing = {"model", "dataset", "metric", "value"} - set(table.columns)
    if missing:
        raise ValueError(f"table lacks column(s) {sorted(missing)}; build it like reported_frame()")
    lookup = table.set_index(["model", "dataset", "metric"])["value"]
    if lookup.index.has_duplicates:
        dup = lookup.index[lookup.index.duplicated()][0]
        raise ValueError(f"table holds more than one value for (model, dataset, metric) = {dup}")
    return lookup


def _check(lookup: pd.Series, model: str, dataset: str, ident: Identity, tol: float,
           scale: float) -> dict | None:
    try:
        value = float(lookup[(model, dataset, ident.metric)])
        other = float(lookup[(model, dataset, ident.other)])
    except KeyError:
        logger.debug("audit: %s / %s lacks %s or %s", model, dataset, ident.metric, ident.other)
        return None
    expected = ident.expected(other, scale)
    gap = round(abs(value - expected), 9)  # 9 places: keep 0.5 == 0.5 despite binary fractions
    return {"model": model, "dataset": dataset, "identity": ident.name, "metric": ident.metric,
            "value": value, "compared_with": ident.label(), "expected": round(expected, 9), "gap": gap,
            "verdict": "consistent" if gap <= tol else "violated"}


@dataclass(frozen=True)
class Anchor:
    """A published reference number (percent), from docs/REFERENCES.md; never a number this project measured.

    Attributes
    ----------
    name : str
        The model, tool or group the number belongs to.
    dataset : str
    protocol : str
        The split or protocol the number was obtained on.
    value : float or None
        Percent; None where the literature gives only a range, which ``low`` / ``high`` then hold.
    source : str
        Where the number was published.
    note : str
        Caveats, or ``''``.
    low, high : float or None
        The range around or instead of ``value``, where one is given.
    """

    name: str
    dataset: str
    protocol: str
    value: float | None
    source: str
    note: str = ""
    low: float | None = None
    high: float | None = None


_PYFEAT = "py-feat's own held-out cross-tool benchmark"
ANCHORS: tuple[Anchor, ...] = (
    Anchor("VGG variant (Khaireddin & Chen)", "FER2013", "PrivateTest (3,589)", 73.28,
           "Khaireddin & Chen 2021, arXiv 2105.03588", "best single network without extra data, as claimed"),
    Anchor("ResMaskingNet (single)", "FER2013", "PrivateTest (3,589)", 74.14, "Pham et al., ICPR 2020"),
    Anchor("ResMaskingNet (ensemble of 7)", "FER2013", "PrivateTest (3,589)", 76.82, "Pham et al., ICPR 2020",
           "ensemble weights never released"),
    Anchor("deepface emotion model", "FER2013", "PrivateTest (3,589)", 57.4, "deepface issue tracker"),
    Anchor("human agreement", "FER2013", "whole dataset", 65.0, "commonly quoted from Goodfellow et al. 2013",
           "about 65 +/- 5 %", low=60.0, high=70.0),
    Anchor("ResEmoteNet (claimed)", "FER2013", "as published", 79.79, "users' retraining reports",
           "traced to augmentation before splitting and cross-split duplicates; retrained: 60-66 %",
           low=60.0, high=66.0),
    Anchor("POSTER V2", "RAF-DB", "test (3,068)", 92.21, "POSTER V2 paper",
           "RAF-DB has no validation split; many papers select on test"),
    Anchor("APViT", "RAF-DB", "test (3,068)", 91.98, "APViT paper",
           "author confirms test-set model selection"),
    Anchor("CF-DAN", "RAF-DB", "test (3,068)", 92.78, "Zhang et al., Computational Visual Media 10(3), 2024",
           "source of the dual attention and PCP; no public code"),
    Anchor("py-feat v2", "RAF-DB", "test (3,068), end to end", 65.6, _PYFEAT, "macro-F1 0.528"),
    Anchor("OpenFace 3.0", "RAF-DB", "test (3,068), end to end", 51.3, _PYFEAT),
    Anchor("LibreFace", "RAF-DB", "test (3,068), end to end", 64.6, _PYFEAT),
    Anchor("many papers", "CK+", "no standard protocol", None, "literature survey (docs/REFERENCES.md)",
           "random splits leak subjects and near-identical frames", low=98.0, high=99.7),
    Anchor("many papers", "JAFFE", "mixed protocols", None, "literature survey (docs/REFERENCES.md)",
           "leave-one-subject-out is the honest setting and scores much lower", low=90.0, high=95.0),
)


def anchors_frame(dataset: str | None = None) -> pd.DataFrame:
    """:data:`ANCHORS` as a DataFrame (a row per anchor, its fields as columns), optionally one dataset's."""
    frame = pd.DataFrame([asdict(a) for a in ANCHORS])
    return frame if dataset is None else frame[frame["dataset"] == dataset].reset_index(drop=True)
