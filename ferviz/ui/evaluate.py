"""Widgets and renderers of the Evaluate page: committed reports, a fresh evaluation and its galleries.

Widgets return plain values; renderers take core objects (:mod:`ferviz.results.reports`,
:mod:`ferviz.results.metrics`, :mod:`ferviz.results.evaluation`) and draw them with the figures of
:mod:`ferviz.figures`. Errors the user can fix (a bad path, a malformed dataset) are shown with ``st.error`` and
the core's message, never raised."""

from __future__ import annotations

import hashlib
import os
from functools import partial
from pathlib import Path

import numpy as np
import streamlit as st

from ferviz.data.datasets import DATASET_READERS, FaceDataset, load_dataset
from ferviz.errors import CheckpointError, FervizError
from ferviz.figures.evaluate import (
    clicked_cell,
    confusion_figure,
    most_confused,
    per_class_figure,
    reliability_figure,
)
from ferviz.model.checkpoint import LoadedModel, expected_sha256
from ferviz.pipeline.tta import TTA_MODES, TTA_TEXT
from ferviz.results.evaluation import Evaluation, evaluate
from ferviz.results.leakage import Deduplicated, Duplicates, deduplicated, find_duplicates, model_caveats
from ferviz.results.metrics import MetricReport
from ferviz.results.records import (
    CVRecord,
    Discovery,
    LeakageRecord,
    ReportRecord,
    ReportSource,
    leakage_for,
    record_caveats,
    record_for_model,
)
from ferviz.results.significance import Interval
from ferviz.serve.access import resolve_dataset_path, shared_mode
from ferviz.text import md_escape
from ferviz.ui.agreement import show_committed_agreement, show_committed_mislabelled_for
from ferviz.ui.cache import shipped_models
from ferviz.ui.faces import FaceNotes, show_cell_faces
from ferviz.ui.queue import heavy_work
from ferviz.ui.reportviews import pct
from ferviz.ui.widgets import MODEL_KEY, dataset_picker, images_are

_DATA_KEY, EVAL_KEY = "ferviz_eval_dataset", "ferviz_evaluation"
_DUP_KEY = "ferviz_eval_duplicates"
#: Session keys the two-model comparison (ferviz.ui.pair) shares with this module.
PAIR_KEY, COMPARISON_KEY = "ferviz_pair", "ferviz_pair_comparison"
_RECORD_MODEL_KEY = "ferviz_eval_record_model"  # the sidebar model the report picker last opened on
_SPLIT_PREFERENCE = ("PrivateTest", "PublicTest", "test")
_AUTORUN_KEY = "ferviz_eval_autorun"  # (data path, split) a committed report's "open the faces" asked to score
#: Environment variables read, in order, for the folder a report's ``$DATA`` stands for (scripts/reproduce.sh's).
DATA_FOLDER_ENV = ("FERVIZ_DATA", "DATA")


# --------------------------------------------------------------------------------------- report views

def record_picker(found: Discovery, loaded: LoadedModel | None = None) -> ReportRecord | CVRecord | None:
    """Pick one committed report (model cards first); None when there is none.

    The picker opens on the report of the sidebar's model (its card's, when it has one) and moves to the
    new model's report whenever the sidebar model changes; the user can pick any other report.
    """
    records = [*found.metric_records(), *found.cv]
    if not records:
        return None
    labels = [r.label for r in records]
    sha = loaded.sha256 if loaded is not None else ""
    if st.session_state.get(_RECORD_MODEL_KEY) != sha or st.session_state.get("eval_record") not in labels:
        st.session_state[_RECORD_MODEL_KEY] = sha
        st.session_state["eval_record"] = labels[record_for_model(records, sha)]
    chosen = st.selectbox("Committed report", labels, key="eval_record")
    return records[labels.index(chosen)]


def show_record(found: Discovery, record: ReportRecord | CVRecord) -> None:
    """A committed record: its provenance and caveats, deduplicated scores, then the report (or CV folds)."""
    if isinstance(record, CVRecord):
        st.caption(f"{record.variant} on {record.dataset}, {record.protocol} — file `{record.path.name}`")
        left, right = st.columns(2)
        left.metric("accuracy (mean ± std)",
                    f"{100 * record.accuracy_mean:.2f} ± {100 * record.accuracy_std:.2f} %")
        right.metric("macro-F1 (mean ± std)",
                     f"{100 * record.macro_f1_mean:.2f} ± {100 * record.macro_f1_std:.2f} %")
        st.dataframe(record.folds_frame(), hide_index=True)
        return
    sha = f", checkpoint sha256 `{record.sha256[:12]}`" if record.sha256 else ""
    st.caption(f"{md_escape(record.model)} ({record.variant or 'variant not recorded'}) on {record.dataset}, "
               f"split {record.split or 'all'} — kind *{record.kind}*, file `{record.path.name}`{sha}")
    for caveat in record_caveats(found, record):
        st.warning(caveat)
    st.code(record.command, language="bash")
    faces_opener(record)
    leak = leakage_for(found, record)
    if leak is not None:
        show_committed_leakage(*leak)
    show_committed_agreement(found, record)
    show_report(record.report, key="record", context=str(record.path))
    show_committed_mislabelled_for(found, record)


def faces_opener(record: ReportRecord) -> None:
    """From a committed report's counts to its faces in one click: the same checkpoint scored again on the
    same items of the reviewer's own copy of the data (Source → run an evaluation, filled in and run).

    Shown when the report names its data and its checkpoint ships in ``models/``; the data folder (the
    report's ``$DATA``) starts from ``FERVIZ_DATA`` or ``DATA``. Not in shared mode (no server paths)."""
    source = record.source()
    if shared_mode() or source is None:
        return
    model = next((path for path in shipped_models().values() if _card_sha(path) == record.sha256), None)
    if not record.sha256 or model is None:
        st.caption(f"To see the faces behind these counts, the checkpoint this report scored must be in "
                   f"`models/` (sha256 `{record.sha256[:12] or 'not recorded'}`): make it with the command above, "
                   "then choose it and **Source → run an evaluation**.")
        return
    left, right = st.columns([3, 2], vertical_alignment="bottom")
    folder = left.text_input("Your data folder (`$DATA` in the command)", key="eval_data_folder",
                             value=next((os.environ[v] for v in DATA_FOLDER_ENV if os.environ.get(v)), ""),
                             help="The folder holding fer2013/, ckplus/ and jaffe/. Start the app with DATA=… (or "
                                  "FERVIZ_DATA=…) set and it is filled in.")
    path = source.locate(folder)
    if path is None:
        where = source.path(folder)
        left.caption(f"To see the faces behind these counts, give the folder that holds {md_escape(source.data)}"
                     + (f" ({md_escape(where)} is not there)." if where else "."))
        return
    right.button("Open the faces", key="eval_open_faces", on_click=_open_faces, args=(model, path, source),
                 help="Switches to Source → run an evaluation with this model, data, split and test-time views, "
                      "and runs it.")
    st.caption(f"**Open the faces** scores `{model.stem}` again on the {source.split} items of {md_escape(path)}, "
               "as this report did, and each confusion-matrix cell then shows its faces.")


def _card_sha(path: Path) -> str | None:
    try:
        return expected_sha256(path)
    except CheckpointError:
        return None


def _open_faces(model: Path, path: Path, source: ReportSource) -> None:
    """``on_click`` of :func:`faces_opener`: fill in Source → run an evaluation, and ask it to run."""
    st.session_state["eval_mode"] = "run an evaluation"
    st.session_state[MODEL_KEY] = str(model)
    st.session_state["eval_data_path"] = str(path)
    st.session_state["eval_data_kind"] = source.dataset_format if source.dataset_format in DATASET_READERS else "auto"
    st.session_state["eval_split"] = source.split
    st.session_state["eval_tta"] = source.tta if source.tta in TTA_MODES else "none"
    st.session_state[_AUTORUN_KEY] = (str(path), source.split)


def show_committed_leakage(leak: LeakageRecord, entry: dict) -> None:
    """The plain accuracy beside the deduplicated ones, from a committed leakage report."""
    counts = leak.counts
    exact, leaked = entry["exact"], entry["leaked"]
    intervals = [f"all items {Interval.from_dict(entry['accuracy']).text()}"]
    if "clean_accuracy_ci" in leaked:
        clean = Interval.from_dict(leaked["clean_accuracy_ci"])
        intervals.append(f"deduplicated (exact + near) {clean.text()}")
    dedup_metrics(entry["accuracy"]["estimate"], exact["duplicated"]["accuracy"], exact["clean"]["accuracy"],
                  leaked["clean"]["accuracy"], counts["exact"], leak.reference_split, leak.threshold)
    st.caption(f"{counts['exact']} of {counts['n']} {leak.split} items are pixel-identical to a "
               f"{leak.reference_split} image and {counts['near']} more are near copies (similarity ≥ "
               f"{leak.threshold:.2f}); the model saw them, with their labels, in training. 95 % bootstrap "
               f"intervals: {'; '.join(intervals)}. From `{leak.path.name}` (the Compare page shows all "
               "models).")


def dedup_metrics(plain: float, on_copies: float | None, clean_exact: float | None, clean_all: float | None,
                  n_exact: int, reference: str, threshold: float) -> None:
    """Four metrics: plain accuracy, on the exact duplicates, deduplicated (exact; exact + near)."""
    st.subheader("Plain and deduplicated accuracy")
    cols = st.columns(4)
    cols[0].metric("accuracy, all items", pct(plain))
    cols[1].metric(f"on the {n_exact} exact duplicates", pct(on_copies),
                   help=f"items pixel-identical to a {reference} image: the model was trained on them")
    cols[2].metric("deduplicated (exact)", pct(clean_exact), delta=_pp(clean_exact, plain),
                   delta_color="off", help=f"without the items pixel-identical to a {reference} image")
    cols[3].metric("deduplicated (exact + near)", pct(clean_all), delta=_pp(clean_all, plain),
                   delta_color="off", help=f"also without the near copies (the same photo re-encoded or "
                                           f"shifted; similarity ≥ {threshold:.2f})")


def _pp(value: float | None, reference: float) -> str | None:
    return None if value is None or np.isnan(value) else f"{100 * (value - reference):+.2f} pp"


def show_report(report: MetricReport, key: str, evaluation: Evaluation | None = None,
                context: object = None, notes: FaceNotes = FaceNotes()) -> None:
    """Headline scores, a clickable confusion matrix and its cells' faces, per-class rates, calibration.

    Parameters
    ----------
    report : MetricReport
    key : str
        Prefix of the widgets' keys.
    evaluation : Evaluation, optional
        The per-item predictions behind ``report``; without them a cell shows its count only.
    context : object
        What the report is of (model, dataset, split, or the record's file): when it changes, the chosen
        cell goes back to the most confused one.
    notes : FaceNotes
        FER+ votes and training-copy marks of the evaluated items, shown with the cell's faces.
    """
    cols = st.columns(4)
    for col, (name, value) in zip(cols, (("accuracy", report.accuracy), ("macro-F1", report.macro["f1"]),
                                         ("balanced accuracy", report.scores.get("balanced_accuracy")),
                                         ("ECE", report.scores.get("ece"))), strict=True):
        col.metric(name, "—" if value is None else f"{100 * value:.2f} %")
    st.caption(f"{report.n} items; macro averages over {len(report.class_names)} classes; values in %.")
    st.subheader("Confusion matrix")
    true_k, pred_k = confusion_section(report, key, context, has_faces=evaluation is not None)
    count = int(report.matrix()[true_k, pred_k])
    names = report.class_names
    st.caption(f"{count} items of class *{names[true_k]}* predicted as *{names[pred_k]}*.")
    if evaluation is not None:
        show_cell_faces(evaluation, true_k, pred_k, key=f"{key}_cell", notes=notes)
    st.subheader("Per-class metrics")
    st.dataframe(report.per_class_frame(), column_config=_percent_columns())
    st.plotly_chart(per_class_figure(report.per_class_frame()), key=f"{key}_per_class")
    st.subheader("Calibration")
    if report.reliability is None:
        st.caption("This report holds no probabilities, so no reliability diagram.")
    else:
        st.plotly_chart(reliability_figure(report.reliability), key=f"{key}_reliability")


def confusion_section(report: MetricReport, key: str, context: object = None,
                      has_faces: bool = True) -> tuple[int, int]:
    """The confusion matrix, clickable, with two dropdowns that always show the chosen cell.

    A click on a cell (a Streamlit plotly selection event) sets both dropdowns before the page reruns;
    the dropdowns are the keyboard way to the same choice. The cell starts, and starts again whenever
    ``context`` changes, on the most confused pair.

    Returns
    -------
    (int, int)
        The chosen (true, predicted) cell.
    """
    names = report.class_names
    true_key, pred_key = f"{key}_true_{len(names)}", f"{key}_pred_{len(names)}"
    context_key = f"{key}_cm_context"
    if (st.session_state.get(context_key) != repr(context) or true_key not in st.session_state
            or pred_key not in st.session_state):
        st.session_state[context_key] = repr(context)
        st.session_state[true_key], st.session_state[pred_key] = most_confused(report.matrix())
    normalise = st.toggle("Row-normalised (share of each true class)", key=f"{key}_normalise")
    left, right = st.columns(2)
    true_k = left.selectbox("True class", range(len(names)), format_func=names.__getitem__, key=true_key)
    pred_k = right.selectbox("Predicted class", range(len(names)), format_func=names.__getitem__,
                             key=pred_key)
    chart_key = f"{key}_cm"
    st.plotly_chart(confusion_figure(report.matrix(), names, normalise, (true_k, pred_k), selectable=True),
                    key=chart_key, on_select=partial(_apply_click, chart_key, true_key, pred_key, names),
                    selection_mode="points")
    if has_faces:
        st.caption("Click a cell to see its faces, or choose it with the two lists above.")
    else:
        st.caption("Click a cell, or choose it with the two lists above, for its count. A committed report holds "
                   "counts, not faces: to see the faces behind a cell, use **Open the faces** under the command "
                   "above, or choose **Source → run an evaluation** and give the path of your own copy of the data.")
    return int(true_k), int(pred_k)


def _apply_click(chart_key: str, true_key: str, pred_key: str, names: list[str]) -> None:
    """``on_select`` callback: the clicked cell becomes the dropdowns' choice."""
    event = st.session_state.get(chart_key) or {}
    cell = clicked_cell((event.get("selection") or {}).get("points"), names)
    if cell is not None:
        st.session_state[true_key], st.session_state[pred_key] = cell


#: Each per-class column in plain words (the tooltip); one class's "accuracy" is one-vs-rest, so it says so.
RATE_HELP = {
    "accuracy": "one-vs-rest: the % of all faces this class was right about (in or out of the class); "
                "high even for a useless detector of a rare class — read recall and precision instead",
    "precision": "of the faces labelled this class, the % that are",
    "recall": "of the faces of this class, the % found",
    "specificity": "of the faces of other classes, the % correctly not labelled this class",
    "f1": "harmonic mean of precision and recall",
    "gar": "genuine acceptance rate, the paper's name for recall",
    "far": "false acceptance rate, the paper's name for 100 % minus specificity",
}


def _percent_columns() -> dict:
    return {r: st.column_config.NumberColumn(r, format="percent", help=text) for r, text in RATE_HELP.items()}


# ---------------------------------------------------------------------------------- running an evaluation

def dataset_form() -> tuple[FaceDataset, Path, str] | None:
    """Ask for a dataset path and format, and load the dataset (kept for the session).

    Returns
    -------
    tuple of (FaceDataset, Path, str) or None
        The dataset, its resolved path and the chosen format (``"auto"`` or a reader name); None, with
        a message shown, while no usable path is given.
    """
    if shared_mode():  # no server path: the operator's datasets or an upload
        try:
            picked = dataset_picker("eval")
        except FervizError as exc:
            st.error(md_escape(exc))
            return None
        if picked is None:
            st.info("Choose one of the datasets this server offers, or upload one (.npz, or a .zip of the "
                    "class folders).")
            return None
        return picked[0], Path(picked[1]), f"auto|{'photos' if picked[0].whole_frames else 'crops'}"
    left, right = st.columns([3, 1])
    text = left.text_input("Dataset file or folder (your own copy)", key="eval_data_path",
                           placeholder="/data/fer2013/fer2013.csv or fer2013_trainval.npz")
    kind = right.selectbox("Format", ["auto", *DATASET_READERS], key="eval_data_kind")
    if not text.strip():
        st.info("Give the path of a dataset on this machine: FER2013, CK+, JAFFE, RAF-DB, a .npz archive, or "
                "your own class folders (happy/, sad/, … — any case — or numbered 0/-6/ in FER2013 order).")
        return None
    try:
        path = resolve_dataset_path(text)
        key = (str(path), path.stat().st_mtime, kind)
        cached = st.session_state.get(_DATA_KEY)
        if cached is None or cached[0] != key:
            with st.spinner(f"Reading {path.name}…"):
                cached = (key, load_dataset(kind, path))
            st.session_state[_DATA_KEY] = cached
    except (FervizError, ValueError, OSError) as exc:
        st.error(md_escape(exc))
        return None
    ds = images_are(cached[1], "eval")
    if ds.skipped:
        st.warning(f"{len(ds.skipped)} items were skipped while reading, e.g. {md_escape(ds.skipped[0])}")
    return ds, path, f"{kind}|{'photos' if ds.whole_frames else 'crops'}"


def split_picker(ds: FaceDataset) -> str:
    """A usage present in ``ds`` or ``'all'``; a held-out split is preselected when there is one."""
    values, counts = np.unique(ds.usage, return_counts=True)
    sizes = {str(v): int(c) for v, c in zip(values, counts, strict=True) if v}
    options = ["all", *sizes]
    if st.session_state.get("eval_split") not in options:
        st.session_state.pop("eval_split", None)
    chosen = ({} if "eval_split" in st.session_state  # set by the user, or by "open the faces"
              else {"index": next((options.index(s) for s in _SPLIT_PREFERENCE if s in sizes), 0)})
    return st.selectbox("Split", options, key="eval_split",
                        format_func=lambda s: f"{s} ({len(ds) if s == 'all' else sizes[s]} items)", **chosen)


def run_evaluation(loaded: LoadedModel, ds: FaceDataset, path: Path, kind: str,
                   split: str) -> Evaluation | None:
    """A Run button that evaluates ``loaded`` on one split of ``ds``.

    Returns
    -------
    Evaluation or None
        The evaluation kept in the session under (model sha256, dataset path, kind, split); None until
        the button has been pressed for these.
    """
    tta = st.selectbox("Test-time augmentation", TTA_MODES, key="eval_tta",
                       format_func=TTA_TEXT.get,
                       help="Average each face's probabilities over several views of it. A TTA score is a "
                            "different measurement from the model's own: it is labelled as such and never "
                            "replaces the plain number.")
    key = (loaded.sha256, str(path), kind, split, tta)
    asked = st.session_state.get(_AUTORUN_KEY) == (str(path), split)  # "open the faces" of a committed report
    if asked:
        st.session_state.pop(_AUTORUN_KEY)
    if st.button("Run evaluation", type="primary", key="eval_run") or asked:
        try:
            with heavy_work("the evaluation"):
                bar = st.progress(0.0, text="Evaluating…")
                part = ds if split == "all" else ds.split(split)
                result = evaluate(loaded, part, split=split, tta=tta,
                                  progress=lambda done, total: bar.progress(done / max(total, 1),
                                                                            f"{done} / {total} faces"))
        except (FervizError, ValueError) as exc:
            st.error(md_escape(exc))
            return None
        bar.empty()
        st.session_state[EVAL_KEY] = {key: result}  # one at a time: faces of a large split are big
        st.session_state.pop(PAIR_KEY, None)
        st.session_state.pop(COMPARISON_KEY, None)
    result = st.session_state.get(EVAL_KEY, {}).get(key)
    if result is None:
        st.info("Press **Run evaluation** to score the model on this split.")
    elif tta != "none":
        st.info(f"The scores below are **test-time augmented** ({TTA_TEXT[tta]}), not the model's plain "
                "score: set *Test-time augmentation* to none for that.")
    elif result.report.meta.get("n_left_out"):
        st.warning(f"{result.report.meta['n_left_out']} items of classes the model does not predict "
                   "were left out.")
    return result


def show_caveats(loaded: LoadedModel, ds: FaceDataset, split: str) -> None:
    """A warning for each overlap of the evaluated split with the model's training or selection split."""
    usages = [str(u) for u in np.unique(ds.usage)] if split == "all" else [split]
    for caveat in model_caveats(loaded, ds.name, usages):
        st.warning(caveat)


def reference_split(loaded: LoadedModel, ds: FaceDataset, split: str) -> str | None:
    """The training split to search for copies of the evaluated items, or None when there is none.

    The model's own training split (``meta['train_split']``) when the dataset has it, else ``Training``
    or ``train``; never the evaluated split itself, and None for ``all``.
    """
    present = {str(u) for u in np.unique(ds.usage) if u}
    wanted = [str(loaded.meta.get("train_split") or ""), "Training", "train"]
    return next((u for u in wanted if u and u in present and u != split and split != "all"), None)


def duplicates_for(loaded: LoadedModel, ds: FaceDataset, path: Path, kind: str, split: str,
                   evaluation: Evaluation) -> tuple[str, Duplicates] | None:
    """The evaluated items' exact and near copies in the training split (kept for the session), or None.

    Returns
    -------
    tuple of (str, Duplicates) or None
        The training split searched and the duplicates of ``evaluation``'s items in it; None, with a
        caption, when the dataset has no other split to search.
    """
    reference = reference_split(loaded, ds, split)
    if reference is None:
        st.caption("No training split in this dataset to search for copies of the evaluated items.")
        return None
    sources = "\n".join(map(str, evaluation.dataset.source)).encode()
    items = hashlib.blake2b(sources, digest_size=16).hexdigest()
    key = (str(path), kind, split, reference, items)
    cached = st.session_state.get(_DUP_KEY)
    if cached is None or cached[0] != key:
        train = ds.split(reference)
        with st.spinner(f"Searching {reference} for copies of the {len(evaluation.dataset)} images…"):
            dups = find_duplicates(evaluation.dataset.images, train.images,
                                   query_labels=evaluation.dataset.labels, reference_labels=train.labels)
        cached = (key, dups)
        st.session_state[_DUP_KEY] = cached
    return reference, cached[1]


def show_deduplicated(evaluation: Evaluation, reference: str, dups: Duplicates) -> Deduplicated:
    """The plain accuracy beside the accuracy on duplicated and on clean (deduplicated) items."""
    result = deduplicated(evaluation.y_true, evaluation.y_pred, dups, len(evaluation.report.class_names))
    counts = dups.counts()
    dedup_metrics(result.accuracy.estimate, result.exact.duplicated.accuracy, result.exact.clean.accuracy,
                  result.leaked.clean.accuracy, counts["exact"], reference, dups.threshold)
    intervals = [f"all items {result.accuracy.text()}"]
    if result.clean_accuracy is not None:
        intervals.append(f"deduplicated (exact + near) {result.clean_accuracy.text()}")
    st.caption(f"{counts['exact']} of {counts['n']} evaluated items are pixel-identical to a {reference} "
               f"image ({counts['label_conflicts']} of them with another label there) and {counts['near']} "
               f"more are near copies (similarity ≥ {dups.threshold:.2f}): the model saw them, with their "
               f"labels, in training. 95 % bootstrap intervals (test-set sampling only, not seed noise): "
               f"{'; '.join(intervals)}.")
    return result
