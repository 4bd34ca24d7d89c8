"""Widgets and renderers of the analysis pages (HOG, Evaluate, Compare).

Widgets return plain values; renderers take core objects (:mod:`ferviz.reports`, :mod:`ferviz.metrics`,
:mod:`ferviz.evaluation`) and draw them with the figures of :mod:`ferviz.figures`. Errors the user can fix
(a bad path, a malformed dataset) are shown with ``st.error`` and the core's message, never raised.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import streamlit as st

from ferviz.checkpoint import LoadedModel
from ferviz.datasets import DATASET_READERS, FaceDataset, load_dataset
from ferviz.errors import FervizError
from ferviz.evaluation import Evaluation, evaluate
from ferviz.figures.evaluate import confusion_figure, most_confused, per_class_figure, reliability_figure
from ferviz.metrics import MetricReport
from ferviz.paths import MODELS_DIR, MODELS_DIR_ENV, resolve_user_path
from ferviz.reports import (
    CVRecord,
    Discovery,
    ReportRecord,
    cell_indices,
    discover,
    predictions_frame,
)
from ferviz.text import md_escape
from ferviz.ui.widgets import FACE_SOURCE_KEY, choose_face, page_link

EXPLAIN_PAGES = {"pages/3_Attention.py": "Attention maps", "pages/4_Attributions.py": "Attributions"}
GRID = 24  # faces shown per gallery
_DATA_KEY, _EVAL_KEY = "ferviz_eval_dataset", "ferviz_evaluation"
_SPLIT_PREFERENCE = ("PrivateTest", "PublicTest", "test")


def models_dir() -> Path:
    """Where the committed model cards live: ``$FERVIZ_MODELS_DIR`` if set, else the repository's models/."""
    return Path(os.environ.get(MODELS_DIR_ENV) or MODELS_DIR)


def discover_reports() -> Discovery:
    """Read every committed card and report; skipped files are shown as warnings."""
    found = discover(models_dir())
    for message in found.warnings:
        st.warning(message)
    return found


def show_how_to_create(found: Discovery) -> None:
    """An info box with the commands that make the missing model cards and reports."""
    commands = "\n".join(found.how_to_create())
    st.info(f"No committed report in `{found.models_dir.name}/` or `{found.models_dir.name}/reports/` yet. "
            f"Create them with your own copy of the data (PATH), then reload:\n\n```bash\n{commands}\n```")


# --------------------------------------------------------------------------------------- report views

def record_picker(found: Discovery) -> ReportRecord | CVRecord | None:
    """Pick one committed report (model cards first); None when there is none."""
    records = {r.label: r for r in [*found.metric_records(), *found.cv]}
    if not records:
        return None
    return records[st.selectbox("Committed report", list(records), key="eval_record")]


def show_record(record: ReportRecord | CVRecord) -> None:
    """A committed record: its provenance, then the report (or the folds of a CV summary)."""
    if isinstance(record, CVRecord):
        st.caption(f"{record.variant} on {record.dataset}, {record.protocol} — file `{record.path.name}`")
        left, right = st.columns(2)
        left.metric("accuracy (mean ± std)",
                    f"{100 * record.accuracy_mean:.2f} ± {100 * record.accuracy_std:.2f} %")
        right.metric("macro-F1 (mean ± std)",
                     f"{100 * record.macro_f1_mean:.2f} ± {100 * record.macro_f1_std:.2f} %")
        st.dataframe(record.folds_frame(), hide_index=True)
        return
    st.caption(f"{record.model} ({record.variant or 'variant not recorded'}) on {record.dataset}, split "
               f"{record.split or 'all'} — kind *{record.kind}*, file `{record.path.name}`")
    st.code(record.command, language="bash")
    show_report(record.report, key="record")


def show_report(report: MetricReport, key: str, evaluation: Evaluation | None = None) -> None:
    """Headline scores, the confusion matrix and a chosen cell's faces, per-class rates, calibration."""
    cols = st.columns(4)
    for col, (name, value) in zip(cols, (("accuracy", report.accuracy), ("macro-F1", report.macro["f1"]),
                                         ("balanced accuracy", report.scores.get("balanced_accuracy")),
                                         ("ECE", report.scores.get("ece"))), strict=True):
        col.metric(name, "—" if value is None else f"{100 * value:.2f} %")
    st.caption(f"{report.n} items; macro averages over {len(report.class_names)} classes; values in %.")
    st.subheader("Confusion matrix")
    names = report.class_names
    normalise = st.toggle("Row-normalised (share of each true class)", key=f"{key}_normalise")
    default = most_confused(report.matrix())
    left, right = st.columns(2)
    true_k = left.selectbox("True class", range(len(names)), index=default[0], format_func=names.__getitem__,
                            key=f"{key}_true_{len(names)}")
    pred_k = right.selectbox("Predicted class", range(len(names)), index=default[1],
                             format_func=names.__getitem__, key=f"{key}_pred_{len(names)}")
    st.plotly_chart(confusion_figure(report.matrix(), names, normalise, (true_k, pred_k)), key=f"{key}_cm")
    count = int(report.matrix()[true_k, pred_k])
    st.caption(f"{count} items of class *{names[true_k]}* predicted as *{names[pred_k]}*.")
    if evaluation is not None:
        show_cell_faces(evaluation, true_k, pred_k)
    st.subheader("Per-class metrics")
    st.dataframe(report.per_class_frame(), column_config=_percent_columns())
    st.plotly_chart(per_class_figure(report.per_class_frame()), key=f"{key}_per_class")
    st.subheader("Calibration")
    if report.reliability is None:
        st.caption("This report holds no probabilities, so no reliability diagram.")
    else:
        st.plotly_chart(reliability_figure(report.reliability), key=f"{key}_reliability")


def _percent_columns() -> dict:
    rates = ("accuracy", "precision", "recall", "specificity", "f1", "gar", "far")
    return {r: st.column_config.NumberColumn(r, format="percent") for r in rates}


# ---------------------------------------------------------------------------------- running an evaluation

def dataset_form() -> tuple[FaceDataset, Path, str] | None:
    """Ask for a dataset path and format, and load the dataset (kept for the session).

    Returns
    -------
    tuple of (FaceDataset, Path, str) or None
        The dataset, its resolved path and the chosen format (``"auto"`` or a reader name); None, with
        a message shown, while no usable path is given.
    """
    left, right = st.columns([3, 1])
    text = left.text_input("Dataset file or folder (your own copy)", key="eval_data_path",
                           placeholder="/data/fer2013/fer2013.csv or fer2013_trainval.npz")
    kind = right.selectbox("Format", ["auto", *DATASET_READERS], key="eval_data_kind")
    if not text.strip():
        st.info("Give the path of a dataset on this machine (FER2013, CK+, JAFFE, RAF-DB or a .npz archive).")
        return None
    try:
        path = resolve_user_path(text, folders=True)
        key = (str(path), path.stat().st_mtime, kind)
        cached = st.session_state.get(_DATA_KEY)
        if cached is None or cached[0] != key:
            with st.spinner(f"Reading {path.name}…"):
                cached = (key, load_dataset(kind, path))
            st.session_state[_DATA_KEY] = cached
    except (FervizError, ValueError, OSError) as exc:
        st.error(md_escape(exc))
        return None
    ds = cached[1]
    if ds.skipped:
        st.warning(f"{len(ds.skipped)} items were skipped while reading, e.g. {ds.skipped[0]}")
    return ds, path, kind


def split_picker(ds: FaceDataset) -> str:
    """A usage present in ``ds`` or ``'all'``; a held-out split is preselected when there is one."""
    values, counts = np.unique(ds.usage, return_counts=True)
    sizes = {str(v): int(c) for v, c in zip(values, counts, strict=True) if v}
    options = ["all", *sizes]
    index = next((options.index(s) for s in _SPLIT_PREFERENCE if s in sizes), 0)
    return st.selectbox("Split", options, index=index, key="eval_split",
                        format_func=lambda s: f"{s} ({len(ds) if s == 'all' else sizes[s]} items)")


def run_evaluation(loaded: LoadedModel, ds: FaceDataset, path: Path, kind: str,
                   split: str) -> Evaluation | None:
    """A Run button that evaluates ``loaded`` on one split of ``ds``.

    Returns
    -------
    Evaluation or None
        The evaluation kept in the session under (model sha256, dataset path, kind, split); None until
        the button has been pressed for these.
    """
    key = (loaded.sha256, str(path), kind, split)
    if st.button("Run evaluation", type="primary", key="eval_run"):
        bar = st.progress(0.0, text="Evaluating…")
        try:
            part = ds if split == "all" else ds.split(split)
            result = evaluate(loaded, part, split=split,
                              progress=lambda done, total: bar.progress(done / max(total, 1),
                                                                        f"{done} / {total} faces"))
        except (FervizError, ValueError) as exc:
            st.error(md_escape(exc))
            return None
        bar.empty()
        st.session_state[_EVAL_KEY] = {key: result}  # one at a time: faces of a large split are big
    result = st.session_state.get(_EVAL_KEY, {}).get(key)
    if result is None:
        st.info("Press **Run evaluation** to score the model on this split.")
    elif result.report.meta.get("n_left_out"):
        st.warning(f"{result.report.meta['n_left_out']} items of classes the model does not predict "
                   "were left out.")
    return result


def _face_grid(evaluation: Evaluation, indices: np.ndarray) -> None:
    names = evaluation.report.class_names
    probs = evaluation.probs
    captions = [f"{names[evaluation.y_true[i]]} → {names[int(probs[i].argmax())]} {probs[i].max():.0%}"
                for i in indices]
    st.image([evaluation.faces[i] for i in indices], caption=captions, width=80)


def show_cell_faces(evaluation: Evaluation, true_k: int, pred_k: int) -> None:
    """The faces behind one cell of the confusion matrix, most confident first (at most :data:`GRID`)."""
    indices = cell_indices(evaluation, true_k, pred_k, limit=GRID)
    if len(indices):
        _face_grid(evaluation, indices)


def show_mistakes(evaluation: Evaluation) -> None:
    """The most confident mistakes, and one of them sent to the explain pages on request."""
    st.subheader("Most confident mistakes")
    wrong = evaluation.mistakes()[:GRID]
    if not len(wrong):
        st.success("No misclassified item in this split.")
        return
    _face_grid(evaluation, wrong)
    names, probs, source = evaluation.report.class_names, evaluation.probs, evaluation.dataset.source

    def describe(i: int) -> str:
        return (f"{source[i]}: true {names[evaluation.y_true[i]]}, predicted {names[int(probs[i].argmax())]} "
                f"({probs[i].max():.0%})")

    chosen = st.selectbox("Look at one mistake", wrong.tolist(), format_func=describe, key="eval_mistake")
    st.image(evaluation.faces[chosen], width=160, caption=describe(chosen))
    if st.button("Open this face in the explain pages", key="eval_send"):
        choose_face(evaluation.faces[chosen], describe(chosen))
    if st.session_state.get(FACE_SOURCE_KEY):
        st.caption(f"Face ready for the explain pages: {st.session_state[FACE_SOURCE_KEY]}")
        for page, label in EXPLAIN_PAGES.items():
            page_link(page, label)


def download_predictions(evaluation: Evaluation) -> None:
    """A CSV of every item: source, true, predicted, confidence, correct and the class probabilities."""
    meta = evaluation.report.meta
    name = f"predictions_{meta.get('dataset', 'data')}_{meta.get('split') or 'all'}.csv"
    st.download_button("Download per-item predictions (CSV)",
                       predictions_frame(evaluation).to_csv(index=False),
                       file_name=name, mime="text/csv", key="eval_csv")


# ------------------------------------------------------------------------------------------------- HOG

def hog_controls() -> tuple[int, int, int]:
    """Sidebar sliders for the HOG parameters.

    Returns
    -------
    cell : int
        Cell size in pixels (default 8, the paper's).
    bins : int
        Orientation bins (default 9).
    block : int
        Block size in cells (default 2).
    """
    with st.sidebar:
        st.subheader("HOG parameters")
        cell = st.slider("Cell size (px)", 4, 16, 8, key="hog_cell")
        bins = st.slider("Orientation bins", 6, 18, 9, key="hog_bins")
        block = st.slider("Block size (cells)", 1, 4, 2, key="hog_block")
    return cell, bins, block


def cell_picker(n_rows: int, n_cols: int) -> tuple[int, int]:
    """Row and column of one cell, kept inside the grid when the cell size changes."""
    for key, n in (("hog_row", n_rows), ("hog_col", n_cols)):  # re-set: a slider whose range changed restarts
        st.session_state[key] = min(st.session_state.get(key, 0), n - 1)
    left, right = st.columns(2)
    row = left.slider("Cell row", 0, n_rows - 1, key="hog_row")
    col = right.slider("Cell column", 0, n_cols - 1, key="hog_col")
    return row, col
