"""What this project measured, read back from committed files, and set beside the paper's numbers.

Two kinds of committed file hold measurements (docs/DESIGN.md §10):

- **model cards** ``models/<name>.json`` beside each shipped ``<name>.pt`` (written by ``ferviz ship``,
  read as a :class:`~ferviz.modelcard.ModelCard`), whose ``report`` is a
  :class:`~ferviz.metrics.MetricReport` on the selection split;
- **reports** ``models/reports/*.json``: either a ``MetricReport.to_dict()`` (written by ``ferviz evaluate
  --json``; ``meta`` names model, variant, dataset, split and, optionally, ``kind`` in
  :data:`REPORT_KINDS`) or a cross-validation summary (``{"kind": "cv", ...}``, ``ferviz cv``).

:func:`discover` loads them into typed records; a file that cannot be read or is not one of these
shapes is skipped and named in :attr:`Discovery.warnings`, never raised. :func:`measured_frame` and
:func:`comparison_frame` put the numbers in long form, in **percent**, with a ``source`` column that
always says whether a number was *measured* here, *reported* by the paper (Tables 4-10) or *published*
elsewhere (docs/REFERENCES.md): the three are shown side by side and never mixed.
Per-item views of an :class:`~ferviz.evaluation.Evaluation` (CSV export, one confusion cell) end the
module.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ferviz.metrics import MetricError, MetricReport
from ferviz.model import DEFAULT_VARIANT
from ferviz.modelcard import ModelCard
from ferviz.reported import PROPOSED, STAND_INS, anchors_frame, reported_frame

if TYPE_CHECKING:
    from ferviz.evaluation import Evaluation

logger = logging.getLogger(__name__)

SOURCE_MEASURED = "measured (this project)"
SOURCE_PUBLISHED = "published"
PAPER = "Jayaraman & Mahendran, Sci. Rep. 2025"
#: Dataset kinds (``FaceDataset.name``) -> the names the paper and docs/REFERENCES.md use.
DATASET_NAMES: dict[str, str] = {"fer2013": "FER2013", "ckplus": "CK+", "rafdb": "RAF-DB", "jaffe": "JAFFE"}
#: ``meta["kind"]`` of a saved report; ``evaluation`` when the file does not say.
REPORT_KINDS: tuple[str, ...] = ("selection", "cross-dataset", "ablation", "comparison", "evaluation")
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
    """One saved :class:`~ferviz.metrics.MetricReport` with where it came from and how to remake it."""

    path: Path
    kind: str
    model: str
    variant: str
    dataset: str  # as the paper spells it (see dataset_name)
    split: str
    report: MetricReport
    command: str

    @property
    def label(self) -> str:
        return f"{self.model} · {self.dataset} {self.split or 'all'} ({self.kind}) — {self.path.name}"


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


@dataclass
class Discovery:
    """Everything :func:`discover` found under one models folder, plus what it had to skip."""

    models_dir: Path
    cards: list[ModelCard] = field(default_factory=list)
    reports: list[ReportRecord] = field(default_factory=list)
    cv: list[CVRecord] = field(default_factory=list)
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
    for path in sorted((found.models_dir / "reports").glob("*.json")):
        record = _guard(found, path, lambda data, p=path: _read_report(p, data, cards))
        if isinstance(record, CVRecord):
            found.cv.append(record)
        elif record is not None:
            found.reports.append(record)
    logger.info("found %d cards, %d reports, %d CV summaries in %s (%d skipped)", len(found.cards),
                len(found.reports), len(found.cv), found.models_dir, len(found.warnings))
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
    return ReportRecord(card.path, "selection", card.checkpoint.name, card.variant or "custom",
                        dataset_name(report.meta.get("dataset", card.dataset)),
                        card.selected_on or str(report.meta.get("split", "")), report, _ship_command(card))


def _read_report(path: Path, data: dict, cards: dict[str, ModelCard]) -> ReportRecord | CVRecord:
    if data.get("kind") == "cv" or {"folds", "accuracy_mean"} <= data.keys():  # CVSummary.to_dict()
        folds = tuple({**f, "accuracy": float(f["accuracy"]), "macro_f1": float(f["macro_f1"])}
                      for f in data["folds"])
        return CVRecord(path, dataset_name(data["dataset"]), str(data["variant"]), folds,
                        float(data["accuracy_mean"]), float(data["accuracy_std"]),
                        float(data["macro_f1_mean"]), float(data["macro_f1_std"]))
    report = _checked_report(data)
    meta = report.meta
    model, dataset = str(meta.get("model", "")), str(meta.get("dataset", ""))
    split = str(meta.get("split", ""))
    kind = str(meta.get("kind") or _infer_kind(dataset, cards.get(model)))
    command = str(meta.get("command")
                  or f"ferviz evaluate --model models/{model or '<name>.pt'} --data <PATH> "
                  f"--split {split or 'PublicTest'} --json models/reports/{path.name}")
    return ReportRecord(path, kind, model or path.stem, str(meta.get("variant", "")), dataset_name(dataset),
                        split, report, command)


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

MEASURED_COLUMNS = ["model", "variant", "dataset", "protocol", "kind", "metric", "value", "std", "n",
                    "source", "command", "file"]


def measured_frame(models_dir: str | Path | None = None, *, found: Discovery | None = None) -> pd.DataFrame:
    """Every committed measurement in long form, values in percent.

    Parameters
    ----------
    models_dir : str or Path, optional
        The folder to read (see :func:`discover`); ignored when ``found`` is given.
    found : Discovery, optional
        An earlier :func:`discover` result to use instead of reading ``models_dir``.

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
        protocol = f"{rec.split or 'all'} ({rec.kind})"
        for metric, value in rec.report.paper_metrics("macro").items():
            rows.append((rec.model, rec.variant, rec.dataset, protocol, rec.kind, metric, 100 * value, np.nan,
                         rec.report.n, SOURCE_MEASURED, rec.command, rec.path.name))
    for cv in found.cv:
        n = int(sum(f.get("n_test", 0) for f in cv.folds))
        command = f"ferviz cv --dataset <KIND> --data <PATH> --model {cv.variant} --folds {len(cv.folds)}"
        for metric, mean, std in (("accuracy", cv.accuracy_mean, cv.accuracy_std),
                                  ("f1", cv.macro_f1_mean, cv.macro_f1_std)):
            rows.append((f"{cv.variant} (CV)", cv.variant, cv.dataset, cv.protocol, "cv", metric, 100 * mean,
                         100 * std, n, SOURCE_MEASURED, command, cv.path.name))
    frame = pd.DataFrame(rows, columns=MEASURED_COLUMNS)
    frame.attrs["warnings"] = list(found.warnings)
    return frame


#: Ablation variants (docs/DESIGN.md §9) -> what each changes in the full model. Keys are
#: :data:`ferviz.model.VARIANTS` names.
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
ABLATION_COLUMNS = ["variant", "change", "dataset", "split", "epochs", "accuracy", "macro_f1",
                    "delta_accuracy", "delta_macro_f1", "n", "file"]


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
        epochs = rec.report.meta.get("epochs")
        rows.append({"variant": rec.variant, "change": ABLATIONS.get(rec.variant, rec.variant),
                     "dataset": rec.dataset, "split": rec.split,
                     "epochs": np.nan if epochs is None else int(epochs),
                     "accuracy": 100 * rec.report.accuracy, "macro_f1": 100 * rec.report.macro["f1"],
                     "n": rec.report.n, "file": rec.path.name})
    frame = pd.DataFrame(rows, columns=[c for c in ABLATION_COLUMNS if not c.startswith("delta")])
    keys = ["dataset", "split", "epochs"]
    ref = frame[frame["variant"] == DEFAULT_VARIANT].drop_duplicates(keys)[[*keys, "accuracy", "macro_f1"]]
    frame = frame.merge(ref, on=keys, how="left", suffixes=("", "_ref"))
    for metric in ("accuracy", "macro_f1"):
        frame[f"delta_{metric}"] = frame[metric] - frame.pop(f"{metric}_ref")
    frame["_full"] = frame["variant"] != DEFAULT_VARIANT
    frame = frame.sort_values(["dataset", "epochs", "_full", "accuracy"], ascending=[True, True, True, False])
    return frame.drop(columns="_full").reset_index(drop=True)[ABLATION_COLUMNS]


COMPARISON_COLUMNS = ["dataset", "metric", "entry", "series", "variant", "paper_model", "model", "protocol",
                      "value", "std", "low", "high", "source", "source_kind", "detail"]


def comparison_frame(models_dir: str | Path | None = None, *, found: Discovery | None = None) -> pd.DataFrame:
    """Measured numbers beside the paper's reported tables and the published anchors, in percent.

    Each paper baseline is aligned with its stand-in (:data:`ferviz.reported.STAND_INS`) and the
    proposed model with :data:`ferviz.model.DEFAULT_VARIANT`: rows that should be compared share one
    ``entry`` (``'ICNN-BiLSTM / cnn_bilstm'``).

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
    measured = measured_frame(models_dir, found=found)
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
