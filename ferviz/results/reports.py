"""What this project measured, as tables, set beside the paper's numbers.

:func:`measured_frame` and :func:`comparison_frame` put the numbers of the committed records
(:mod:`ferviz.results.records`) in long form, in **percent**, with a ``source`` column that always says
whether a number was *measured* here, *reported* by the paper (Tables 4-10) or *published* elsewhere
(docs/REFERENCES.md): the three are shown side by side and never mixed. :func:`tta_table` and
:func:`paired_frame` list the test-time-augmentation and paired-test reports. Per-item views of an
:class:`~ferviz.results.evaluation.Evaluation` (CSV export, one confusion cell) end the module.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ferviz.model.network import DEFAULT_VARIANT
from ferviz.results.modelcard import ModelCard
from ferviz.results.records import (
    PAIRED_COLUMNS,
    PAPER,
    PAPER_NAMES,
    SOURCE_MEASURED,
    SOURCE_PUBLISHED,
    Discovery,
    aligned_name,
    card_for,
    discover,
)
from ferviz.results.reported import STAND_INS, anchors_frame, reported_frame
from ferviz.results.studies import STUDY_KINDS, budget_text

if TYPE_CHECKING:
    from ferviz.results.evaluation import Evaluation



MEASURED_COLUMNS = ["model", "variant", "dataset", "protocol", "kind", "metric", "value", "std", "n",
                    "source", "training", "command", "file"]


def training_text(card: ModelCard | None, meta: dict | None = None) -> str:
    """The recipe and budget a measured model had, in words, from its card (else a report's meta).

    ``'recipe strong, 30 epochs'``; ``'recipe strong, 56 epochs in 3 stages: 30 + 8 (distilled from 1
    model) + 18 (distilled from 4 models, EMA, random erasing)'``; ``'16 epochs on 5,000 training
    faces, seed 1'`` for a report without a card; ``'not recorded'`` when nothing says.
    """
    if card is not None and (card.stages or card.epochs):
        stages = card.stages or ()
        if len(stages) < 2:
            return f"recipe {card.recipe or '?'}, {stages[0].epochs if stages else card.epochs} epochs"
        parts = []
        for stage in stages:
            extras = []
            if stage.teacher:
                n = len(stage.teacher.split(","))
                extras.append(f"distilled from {n} model{'s' if n > 1 else ''}")
            extras += [name for flag, name in (("--ema-decay", "EMA"), ("--erase", "random erasing"),
                                               ("--mixup", "mixup")) if flag in stage.command]
            parts.append(f"{stage.epochs}" + (f" ({', '.join(extras)})" if extras else ""))
        total = sum(stage.epochs or 0 for stage in stages)
        return f"recipe {card.recipe or '?'}, {total} epochs in {len(stages)} stages: {' + '.join(parts)}"
    meta = meta or {}
    if meta.get("grid") is not None and meta.get("C") is not None:  # ferviz hog-svm: no epochs, a C grid
        return f"linear SVM on HOG features, C = {meta['C']} chosen from {', '.join(map(str, meta['grid']))}"
    if meta.get("epochs") is not None:
        text = budget_text(meta["epochs"], meta["train_subset"] if meta.get("train_subset") else np.nan)
        return text + (f", seed {meta['seed']}" if meta.get("seed") is not None else "")
    return "not recorded"


def measured_frame(models_dir: str | Path | None = None, *, found: Discovery | None = None,
                   studies: bool = True) -> pd.DataFrame:
    """Every committed measurement in long form, values in percent.

    Parameters
    ----------
    models_dir : str or Path, optional
        The folder to read (see :func:`discover`); ignored when ``found`` is given.
    found : Discovery, optional
        An earlier :func:`discover` result to use instead of reading ``models_dir``.
    studies : bool
        Include the runs of the training studies (:data:`STUDY_KINDS`: ablations, levers) and the
        test-time-augmented reports (:func:`tta_table` shows those beside their plain numbers).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`MEASURED_COLUMNS`: the paper's seven metrics (macro averages; accuracy is eq. 26)
        per saved report, and accuracy and F1 (macro, mean over folds, with ``std``) per CV summary;
        ``source`` is always ``'measured (this project)'``. ``attrs['warnings']`` lists the skipped
        files.
    """
    found = discover(models_dir) if found is None else found
    rows = []
    for rec in found.metric_records():
        if not studies and (rec.kind in STUDY_KINDS or rec.tta != "none"):
            continue
        # a test-time-augmented number is its own row, named as such: never mixed into a plain one
        tta = "" if rec.tta == "none" else f" + TTA {rec.tta}"
        protocol = f"{rec.split or 'all'} ({rec.kind}{', TTA ' + rec.tta if tta else ''})"
        training = training_text(card_for(found, rec), rec.report.meta)
        for metric, value in rec.report.paper_metrics("macro").items():
            rows.append((rec.model + tta, rec.variant, rec.dataset, protocol, rec.kind, metric, 100 * value,
                         np.nan, rec.report.n, SOURCE_MEASURED, training, rec.command, rec.path.name))
    for cv in found.cv:
        n = int(sum(f.get("n_test", 0) for f in cv.folds))
        command = f"ferviz cv --dataset <KIND> --data <PATH> --model {cv.variant} --folds {len(cv.folds)}"
        for metric, mean, std in (("accuracy", cv.accuracy_mean, cv.accuracy_std),
                                  ("f1", cv.macro_f1_mean, cv.macro_f1_std)):
            rows.append((f"{cv.variant} (CV)", cv.variant, cv.dataset, cv.protocol, "cv", metric, 100 * mean,
                         100 * std, n, SOURCE_MEASURED, f"{len(cv.folds)} folds", command, cv.path.name))
    frame = pd.DataFrame(rows, columns=MEASURED_COLUMNS)
    frame.attrs["warnings"] = list(found.warnings)
    return frame


TTA_COLUMNS = ["model", "dataset", "split", "tta", "accuracy", "macro_f1", "delta_accuracy", "delta_macro_f1",
               "plain_accuracy", "plain_macro_f1", "file"]


def tta_table(found: Discovery) -> pd.DataFrame:
    """Every test-time-augmented report beside the plain number of the same checkpoint on the same items.

    The plain number is a report of the same checkpoint (sha256; the file name when no sha256 is
    recorded), dataset, split and item count without TTA: a model card's or a committed report's.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TTA_COLUMNS`, values in percent; ``delta_*`` is TTA minus plain (NaN when no plain
        report was found).
    """
    records = found.metric_records()
    plain = [r for r in records if r.tta == "none"]
    rows = []
    for rec in records:
        if rec.tta == "none":
            continue
        items = (rec.dataset, rec.split, rec.report.n)
        same = next((p for p in plain if (p.dataset, p.split, p.report.n) == items
                     and (p.sha256 == rec.sha256 if rec.sha256 else p.model == rec.model)), None)
        acc, f1 = 100 * rec.report.accuracy, 100 * rec.report.macro["f1"]
        base_acc = np.nan if same is None else 100 * same.report.accuracy
        base_f1 = np.nan if same is None else 100 * same.report.macro["f1"]
        rows.append({"model": rec.model, "dataset": rec.dataset, "split": rec.split or "all", "tta": rec.tta,
                     "accuracy": acc, "macro_f1": f1, "delta_accuracy": acc - base_acc,
                     "delta_macro_f1": f1 - base_f1, "plain_accuracy": base_acc, "plain_macro_f1": base_f1,
                     "file": rec.path.name})
    return pd.DataFrame(rows, columns=TTA_COLUMNS)

COMPARISON_COLUMNS = ["dataset", "metric", "entry", "series", "variant", "paper_model", "model", "protocol",
                      "value", "std", "low", "high", "source", "source_kind", "detail"]


def comparison_frame(models_dir: str | Path | None = None, *, found: Discovery | None = None) -> pd.DataFrame:
    """Measured numbers beside the paper's reported tables and the published anchors, in percent.

    Each paper baseline is aligned with its stand-in (:data:`ferviz.results.reported.STAND_INS`) and the
    proposed model with :data:`ferviz.model.network.DEFAULT_VARIANT`: rows that should be compared share one
    ``entry`` (``'ICNN-BiLSTM / cnn_bilstm'``). The training studies' runs (ablations, levers) are left
    out: each is one point of an equal-budget study, drawn in that study's own chart.

    Parameters
    ----------
    models_dir : str or Path, optional
        The folder to read (see :func:`discover`); ignored when ``found`` is given.
    found : Discovery, optional
        An earlier :func:`discover` result to use instead of reading ``models_dir``.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COMPARISON_COLUMNS`. ``source`` says where every number comes from:
        ``'measured (this project)'``, ``'reported (Table N)'`` or ``'published'`` (``source_kind`` is
        the first word); ``series`` separates measured protocols
        (``'measured · PublicTest (selection)'``). Published anchors known only as a range have
        ``value`` NaN and ``low`` / ``high`` set. ``attrs['warnings']`` lists skipped files.
    """
    measured = measured_frame(models_dir, found=found, studies=False)  # the studies have their own charts
    ours = pd.DataFrame({
        "dataset": measured["dataset"], "metric": measured["metric"],
        "entry": measured["variant"].map(aligned_name),
        "series": "measured · " + measured["protocol"], "variant": measured["variant"],
        "paper_model": measured["variant"].map(lambda v: PAPER_NAMES.get(v, "")), "model": measured["model"],
        "protocol": measured["protocol"], "value": measured["value"], "std": measured["std"],
        "source": measured["source"], "detail": measured["command"]})
    clash = ours.duplicated(["dataset", "metric", "entry", "series"], keep=False)
    ours.loc[clash, "entry"] = ours.loc[clash, "entry"] + " · " + ours.loc[clash, "model"]
    paper = reported_frame()
    variants = paper["model"].map(lambda m: STAND_INS.get(m, DEFAULT_VARIANT))
    theirs = pd.DataFrame({
        "dataset": paper["dataset"], "metric": paper["metric"], "entry": variants.map(aligned_name),
        "series": paper["source"], "variant": variants, "paper_model": paper["model"],
        "model": paper["model"],
        "protocol": "as reported", "value": paper["value"], "source": paper["source"], "detail": PAPER})
    anchors = anchors_frame()
    published = pd.DataFrame({
        "dataset": anchors["dataset"], "metric": "accuracy", "entry": anchors["name"],
        "series": SOURCE_PUBLISHED,
        "variant": "", "paper_model": "", "model": anchors["name"], "protocol": anchors["protocol"],
        "value": anchors["value"].astype(float), "low": anchors["low"], "high": anchors["high"],
        "source": SOURCE_PUBLISHED,
        "detail": anchors["source"] + np.where(anchors["note"] != "", "; " + anchors["note"], "")})
    parts = [p for p in (ours, theirs, published) if len(p)]
    frame = pd.concat(parts, ignore_index=True).reindex(columns=COMPARISON_COLUMNS)
    frame["source_kind"] = frame["source"].str.split(" ").str[0]
    frame.attrs["warnings"] = list(measured.attrs["warnings"])
    return frame


def paired_frame(models_dir: str | Path | None = None, *, found: Discovery | None = None) -> pd.DataFrame:
    """Every committed paired comparison, one row per report and item set (all items, clean items).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`PAIRED_COLUMNS`; accuracies and the difference (A - B) with its interval in
        percent (points), the interval also as text, ``mcnemar_p`` the exact p-value, ``significant``
        whether it is below 0.05.
    """
    found = discover(models_dir) if found is None else found
    rows = []
    for rec in found.paired:
        for items, comp in (("all", rec.all), ("clean (no training copy)", rec.clean)):
            if comp is None:
                continue
            rows.append({"model_a": comp.name_a, "model_b": comp.name_b, "items": items, "n": comp.n,
                         "accuracy_a": 100 * comp.accuracy_a.estimate,
                         "accuracy_b": 100 * comp.accuracy_b.estimate,
                         "difference_pp": 100 * comp.difference.estimate,
                         "difference_low": 100 * comp.difference.low,
                         "difference_high": 100 * comp.difference.high,
                         "difference_95ci": comp.difference.text(signed=True), "a_only": comp.test.a_only,
                         "b_only": comp.test.b_only, "mcnemar_p": comp.test.p_exact,
                         "significant": comp.test.significant(), "file": rec.path.name})
    return pd.DataFrame(rows, columns=PAIRED_COLUMNS)

# --------------------------------------------------------------------------------- per-item evaluation views

def predictions_frame(evaluation: Evaluation) -> pd.DataFrame:
    """One row per evaluated item: source, true, predicted, confidence, correct, then ``p_<class>``."""
    labels = list(evaluation.report.class_names)
    probs = np.asarray(evaluation.probs, dtype=float)
    pred = probs.argmax(1)
    frame = pd.DataFrame({"source": evaluation.dataset.source, "true": [labels[k] for k in evaluation.y_true],
                          "predicted": [labels[k] for k in pred], "confidence": probs.max(1),
                          "correct": pred == evaluation.y_true})
    return pd.concat([frame, pd.DataFrame(probs, columns=[f"p_{name}" for name in labels])], axis=1)


def cell_indices(evaluation: Evaluation, true_class: int, predicted_class: int, limit: int | None = None
                 ) -> np.ndarray:
    """Items of true class ``true_class`` predicted as ``predicted_class``, most confident first.

    Parameters
    ----------
    evaluation : Evaluation
        The evaluated dataset, its labels and probabilities.
    true_class, predicted_class : int
        Row and column of the confusion-matrix cell.
    limit : int, optional
        Return at most this many items; all of them when None.

    Returns
    -------
    (M,) ndarray of int64
        Positions in ``evaluation.y_true`` (and rows of ``evaluation.probs``), by decreasing top
        probability.
    """
    probs = np.asarray(evaluation.probs)
    hits = np.flatnonzero((evaluation.y_true == true_class) & (probs.argmax(1) == predicted_class))
    order = hits[np.argsort(-probs[hits].max(1), kind="stable")]
    return order if limit is None else order[:limit]
