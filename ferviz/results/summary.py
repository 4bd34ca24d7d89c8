"""The Home page's view of a model: its card merged with what the checkpoint records, in tables and words.

:func:`card_summary` merges a card with what the checkpoint itself records (its fallback when there is no
card) into a :class:`CardSummary`; the remaining functions put it in tables and words. Nothing here imports
Streamlit.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ferviz.errors import FervizError
from ferviz.model.checkpoint import LoadedModel
from ferviz.paths import BENCHMARK_MODEL
from ferviz.results.domains import domain_headline
from ferviz.results.metrics import MetricReport
from ferviz.results.modelcard import ModelCard, Stage
from ferviz.results.reported import DATASETS, PROPOSED, TABLES

log = logging.getLogger(__name__)

#: Headline metrics in display order, with their display names.
METRIC_NAMES: dict[str, str] = {
    "accuracy": "Accuracy", "macro_f1": "Macro F1", "balanced_accuracy": "Balanced accuracy",
    "top2_accuracy": "Top-2 accuracy", "ece": "Calibration error (ECE)", "nll": "NLL (nats)",
}
_NOT_FRACTIONS = ("nll", "loss")
_PER_CLASS_COLUMNS = ["support", "precision", "recall", "specificity", "f1"]


@dataclass(frozen=True, eq=False)
class CardSummary:
    """Everything the home page shows about one model; rates are fractions in [0, 1].

    Attributes
    ----------
    source : str
        ``"model card"`` when ``<name>.json`` was read, ``"checkpoint"`` otherwise.
    per_class : pandas.DataFrame or None
        One row per class (index: class name) with ``support`` and rates in percent; None without a
        readable report.
    problems : tuple of str
        What could not be read, one sentence each.
    domains : pandas.DataFrame or None
        The model's rows of the card's domain table beside the FER2013-label benchmark model's
        (:func:`~ferviz.results.domains.domain_headline`); None when the card has none for it.
    """

    name: str
    variant: str
    sha256: str
    source: str
    labels: tuple[str, ...]
    input_mode: str
    n_params: int
    dataset: str | None = None
    train_split: str | None = None
    selected_on: str | None = None
    recipe: str | None = None
    epochs: int | None = None
    best_epoch: int | None = None
    train_seconds: float | None = None
    command: str | None = None
    stages: tuple[Stage, ...] = ()  # a fine-tuned model's training runs, first first
    notes: tuple[str, ...] = ()
    metrics: dict[str, float] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    per_class: pd.DataFrame | None = None
    problems: tuple[str, ...] = ()
    domains: pd.DataFrame | None = None

    @property
    def sha_short(self) -> str:
        """The first 12 hex digits of the checkpoint's sha256."""
        return self.sha256[:12]


def card_summary(loaded: LoadedModel, card: ModelCard | None) -> CardSummary:
    """Merge a model card (preferred) with what the checkpoint records (fallback).

    Parameters
    ----------
    loaded : LoadedModel
        The model whose card this is.
    card : ModelCard or None
        :func:`card_beside`'s result; None when the model has no card yet.

    Returns
    -------
    CardSummary
    """
    meta = dict(loaded.meta)
    given = card if card is not None else ModelCard(name="", file="")  # every field empty: meta decides
    problems: list[str] = []
    per_class, metrics = None, _numeric(loaded.metrics)
    if given.report is not None:
        try:
            report = given.metric_report()
            per_class, metrics = per_class_table(report), report_metrics(report)
        except (FervizError, KeyError, ValueError, TypeError) as exc:
            problems.append(f"the card's metric report could not be read ({exc})")
            log.warning("model card of %s: unreadable report: %s", loaded.path.name, exc)
    settings = meta.get("train") if isinstance(meta.get("train"), dict) else {}
    seconds = given.training_seconds
    name = given.name or loaded.path.stem
    domains = domain_headline(given.domains, name, baseline=BENCHMARK_MODEL.stem)
    return CardSummary(
        name=name, variant=given.variant or loaded.variant,
        sha256=loaded.sha256, source="model card" if card is not None else "checkpoint",
        labels=tuple(loaded.labels), input_mode=loaded.preprocessing.input_mode,
        n_params=sum(p.numel() for p in loaded.model.parameters()),
        dataset=_text(given.dataset or meta.get("data") or meta.get("dataset")),
        train_split=_text(given.train_split or meta.get("train_split")),
        selected_on=_text(given.selected_on or meta.get("select_split")),
        recipe=_text(given.recipe or meta.get("recipe")),
        epochs=_int(given.epochs or settings.get("epochs")), best_epoch=_int(meta.get("epoch")),
        train_seconds=float(seconds) if seconds is not None else None,
        command=_text(given.command or meta.get("command")), stages=given.stages, notes=given.notes,
        metrics=metrics, settings=_flatten(settings), per_class=per_class, problems=tuple(problems),
        domains=domains if len(domains) else None)


def report_metrics(report: MetricReport) -> dict[str, float]:
    """Headline numbers of a report: overall accuracy (eq. 26) then its extra scores (macro F1, ...)."""
    return {"accuracy": float(report.accuracy), **_numeric(report.scores)}


def per_class_table(report: MetricReport) -> pd.DataFrame:
    """Support and per-class precision, recall, specificity and F1 in percent (one decimal)."""
    table = report.per_class_frame()[_PER_CLASS_COLUMNS].copy()
    rates = _PER_CLASS_COLUMNS[1:]
    table[rates] = (table[rates].astype(float) * 100).round(1)
    table["support"] = table["support"].astype(int)
    return table


def ordered_metrics(metrics: dict[str, float]) -> list[tuple[str, str, str]]:
    """``(key, display name, formatted value)`` per metric, known ones first in :data:`METRIC_NAMES` order."""
    keys = [k for k in METRIC_NAMES if k in metrics] + sorted(k for k in metrics if k not in METRIC_NAMES)
    return [(k, METRIC_NAMES.get(k, k.replace("_", " ").capitalize()), format_metric(k, metrics[k]))
            for k in keys]


def format_metric(key: str, value: float) -> str:
    """A fraction as percent with one decimal ("43.3 %"); losses and values outside [0, 1] as numbers."""
    if key in _NOT_FRACTIONS or not 0.0 <= value <= 1.0:
        return f"{value:.3f}"
    return f"{value * 100:.1f} %"


def details_frame(summary: CardSummary) -> pd.DataFrame:
    """Two string columns, ``field`` and ``value``: the card's facts in reading order (missing skipped)."""
    rows = [("data", summary.dataset), ("trained on split", summary.train_split),
            ("selected on split", summary.selected_on), ("recipe", summary.recipe),
            ("epochs", summary.epochs), ("selected epoch", summary.best_epoch),
            ("training time", f"{summary.train_seconds / 60:.1f} min" if summary.train_seconds else None),
            ("input", f"{summary.input_mode}, 64x64 face crops"), ("parameters", f"{summary.n_params:,}"),
            ("classes", ", ".join(summary.labels)), ("sha256", summary.sha_short),
            ("command", summary.command)]
    if len(summary.stages) > 1:  # fine-tuned: say so, and give every stage's command in order
        def count(s: Stage) -> str:
            return "?" if s.epochs is None else str(s.epochs)
        beside = [count(s) for s in summary.stages if s.parallel]
        epochs = " + ".join(count(s) for s in summary.stages if not s.parallel) + (
            f" (the last beside {len(beside)} parallel run(s) of {', '.join(beside)})" if beside else "")
        rows = [("epochs", f"{epochs}; each stage starts from the previous one's shipped weights")
                if k == "epochs" else (k, v) for k, v in rows if k != "command"]
        rows += [(f"command, stage {k}" + (" (parallel run)" if s.parallel else ""), s.command)
                 for k, s in enumerate(summary.stages, 1)]
    return pd.DataFrame([(k, str(v)) for k, v in rows if v not in (None, "")], columns=["field", "value"])


def settings_frame(summary: CardSummary) -> pd.DataFrame:
    """The training settings recorded in the checkpoint as ``setting`` / ``value`` strings."""
    return pd.DataFrame([(k, str(v)) for k, v in summary.settings.items()], columns=["setting", "value"])


def reported_accuracy(dataset: str | None) -> tuple[str, float] | None:
    """The paper's reported accuracy for the dataset a card names, if it is one of the paper's four.

    Parameters
    ----------
    dataset : str or None
        A dataset name as a card gives it (case and punctuation ignored, e.g. ``"ck+"``, ``"RAF-DB"``).

    Returns
    -------
    tuple of (str, float) or None
        The paper's dataset name and its accuracy in percent (Table 4); None for another dataset.
    """
    if not dataset:
        return None
    flat = re.sub(r"[^a-z0-9]", "", dataset.lower())
    table = dict(zip(DATASETS, TABLES["accuracy"][1][PROPOSED], strict=True))
    for name in sorted(DATASETS, key=len, reverse=True):
        if re.sub(r"[^a-z0-9]", "", name.lower()) in flat:
            return name, table[name]
    return None


def _numeric(values: dict) -> dict[str, float]:
    """The entries of ``values`` that are real numbers (bools excluded), as floats."""
    return {str(k): float(v) for k, v in values.items()
            if isinstance(v, int | float) and not isinstance(v, bool)}


def _flatten(values: dict, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as one level with dotted keys; empty strings dropped."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        elif value != "":
            out[f"{prefix}{key}"] = value
    return out


def _text(value: Any) -> str | None:
    """A card or checkpoint value as one display string: lists joined with spaces, dicts as ``k=v`` pairs."""
    if value in (None, "", [], {}):
        return None
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return " ".join(str(v) for v in value)
    return str(value)


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
