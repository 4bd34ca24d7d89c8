"""Committed measurement files read back as typed records: model cards, reports, CV, leakage, paired.

Two kinds of committed file hold measurements (docs/DESIGN.md §10):

- **model cards** ``models/<name>.json`` beside each shipped ``<name>.pt`` (written by ``ferviz ship``,
  read as a :class:`~ferviz.results.modelcard.ModelCard`), whose ``report`` is a
  :class:`~ferviz.results.metrics.MetricReport` on the selection split;
- **reports** ``models/reports/*.json``: either a ``MetricReport.to_dict()`` (written by ``ferviz evaluate
  --json``; ``meta`` names model, variant, dataset, split and, optionally, ``kind`` in
  :data:`REPORT_KINDS`) or a cross-validation summary (``{"kind": "cv", ...}``, ``ferviz cv``), a
  leakage report (``{"kind": "leakage", ...}``) or a paired comparison of two models
  (``{"kind": "paired", ...}``), both written by ``ferviz audit`` (:mod:`ferviz.results.audits`).

:func:`discover` loads them into a :class:`Discovery`; a file that cannot be read or is not one of these
shapes is skipped and named in :attr:`Discovery.warnings`, never raised. The tables built from the records
are in :mod:`ferviz.results.reports` (shipped models, the paper's numbers) and
:mod:`ferviz.results.studies` (ablations, seeds, levers).
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
from ferviz.paths import DATA_VARIABLE
from ferviz.results.metrics import MetricError, MetricReport
from ferviz.results.modelcard import ModelCard
from ferviz.results.reported import PROPOSED, STAND_INS
from ferviz.results.significance import Interval, PairedComparison
from ferviz.train.levers import LEVER_REPORTS

if TYPE_CHECKING:
    pass

logger = logging.getLogger(__name__)

SOURCE_MEASURED = "measured (this project)"
SOURCE_PUBLISHED = "published"
PAPER = "Jayaraman & Mahendran, Sci. Rep. 2025"
#: Dataset kinds (``FaceDataset.name``) -> the names the paper and docs/REFERENCES.md use.
DATASET_NAMES: dict[str, str] = {"fer2013": "FER2013", "ckplus": "CK+", "rafdb": "RAF-DB", "jaffe": "JAFFE"}
#: ``meta["kind"]`` of a saved report; ``evaluation`` when the file does not say.
SEED_REPORTS = "seeds"  # models/reports/seeds/: one ablation report per variant and training seed
TTA_REPORTS = "tta"  # models/reports/tta/: the shipped models evaluated with test-time augmentation
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
class ReportSource:
    """The items a committed report scored, as its command names them: enough to score them again, faces and all."""

    data: str  # the command's --data, as recorded (``$DATA/fer2013/fer2013_trainval.npz``)
    dataset_format: str  # its --dataset, or "auto" when the command does not say
    split: str  # the usage scored, or "all"
    tta: str  # the test-time views the report averaged over ("none")

    def path(self, data_folder: str | Path | None) -> Path | None:
        """The data on this machine: ``$DATA`` (or a relative path) resolved against ``data_folder``, an
        absolute path as it is; None when a folder is needed and none is given. Existence is not checked."""
        text = self.data
        if text == DATA_VARIABLE or text.startswith(DATA_VARIABLE + "/"):
            text = text[len(DATA_VARIABLE):].lstrip("/")
        elif Path(text).expanduser().is_absolute():
            return Path(text).expanduser()
        folder = str(data_folder or "").strip()
        return Path(folder).expanduser() / text if folder else None

    def locate(self, data_folder: str | Path | None) -> Path | None:
        """:meth:`path` when it exists; else, for a bare file name, that file one folder down in
        ``data_folder`` (``fer2013_trainval.npz`` -> ``fer2013/fer2013_trainval.npz``); else None."""
        path = self.path(data_folder)
        if path is None or path.exists():
            return path
        if data_folder and "/" not in self.data:
            return next(iter(sorted(Path(str(data_folder)).expanduser().glob(f"*/{self.data}"))), None)
        return None


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

    def source(self) -> ReportSource | None:
        """The scored items, from the first command's ``--data`` (and ``--dataset``); None when it names none."""
        try:
            words = shlex.split(self.command.split(";")[0])
        except ValueError:
            return None
        value = {flag: words[i + 1] for i, flag in enumerate(words[:-1]) if flag in ("--data", "--dataset")}
        if not value.get("--data"):
            return None
        return ReportSource(data=value["--data"], dataset_format=value.get("--dataset", "auto"),
                            split=self.split or "all", tta=self.tta)

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
