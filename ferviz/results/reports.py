"""What this project measured, read back from committed files, and set beside the paper's numbers.

Two kinds of committed file hold measurements (docs/DESIGN.md §10):

- **model cards** ``models/<name>.json`` beside each shipped ``<name>.pt`` (written by ``ferviz ship``,
  read as a :class:`~ferviz.results.modelcard.ModelCard`), whose ``report`` is a
  :class:`~ferviz.results.metrics.MetricReport` on the selection split;
- **reports** ``models/reports/*.json``: either a ``MetricReport.to_dict()`` (written by ``ferviz evaluate
  --json``; ``meta`` names model, variant, dataset, split and, optionally, ``kind`` in
  :data:`REPORT_KINDS`) or a cross-validation summary (``{"kind": "cv", ...}``, ``ferviz cv``), a
  leakage report (``{"kind": "leakage", ...}``) or a paired comparison of two models
  (``{"kind": "paired", ...}``), both written by ``python -m ferviz.results.audits`` (:mod:`ferviz.results.audits`).

:func:`discover` loads them into typed records; a file that cannot be read or is not one of these
shapes is skipped and named in :attr:`Discovery.warnings`, never raised. :func:`measured_frame` and
:func:`comparison_frame` put the numbers in long form, in **percent**, with a ``source`` column that
always says whether a number was *measured* here, *reported* by the paper (Tables 4-10) or *published*
elsewhere (docs/REFERENCES.md): the three are shown side by side and never mixed.
Per-item views of an :class:`~ferviz.results.evaluation.Evaluation` (CSV export, one confusion cell) end the
module.
"""

from __future__ import annotations

import json
import logging
import shlex
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ferviz.model.network import DEFAULT_VARIANT
from ferviz.results.metrics import MetricError, MetricReport
from ferviz.results.modelcard import ModelCard
from ferviz.results.reported import PROPOSED, STAND_INS, anchors_frame, reported_frame
from ferviz.results.significance import Interval, PairedComparison, SeedPairs, paired_seeds, seed_spread
from ferviz.train.levers import LEVER_REPORTS, LEVERS

if TYPE_CHECKING:
    from ferviz.results.evaluation import Evaluation

logger = logging.getLogger(__name__)

SOURCE_MEASURED = "measured (this project)"
SOURCE_PUBLISHED = "published"
PAPER = "Jayaraman & Mahendran, Sci. Rep. 2025"
#: Dataset kinds (``FaceDataset.name``) -> the names the paper and docs/REFERENCES.md use.
DATASET_NAMES: dict[str, str] = {"fer2013": "FER2013", "ckplus": "CK+", "rafdb": "RAF-DB", "jaffe": "JAFFE"}
#: ``meta["kind"]`` of a saved report; ``evaluation`` when the file does not say.
REPORT_KINDS: tuple[str, ...] = ("selection", "cross-dataset", "ablation", "comparison", "lever",
                                 "evaluation")
#: Our variant -> the paper's model it stands for (docs/DESIGN.md §9); the proposed model is the default
#: variant.
PAPER_NAMES: dict[str, str] = {**{v: k for k, v in STAND_INS.items()}, DEFAULT_VARIANT: PROPOSED}


def dataset_name(kind: str) -> str:
    """The paper's spelling of a dataset kind (``'ckplus'`` -> ``'CK+'``); unknown kinds unchanged."""
    return DATASET_NAMES.get(str(kind).lower(), str(kind))


def aligned_name(variant: str) -> str:
    """The row label that puts a variant beside the paper model it stands for (``'HCNN-LSTM / cnn_lstm'``)."""
    return f"{PAPER_NAMES[variant]} / {variant}" if variant in PAPER_NAMES else variant


@dataclass(frozen=True)
class ReportRecord:
    """One saved :class:`~ferviz.results.metrics.MetricReport` with where it came from and how to remake it."""

    path: Path
    kind: str
    model: str
    variant: str
    dataset: str  # as the paper spells it (see dataset_name)
    split: str
    report: MetricReport
    command: str

    @property
    def sha256(self) -> str:
        """The evaluated checkpoint's sha256 as recorded in the report ('' when not recorded)."""
        return str(self.report.meta.get("sha256", ""))

    @property
    def tta(self) -> str:
        """The test-time augmentation the report averaged over (:data:`ferviz.pipeline.tta.TTA_VIEWS`; ``none``)."""
        return str(self.report.meta.get("tta") or "none")

    @property
    def label(self) -> str:
        sha = f", sha {self.sha256[:12]}" if self.sha256 else ""
        variant = f" [{self.variant}]" if self.variant and self.variant not in self.model else ""
        tta = "" if self.tta == "none" else f" + TTA {self.tta}"
        return (f"{self.model}{variant}{tta} · {self.dataset} {self.split or 'all'} ({self.kind}{sha}) — "
                f"{self.path.name}")


@dataclass(frozen=True)
class CVRecord:
    """A cross-validation summary: per-fold scores (fractions) and their mean and standard deviation."""

    path: Path
    dataset: str
    variant: str
    folds: tuple[dict, ...]
    accuracy_mean: float
    accuracy_std: float
    macro_f1_mean: float
    macro_f1_std: float

    @property
    def label(self) -> str:
        return f"{self.variant} · {self.dataset} {len(self.folds)}-fold CV — {self.path.name}"

    @property
    def protocol(self) -> str:
        return f"{len(self.folds)}-fold subject-independent CV"

    def folds_frame(self) -> pd.DataFrame:
        """One row per fold: fold, n_test, accuracy and macro_f1 in percent, subjects joined by commas."""
        return pd.DataFrame([{"fold": f.get("fold"), "n_test": f.get("n_test"),
                              "accuracy": 100 * f["accuracy"], "macro_f1": 100 * f["macro_f1"],
                              "subjects": ", ".join(f.get("subjects", []))}
                             for f in self.folds])


LEAKAGE_KIND, PAIRED_KIND = "leakage", "paired"  # as ferviz.results.audits writes them


@dataclass(frozen=True)
class LeakageRecord:
    """A leakage report (:func:`ferviz.results.audits.leakage_report`): duplicated test items and each model's scores.

    Attributes
    ----------
    data : dict
        The report as read (``counts``, ``method``, ``similarity_histogram``, ``items``, ``models``, ...).
    """

    path: Path
    dataset: str  # as the paper spells it
    split: str
    reference_split: str
    data: dict

    @property
    def label(self) -> str:
        return f"{self.dataset} {self.split} vs {self.reference_split} — {self.path.name}"

    @property
    def counts(self) -> dict[str, int]:
        return {k: int(v) for k, v in self.data["counts"].items()}

    @property
    def threshold(self) -> float:
        return float(self.data["method"]["near_threshold"])

    def entry(self, sha256: str) -> dict | None:
        """The scores of the model with this sha256, or None when the report does not hold it."""
        return next((m for m in self.data.get("models", []) if sha256 and m.get("sha256") == sha256), None)

    def frame(self) -> pd.DataFrame:
        """One row per model, in percent: plain accuracy, on exact duplicates, deduplicated (exact, and
        exact + near), and what the duplicates add to the plain number (``inflation``, points)."""
        rows = []
        for m in self.data.get("models", []):
            exact, leaked = m["exact"], m["leaked"]
            rows.append({"model": m["model"], "variant": m.get("variant", ""),
                         "accuracy": 100 * m["accuracy"]["estimate"],
                         "accuracy_95ci": Interval.from_dict(m["accuracy"]).text(),
                         "on_exact_duplicates": _percent(exact["duplicated"]["accuracy"]),
                         "deduplicated_exact": _percent(exact["clean"]["accuracy"]),
                         "deduplicated_exact_near": _percent(leaked["clean"]["accuracy"]),
                         "deduplicated_95ci": (Interval.from_dict(leaked["clean_accuracy_ci"]).text()
                                               if "clean_accuracy_ci" in leaked else ""),
                         "inflation_pp": _percent(leaked["inflation"]),
                         "macro_f1": _percent(m["macro_f1"]["estimate"]),
                         "macro_f1_deduplicated": _percent(leaked["macro_f1_clean"])})
        return pd.DataFrame(rows, columns=LEAKAGE_COLUMNS)


LEAKAGE_COLUMNS = ["model", "variant", "accuracy", "accuracy_95ci", "on_exact_duplicates",
                   "deduplicated_exact", "deduplicated_exact_near", "deduplicated_95ci", "inflation_pp",
                   "macro_f1", "macro_f1_deduplicated"]


def _percent(value: Any) -> float:
    return np.nan if value is None else 100 * float(value)


@dataclass(frozen=True)
class PairedRecord:
    """A paired comparison of two models on the same items (:func:`ferviz.results.audits.paired_report`).

    ``all`` covers every item; ``clean`` (None when the report has none) only those without a copy in
    the training split.
    """

    path: Path
    dataset: str
    split: str
    all: PairedComparison
    clean: PairedComparison | None
    data: dict

    @property
    def label(self) -> str:
        return f"{self.all.name_a} vs {self.all.name_b} · {self.dataset} {self.split} — {self.path.name}"


PAIRED_COLUMNS = ["model_a", "model_b", "items", "n", "accuracy_a", "accuracy_b", "difference_pp",
                  "difference_low", "difference_high", "difference_95ci", "a_only", "b_only", "mcnemar_p",
                  "significant", "file"]


@dataclass
class Discovery:
    """Everything :func:`discover` found under one models folder, plus what it had to skip."""

    models_dir: Path
    cards: list[ModelCard] = field(default_factory=list)
    reports: list[ReportRecord] = field(default_factory=list)
    cv: list[CVRecord] = field(default_factory=list)
    leakage: list[LeakageRecord] = field(default_factory=list)
    paired: list[PairedRecord] = field(default_factory=list)
    uncarded: list[Path] = field(default_factory=list)  # shipped checkpoints without a model card
    warnings: list[str] = field(default_factory=list)

    def metric_records(self) -> list[ReportRecord]:
        """Every saved MetricReport: the cards' (kind ``selection``) first, then ``models/reports``."""
        from_cards = [_card_record(c) for c in self.cards if c.report is not None]
        return from_cards + self.reports

    @property
    def empty(self) -> bool:
        return not (self.metric_records() or self.cv)

    def how_to_create(self) -> list[str]:
        """Commands that would create the missing cards and reports (placeholders in angle brackets)."""
        lines = [f"ferviz ship --run <OUT> --name {p.stem} --data <PATH>" for p in self.uncarded]
        names = [c.checkpoint.name for c in self.cards] + [p.name for p in self.uncarded] or ["<name>.pt"]
        lines += [f"ferviz evaluate --model models/{n} --data <PATH> --split PublicTest "
                  f"--json models/reports/{Path(n).stem}.json" for n in names]
        lines.append("ferviz cv --dataset ckplus --data <PATH> --out runs/cv_ckplus  "
                     "# then copy runs/cv_ckplus/summary.json to models/reports/")
        return lines


def discover(models_dir: str | Path | None = None) -> Discovery:
    """Load every model card in ``models_dir`` and every report in ``models_dir/reports``.

    Parameters
    ----------
    models_dir : str or Path, optional
        The models folder; default :data:`ferviz.paths.MODELS_DIR`. A missing folder gives an empty
        result.

    Returns
    -------
    Discovery
        The cards, reports and CV summaries found. Unreadable or malformed files are left out, each
        named with the reason in :attr:`Discovery.warnings`; nothing is raised for them.
    """
    if models_dir is None:
        from ferviz.paths import MODELS_DIR as models_dir
    found = Discovery(Path(models_dir))
    for path in sorted(found.models_dir.glob("*.json")):
        card = _guard(found, path, lambda data, p=path: _read_card(p, data))
        if card is not None:
            found.cards.append(card)
    carded = {c.checkpoint.name for c in found.cards}
    found.uncarded = [p for p in sorted(found.models_dir.glob("*.pt")) if p.name not in carded]
    cards = {c.checkpoint.name: c for c in found.cards}
    reports = found.models_dir / "reports"
    for path in [*sorted(reports.glob("*.json")),
                 *(p for folder in (SEED_REPORTS, LEVER_REPORTS, TTA_REPORTS)
                   for p in sorted((reports / folder).glob("*.json")))]:
        record = _guard(found, path, lambda data, p=path: _read_report(p, data, cards))
        if isinstance(record, CVRecord):
            found.cv.append(record)
        elif isinstance(record, LeakageRecord):
            found.leakage.append(record)
        elif isinstance(record, PairedRecord):
            found.paired.append(record)
        elif record is not None:
            found.reports.append(record)
    logger.info("found %d cards, %d reports, %d CV summaries, %d leakage and %d paired reports in %s "
                "(%d skipped)", len(found.cards), len(found.reports), len(found.cv), len(found.leakage),
                len(found.paired), found.models_dir, len(found.warnings))
    return found


def _guard(found: Discovery, path: Path, read):
    """Parse ``path`` as a JSON object and pass it to ``read``; on failure, record a warning, return None."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object, got {type(data).__name__}")
        return read(data)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, MetricError, KeyError, TypeError, ValueError,
            AttributeError) as exc:
        message = f"{path.name}: skipped — {type(exc).__name__}: {exc}"
        logger.warning(message)
        found.warnings.append(message)
        return None


def _checked_report(data: Any) -> MetricReport:
    report = MetricReport.from_dict(data)
    k = len(report.class_names)
    if report.matrix().shape != (k, k) or len(report.per_class) != k:
        raise ValueError(f"confusion matrix and per-class rows do not match {k} classes")
    report.paper_metrics()  # every macro rate present
    return report


def _read_card(path: Path, data: dict) -> ModelCard:
    """The card ``path`` holds; one whose report cannot be scored is refused like a bad report file."""
    card = ModelCard.from_dict(data, path)
    if card.report is not None:
        _checked_report(card.report)
    return card


def _card_record(card: ModelCard) -> ReportRecord:
    """A card's report (checked by :func:`_read_card`) as a ``selection`` record."""
    report = card.metric_report()
    if card.sha256 and not report.meta.get("sha256"):
        report = replace(report, meta={**report.meta, "sha256": card.sha256})
    return ReportRecord(card.path, "selection", card.checkpoint.name, card.variant or "custom",
                        dataset_name(report.meta.get("dataset", card.dataset)),
                        card.selected_on or str(report.meta.get("split", "")), report, _ship_command(card))


def _read_leakage(path: Path, data: dict) -> LeakageRecord:
    record = LeakageRecord(path, dataset_name(data["dataset"]), str(data["split"]),
                           str(data["reference_split"]), data)
    record.counts, record.threshold  # noqa: B018 - both must be readable
    record.frame()  # every model entry complete
    return record


def _read_paired(path: Path, data: dict) -> PairedRecord:
    clean = PairedComparison.from_dict(data["clean"]) if data.get("clean") else None
    return PairedRecord(path, dataset_name(data["dataset"]), str(data["split"]),
                        PairedComparison.from_dict(data["all"]), clean, data)


def _read_report(path: Path, data: dict, cards: dict[str, ModelCard]
                 ) -> ReportRecord | CVRecord | LeakageRecord | PairedRecord:
    if data.get("kind") == "cv" or {"folds", "accuracy_mean"} <= data.keys():  # CVSummary.to_dict()
        folds = tuple({**f, "accuracy": float(f["accuracy"]), "macro_f1": float(f["macro_f1"])}
                      for f in data["folds"])
        return CVRecord(path, dataset_name(data["dataset"]), str(data["variant"]), folds,
                        float(data["accuracy_mean"]), float(data["accuracy_std"]),
                        float(data["macro_f1_mean"]), float(data["macro_f1_std"]))
    if data.get("kind") == LEAKAGE_KIND:
        return _read_leakage(path, data)
    if data.get("kind") == PAIRED_KIND:
        return _read_paired(path, data)
    report = _checked_report(data)
    meta = report.meta
    model, dataset = run_name(meta, path), str(meta.get("dataset", ""))
    split = str(meta.get("split", ""))
    kind = str(meta.get("kind") or _infer_kind(dataset, cards.get(model)))
    command = str(meta.get("command")
                  or f"ferviz evaluate --model models/{model or '<name>.pt'} --data <PATH> "
                  f"--split {split or 'PublicTest'} --json models/reports/{path.name}")
    return ReportRecord(path, kind, model or path.stem, str(meta.get("variant", "")), dataset_name(dataset),
                        split, report, command)


#: Checkpoint file names a training run writes: they say nothing about which model or run they are.
GENERIC_CHECKPOINTS = frozenset({"best.pt", "last.pt", "model.pt", "checkpoint.pt", "final.pt"})


def run_name(meta: dict, path: Path | None = None) -> str:
    """The name a report's model is shown under: its file name, or ``<run folder>/best.pt`` for a bare one.

    A run's checkpoint is always called ``best.pt``, so that name alone cannot tell two ablation runs
    apart; the run folder is read from the ``--model`` argument of the recorded command, else the
    variant and the report's file name stand in for it.

    Parameters
    ----------
    meta : dict
        A report's ``meta`` (``model``, ``variant``, ``command``).
    path : Path, optional
        The report file, named when nothing better is recorded.

    Returns
    -------
    str
        E.g. ``'fer2013_cnn_bilstm.pt'`` or ``'ablation_no_distill/best.pt'``; ``''`` when the report
        names no model.
    """
    model = str(meta.get("model", "") or "")
    if Path(model).name not in GENERIC_CHECKPOINTS:
        return model
    try:
        words = shlex.split(str(meta.get("command", "") or ""))
    except ValueError:
        words = []
    for flag, value in zip(words, words[1:], strict=False):
        if flag == "--model" and Path(value).name == Path(model).name and Path(value).parent.name:
            return f"{Path(value).parent.name}/{Path(value).name}"
    variant = str(meta.get("variant", "") or "")
    where = f"{variant} run" if variant else "run"
    return f"{model} ({where}{', ' + path.stem if path is not None else ''})"


def _infer_kind(dataset: str, card: ModelCard | None) -> str:
    """``cross-dataset`` when the model's card says it was trained on another dataset, else ``evaluation``."""
    if card is None or card.report is None:
        return "evaluation"
    trained_on = dataset_name(card.metric_report().meta.get("dataset", card.dataset))
    return "cross-dataset" if dataset and dataset_name(dataset) != trained_on else "evaluation"


def _ship_command(card: ModelCard) -> str:
    ship = f"ferviz ship --run <OUT> --name {card.name} --data <PATH>"
    return f"{card.command}; {ship}" if card.command else ship


# ---------------------------------------------------------------------------------------------- frames

#: Report kinds of the equal-budget training studies (ablations, levers): each run is one point of a study,
#: shown in the study's own chart and table, not beside the shipped models.
STUDY_KINDS: tuple[str, ...] = ("ablation", "lever")
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


#: Ablation variants (docs/DESIGN.md §9) -> what each changes in the full model. Keys are
#: :data:`ferviz.model.network.VARIANTS` names.
ABLATIONS: dict[str, str] = {
    DEFAULT_VARIANT: "none: the full model (gray input, both attentions, cross-fusion, distillation, PCP)",
    "cnn_bilstm": "no attention",
    "spatial_only": "spatial attention only",
    "channel_only": "channel attention only",
    "no_cross_fusion": "no cross-fusion of keys between the two layers",
    "no_distill": "no K/V self-distillation",
    "relu_gate": "ReLU instead of PCP in the ILM gate",
    "gelu_gate": "GELU instead of PCP in the ILM gate",
    "input_hog": "HOG image as input instead of gray",
    "input_gray_hog": "gray + HOG image as input",
}
ABLATION_COLUMNS = ["variant", "change", "dataset", "split", "epochs", "train_faces", "budget", "seed",
                    "accuracy", "macro_f1", "delta_accuracy", "delta_macro_f1", "n", "file"]
SEED_REPORTS = "seeds"  # models/reports/seeds/: one ablation report per variant and training seed
TTA_REPORTS = "tta"  # models/reports/tta/: the shipped models evaluated with test-time augmentation


def budget_text(epochs: float, train_faces: float) -> str:
    """``'4 epochs, all training faces'`` or ``'16 epochs on 5,000 training faces'`` (NaN: not recorded)."""
    ep = "epochs not recorded" if pd.isna(epochs) else f"{int(epochs)} epochs"
    if pd.isna(train_faces):
        return f"{ep}, all training faces"
    return f"{ep} on {int(train_faces):,} training faces"



def ablation_frame(models_dir: str | Path | None = None, *, found: Discovery | None = None) -> pd.DataFrame:
    """The ablation reports (``kind`` ``ablation``), one row each, in percent, beside the full model.

    Parameters
    ----------
    models_dir : str or Path, optional
        The folder to read (see :func:`discover`); ignored when ``found`` is given.
    found : Discovery, optional
        An earlier :func:`discover` result to use instead of reading ``models_dir``.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`ABLATION_COLUMNS`. ``delta_*`` is the row minus the full model's
        (:data:`DEFAULT_VARIANT`) ablation run on the same dataset and split with the same number of
        epochs, so every difference is at an equal budget; it is NaN when that reference run is
        missing. The full model comes first, the others by accuracy.
    """
    found = discover(models_dir) if found is None else found
    rows = []
    for rec in found.reports:
        if rec.kind != "ablation":
            continue
        epochs, faces, seed = (rec.report.meta.get(k) for k in ("epochs", "train_subset", "seed"))
        epochs = np.nan if epochs is None else int(epochs)
        faces = np.nan if faces is None else int(faces)
        rows.append({"variant": rec.variant, "change": ABLATIONS.get(rec.variant, rec.variant),
                     "dataset": rec.dataset, "split": rec.split, "epochs": epochs, "train_faces": faces,
                     "budget": budget_text(epochs, faces), "seed": np.nan if seed is None else int(seed),
                     "accuracy": 100 * rec.report.accuracy, "macro_f1": 100 * rec.report.macro["f1"],
                     "n": rec.report.n, "file": rec.path.name})
    frame = pd.DataFrame(rows, columns=[c for c in ABLATION_COLUMNS if not c.startswith("delta")])
    keys = ["dataset", "split", "epochs", "train_faces"]
    ref = frame[frame["variant"] == DEFAULT_VARIANT].groupby(keys, dropna=False, as_index=False)[
        ["accuracy", "macro_f1"]].mean()  # several seeds of the full model: their mean is the reference
    frame = frame.merge(ref, on=keys, how="left", suffixes=("", "_ref"))
    for metric in ("accuracy", "macro_f1"):
        frame[f"delta_{metric}"] = frame[metric] - frame.pop(f"{metric}_ref")
    frame["_full"] = frame["variant"] != DEFAULT_VARIANT
    frame = frame.sort_values(["dataset", "epochs", "train_faces", "_full", "accuracy"],
                              ascending=[True, True, True, True, False])
    return frame.drop(columns="_full").reset_index(drop=True)[ABLATION_COLUMNS]


SPREAD_COLUMNS = ["variant", "change", "dataset", "split", "epochs", "train_faces", "budget", "runs", "seeds",
                  "accuracy", "accuracy_std", "macro_f1", "macro_f1_std", "delta_accuracy", "delta_macro_f1",
                  "paired_seeds", "paired_p", "files"]


def _same_budget(frame: pd.DataFrame, row) -> pd.Series:
    """Rows of ``frame`` on ``row``'s dataset, split, epochs and training faces (NaN equals NaN)."""
    mask = pd.Series(True, index=frame.index)
    for key in ("dataset", "split", "epochs", "train_faces"):
        mask &= (frame[key] == row[key]) | (frame[key].isna() & pd.isna(row[key]))
    return mask


def _pairs_with_full(ablations: pd.DataFrame, row) -> SeedPairs | None:
    """The paired t-test of ``row``'s variant against the full model over their shared seeds, if >= 2."""
    if row["variant"] == DEFAULT_VARIANT:
        return None
    same = ablations[_same_budget(ablations, row) & ablations["seed"].notna()]
    by_seed = {v: dict(zip(g["seed"].astype(int), g["accuracy"], strict=True))
               for v, g in same.groupby("variant")}
    mine, full = by_seed.get(row["variant"], {}), by_seed.get(DEFAULT_VARIANT, {})
    return paired_seeds(mine, full) if len(set(mine) & set(full)) >= 2 else None


def seed_comparison(ablations: pd.DataFrame, variant: str, budget: str) -> SeedPairs | None:
    """``variant`` against the full model at ``budget`` (an :func:`ablation_frame` ``budget`` text), paired
    over the seeds both have; None with fewer than two shared seeds."""
    rows = ablations[(ablations["variant"] == variant) & (ablations["budget"] == budget)]
    return None if rows.empty else _pairs_with_full(ablations, rows.iloc[0])


def ablation_spread(ablations: pd.DataFrame) -> pd.DataFrame:
    """Ablation runs grouped by variant and budget: how many runs (seeds), mean and spread, in percent.

    Parameters
    ----------
    ablations : DataFrame
        An :func:`ablation_frame` (one row per report; several reports of one variant at one budget are
        several seeds).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SPREAD_COLUMNS`. ``accuracy`` and ``macro_f1`` are means over the runs, ``*_std``
        their sample standard deviation (NaN for one run: one seed has no spread), ``seeds`` says
        ``'one seed'`` or ``'N seeds'``, and ``delta_*`` is the mean minus the full model's mean at the same
        dataset, split and budget (epochs and training faces; NaN without a full-model run).
        ``paired_seeds`` counts the seeds the variant shares with the full model at that budget and
        ``paired_p`` is the paired t-test of their accuracies over those seeds (NaN with fewer than
        two). Full model first, then by accuracy.
    """
    if ablations.empty:
        return pd.DataFrame(columns=SPREAD_COLUMNS)
    keys = ["variant", "dataset", "split", "epochs", "train_faces"]
    rows = []
    for (variant, dataset, split, epochs, faces), group in ablations.groupby(keys, dropna=False, sort=False):
        acc, f1 = seed_spread(group["accuracy"]), seed_spread(group["macro_f1"])
        rows.append({"variant": variant, "change": group["change"].iloc[0], "dataset": dataset,
                     "split": split, "epochs": epochs, "train_faces": faces,
                     "budget": group["budget"].iloc[0], "runs": acc.runs,
                     "seeds": "one seed" if acc.one_seed else f"{acc.runs} seeds",
                     "accuracy": acc.mean, "accuracy_std": acc.std, "macro_f1": f1.mean,
                     "macro_f1_std": f1.std, "files": ", ".join(group["file"])})
    frame = pd.DataFrame(rows)
    ref = frame[frame["variant"] == DEFAULT_VARIANT][keys[1:] + ["accuracy", "macro_f1"]]
    frame = frame.merge(ref, on=keys[1:], how="left", suffixes=("", "_ref"))
    for metric in ("accuracy", "macro_f1"):
        frame[f"delta_{metric}"] = frame[metric] - frame.pop(f"{metric}_ref")
    frame["paired_seeds"], frame["paired_p"] = 0, np.nan
    for i, row in frame.iterrows():
        pairs = _pairs_with_full(ablations, row)
        if pairs is not None:
            frame.loc[i, ["paired_seeds", "paired_p"]] = len(pairs.seeds), pairs.p_value
    frame["_full"] = frame["variant"] != DEFAULT_VARIANT
    frame = frame.sort_values(["dataset", "epochs", "train_faces", "_full", "accuracy"],
                              ascending=[True, True, True, True, False])
    return frame.drop(columns="_full").reset_index(drop=True)[SPREAD_COLUMNS]


LEVER_COLUMNS = ["lever", "change", "dataset", "split", "budget", "runs", "seeds", "accuracy", "accuracy_std",
                 "macro_f1", "macro_f1_std", "baseline", "baseline_accuracy", "delta_accuracy",
                 "delta_macro_f1", "paired_seeds", "paired_p", "verdict", "files"]
BASELINE_LEVER = "none (baseline)"


def lever_table(found: Discovery) -> pd.DataFrame:
    """Each training lever against the full model without it, paired over training seeds.

    A lever report is a ``kind`` ``lever`` report whose ``meta["lever"]`` names the lever (a key of
    :data:`LEVERS`); its baseline is the full model's (:data:`DEFAULT_VARIANT`) ablation runs on the same
    dataset, split and training faces, with the same number of epochs when there are such runs, else
    the budget with the most seeds (a longer schedule is compared with the usual one).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`LEVER_COLUMNS`, in percent: the baseline first (``lever`` :data:`BASELINE_LEVER`),
        then one row per lever and budget, best mean accuracy first. ``delta_*`` is the mean paired
        difference from the baseline over the seeds both have (the plain difference of means without
        shared seeds), ``paired_p`` the paired t-test (NaN under two shared seeds), ``verdict`` says in
        words whether the difference is beyond seed noise.
    """
    runs = []
    for rec in found.reports:
        meta = rec.report.meta
        lever = meta.get("lever") if rec.kind == "lever" else (
            BASELINE_LEVER if rec.kind == "ablation" and rec.variant == DEFAULT_VARIANT else None)
        if lever is None:
            continue
        epochs, faces, seed = (meta.get(k) for k in ("epochs", "train_subset", "seed"))
        runs.append({"lever": str(lever), "dataset": rec.dataset, "split": rec.split,
                     "epochs": np.nan if epochs is None else int(epochs),
                     "train_faces": np.nan if faces is None else int(faces),
                     "seed": np.nan if seed is None else int(seed), "accuracy": 100 * rec.report.accuracy,
                     "macro_f1": 100 * rec.report.macro["f1"], "file": rec.path.name})
    runs = pd.DataFrame(runs, columns=["lever", "dataset", "split", "epochs", "train_faces", "seed",
                                       "accuracy", "macro_f1", "file"])
    levers = runs[runs["lever"] != BASELINE_LEVER]
    if levers.empty:
        return pd.DataFrame(columns=LEVER_COLUMNS)
    base = runs[runs["lever"] == BASELINE_LEVER]
    rows, baselines = [], {}
    keys = ["lever", "dataset", "split", "epochs", "train_faces"]
    for (lever, dataset, split, epochs, faces), group in levers.groupby(keys, dropna=False, sort=False):
        ref = _lever_baseline(base, dataset, split, epochs, faces)
        row = _lever_row(lever, LEVERS.get(lever, lever), group, ref)
        rows.append(row)
        if not ref.empty:
            baselines[row["baseline"]] = ref
    for ref in baselines.values():
        rows.append(_lever_row(BASELINE_LEVER, "the full model with recipe strong, nothing added", ref, ref))
    frame = pd.DataFrame(rows, columns=LEVER_COLUMNS)
    frame["_base"] = frame["lever"] != BASELINE_LEVER
    frame = frame.sort_values(["dataset", "_base", "accuracy"], ascending=[True, True, False])
    return frame.drop(columns="_base").reset_index(drop=True)


#: What a model card keeps of each lever-table row (:func:`lever_records`).
LEVER_RECORD_COLUMNS = ["lever", "change", "budget", "seeds", "accuracy", "accuracy_std", "delta_accuracy",
                        "delta_macro_f1", "paired_p", "verdict"]


def lever_records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of :func:`lever_table` as JSON values for a model card: numbers rounded, NaN as None."""
    out = []
    for row in table[LEVER_RECORD_COLUMNS].to_dict("records"):
        out.append({k: (None if isinstance(v, float) and np.isnan(v) else
                        round(float(v), 4) if isinstance(v, (float, np.floating)) else v)
                     for k, v in row.items()})
    return out


def _lever_baseline(base: pd.DataFrame, dataset: str, split: str, epochs: float,
                    faces: float) -> pd.DataFrame:
    """The full model's runs a lever at (dataset, split, epochs, training faces) is compared with."""
    same = base[(base["dataset"] == dataset) & (base["split"] == split)
                & ((base["train_faces"] == faces) | (base["train_faces"].isna() & pd.isna(faces)))]
    if same.empty or (same["epochs"] == epochs).any():
        return same[same["epochs"] == epochs]
    counts = same.groupby("epochs").size()
    best = counts[counts == counts.max()].index.min()  # most seeds; the shorter schedule on a tie
    return same[same["epochs"] == best]


def _lever_row(lever: str, change: str, group: pd.DataFrame, ref: pd.DataFrame) -> dict:
    acc, f1 = seed_spread(group["accuracy"]), seed_spread(group["macro_f1"])
    row = {"lever": lever, "change": change, "dataset": group["dataset"].iloc[0],
           "split": group["split"].iloc[0],
           "budget": budget_text(group["epochs"].iloc[0], group["train_faces"].iloc[0]), "runs": acc.runs,
           "seeds": ", ".join(str(int(s)) for s in sorted(group["seed"].dropna())) or "?",
           "accuracy": acc.mean, "accuracy_std": acc.std, "macro_f1": f1.mean, "macro_f1_std": f1.std,
           "baseline": "", "baseline_accuracy": np.nan, "delta_accuracy": np.nan, "delta_macro_f1": np.nan,
           "paired_seeds": 0, "paired_p": np.nan, "verdict": "no baseline run at this budget",
           "files": ", ".join(group["file"])}
    if ref.empty:
        return row
    row["baseline"] = budget_text(ref["epochs"].iloc[0], ref["train_faces"].iloc[0])
    row["baseline_accuracy"] = float(ref["accuracy"].mean())
    if lever == BASELINE_LEVER:
        row.update(delta_accuracy=0.0, delta_macro_f1=0.0, verdict="the reference")
        return row
    mine = {int(s): a for s, a in zip(group["seed"], group["accuracy"], strict=True) if pd.notna(s)}
    theirs = {int(s): a for s, a in zip(ref["seed"], ref["accuracy"], strict=True) if pd.notna(s)}
    shared = sorted(set(mine) & set(theirs))
    if shared:
        f1_mine = dict(zip(group["seed"], group["macro_f1"], strict=True))
        f1_theirs = dict(zip(ref["seed"], ref["macro_f1"], strict=True))
        row["delta_accuracy"] = float(np.mean([mine[s] - theirs[s] for s in shared]))
        row["delta_macro_f1"] = float(np.mean([f1_mine[s] - f1_theirs[s] for s in shared]))
    else:
        row["delta_accuracy"] = acc.mean - row["baseline_accuracy"]
        row["delta_macro_f1"] = f1.mean - float(ref["macro_f1"].mean())
    row["paired_seeds"] = len(shared)
    if len(shared) >= 2:
        pairs = paired_seeds(mine, theirs)
        row["paired_p"] = pairs.p_value
        word = "helps" if pairs.mean > 0 else "hurts"
        row["verdict"] = (f"{word} (p = {pairs.p_value:.3f}, {len(shared)} seeds)" if pairs.significant
                          else f"within seed noise (p = {pairs.p_value:.2f}, {len(shared)} seeds)")
    else:
        plural = "s" if len(shared) != 1 else ""
        row["verdict"] = f"{len(shared) or 'no'} shared seed{plural}: not testable yet"
    return row


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


def record_for_model(records: list, sha256: str) -> int:
    """Index of the first record (cards' come first) that measured the checkpoint with this sha256, else 0."""
    return next((i for i, r in enumerate(records) if sha256 and getattr(r, "sha256", "") == sha256), 0)


def card_for(found: Discovery, record: ReportRecord) -> ModelCard | None:
    """The model card of the checkpoint a record measured (same sha256, else same file name), if any."""
    return next((c for c in found.cards if record.sha256 and c.sha256 == record.sha256), None) or next(
        (c for c in found.cards if c.checkpoint.name == record.model), None)


def record_caveats(found: Discovery, record: ReportRecord) -> list[str]:
    """Warnings for a committed record measured on its model's training or selection split.

    A card's own report (kind ``selection``) and an ablation report (runs select on the split they are
    reported on) are selection-split numbers by construction; any other record is checked against the
    card of the checkpoint it measured, when the dataset is the one the model was trained on.
    """
    from ferviz.results.leakage import protocol_caveats

    card = card_for(found, record)
    selected_on = card.selected_on if card is not None else ""
    train_split = card.train_split if card is not None else ""
    if record.kind in ("selection", "ablation"):
        selected_on = selected_on or record.split
    elif card is None or dataset_name(card.dataset) != record.dataset:
        return []
    return protocol_caveats([record.split], train_split=train_split or None, selected_on=selected_on or None)


def leakage_for(found: Discovery, record: ReportRecord) -> tuple[LeakageRecord, dict] | None:
    """The committed leakage report that scored this record's checkpoint on the same dataset and split."""
    for leak in found.leakage:
        entry = leak.entry(record.sha256)
        if entry is not None and leak.dataset == record.dataset and leak.split == record.split:
            return leak, entry
    return None


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
