"""Widgets and renderers of the analysis pages (HOG, Evaluate, Compare).

Widgets return plain values; renderers take core objects (:mod:`ferviz.results.reports`, :mod:`ferviz.results.metrics`,
:mod:`ferviz.results.evaluation`) and draw them with the figures of :mod:`ferviz.figures`. Errors the user can fix
(a bad path, a malformed dataset) are shown with ``st.error`` and the core's message, never raised.
"""

from __future__ import annotations

import hashlib
import os
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from ferviz.data.datasets import DATASET_READERS, FaceDataset, load_dataset
from ferviz.errors import FervizError
from ferviz.figures.compare import ablation_spread_figure, leakage_figure, lever_figure, paired_figure
from ferviz.figures.evaluate import (
    clicked_cell,
    confusion_figure,
    disagreement_figure,
    most_confused,
    per_class_figure,
    reliability_figure,
    similarity_figure,
)
from ferviz.model.checkpoint import LoadedModel
from ferviz.paths import MODELS_DIR, MODELS_DIR_ENV
from ferviz.pipeline.tta import TTA_MODES, TTA_TEXT
from ferviz.results.audits import compare_evaluations
from ferviz.results.evaluation import Evaluation, evaluate
from ferviz.results.leakage import Deduplicated, Duplicates, deduplicated, find_duplicates, model_caveats
from ferviz.results.metrics import MetricReport
from ferviz.results.records import (
    CVRecord,
    Discovery,
    LeakageRecord,
    ReportRecord,
    discover,
    leakage_for,
    record_caveats,
    record_for_model,
)
from ferviz.results.reports import cell_indices, paired_frame, predictions_frame, tta_table
from ferviz.results.significance import Interval, PairedComparison, disagreements
from ferviz.results.studies import ablation_frame, ablation_spread, lever_table, seed_comparison
from ferviz.serve.access import resolve_dataset_path, shared_mode
from ferviz.text import md_escape
from ferviz.ui.cache import load_model, shipped_models
from ferviz.ui.queue import heavy_work
from ferviz.ui.widgets import FACE_SOURCE_KEY, choose_face, dataset_picker, images_are, page_link

EXPLAIN_PAGES = {"pages/3_Attention.py": "Attention maps", "pages/4_Attributions.py": "Attributions"}
GRID = 24  # faces shown per gallery
_DATA_KEY, _EVAL_KEY = "ferviz_eval_dataset", "ferviz_evaluation"
_DUP_KEY, _PAIR_KEY, _COMPARISON_KEY = "ferviz_eval_duplicates", "ferviz_pair", "ferviz_pair_comparison"
_RECORD_MODEL_KEY = "ferviz_eval_record_model"  # the sidebar model the report picker last opened on
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
        st.warning(caveat, icon=":material/warning:")
    st.code(record.command, language="bash")
    leak = leakage_for(found, record)
    if leak is not None:
        show_committed_leakage(*leak)
    st.info("A committed report holds counts, not faces: to see the faces behind a cell, switch **Source** "
            "to *run an evaluation* and give the path of your own copy of the data.",
            icon=":material/photo_library:")
    show_report(record.report, key="record", context=str(record.path))


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
    cols[0].metric("accuracy, all items", _pct(plain))
    cols[1].metric(f"on the {n_exact} exact duplicates", _pct(on_copies),
                   help=f"items pixel-identical to a {reference} image: the model was trained on them")
    cols[2].metric("deduplicated (exact)", _pct(clean_exact), delta=_pp(clean_exact, plain),
                   delta_color="off", help=f"without the items pixel-identical to a {reference} image")
    cols[3].metric("deduplicated (exact + near)", _pct(clean_all), delta=_pp(clean_all, plain),
                   delta_color="off", help=f"also without the near copies (the same photo re-encoded or "
                                           f"shifted; similarity ≥ {threshold:.2f})")


def _pct(value: float | None) -> str:
    return "—" if value is None or np.isnan(value) else f"{100 * value:.2f} %"


def _pp(value: float | None, reference: float) -> str | None:
    return None if value is None or np.isnan(value) else f"{100 * (value - reference):+.2f} pp"


def show_report(report: MetricReport, key: str, evaluation: Evaluation | None = None,
                context: object = None) -> None:
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
    """
    cols = st.columns(4)
    for col, (name, value) in zip(cols, (("accuracy", report.accuracy), ("macro-F1", report.macro["f1"]),
                                         ("balanced accuracy", report.scores.get("balanced_accuracy")),
                                         ("ECE", report.scores.get("ece"))), strict=True):
        col.metric(name, "—" if value is None else f"{100 * value:.2f} %")
    st.caption(f"{report.n} items; macro averages over {len(report.class_names)} classes; values in %.")
    st.subheader("Confusion matrix")
    true_k, pred_k = confusion_section(report, key, context)
    count = int(report.matrix()[true_k, pred_k])
    names = report.class_names
    st.caption(f"{count} items of class *{names[true_k]}* predicted as *{names[pred_k]}*.")
    if evaluation is not None:
        show_cell_faces(evaluation, true_k, pred_k, key=f"{key}_cell")
    st.subheader("Per-class metrics")
    st.dataframe(report.per_class_frame(), column_config=_percent_columns())
    st.plotly_chart(per_class_figure(report.per_class_frame()), key=f"{key}_per_class")
    st.subheader("Calibration")
    if report.reliability is None:
        st.caption("This report holds no probabilities, so no reliability diagram.")
    else:
        st.plotly_chart(reliability_figure(report.reliability), key=f"{key}_reliability")


def confusion_section(report: MetricReport, key: str, context: object = None) -> tuple[int, int]:
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
    st.caption("Click a cell to see its faces, or choose it with the two lists above.")
    return int(true_k), int(pred_k)


def _apply_click(chart_key: str, true_key: str, pred_key: str, names: list[str]) -> None:
    """``on_select`` callback: the clicked cell becomes the dropdowns' choice."""
    event = st.session_state.get(chart_key) or {}
    cell = clicked_cell((event.get("selection") or {}).get("points"), names)
    if cell is not None:
        st.session_state[true_key], st.session_state[pred_key] = cell


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
    tta = st.selectbox("Test-time augmentation", TTA_MODES, key="eval_tta",
                       format_func=TTA_TEXT.get,
                       help="Average each face's probabilities over several views of it. A TTA score is a "
                            "different measurement from the model's own: it is labelled as such and never "
                            "replaces the plain number.")
    key = (loaded.sha256, str(path), kind, split, tta)
    if st.button("Run evaluation", type="primary", key="eval_run"):
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
        st.session_state[_EVAL_KEY] = {key: result}  # one at a time: faces of a large split are big
        st.session_state.pop(_PAIR_KEY, None)
        st.session_state.pop(_COMPARISON_KEY, None)
    result = st.session_state.get(_EVAL_KEY, {}).get(key)
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
        st.warning(caveat, icon=":material/warning:")


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


# ------------------------------------------------------------------------------------------ two models

def second_model_picker(loaded: LoadedModel) -> LoadedModel | None:
    """Model B: another shipped checkpoint, compared with the sidebar's model A; None when there is none."""
    others = {n: p for n, p in shipped_models().items() if Path(p).resolve() != Path(loaded.path).resolve()}
    if not others:
        st.info("Comparing needs a second checkpoint in models/; only the sidebar's model is there.")
        return None
    name = st.selectbox(f"Model B (model A is the sidebar's: {loaded.path.name})", list(others), key="pair_b")
    try:
        return load_model(others[name])
    except FervizError as exc:
        st.error(md_escape(exc))
        return None


def run_pair(model_a: LoadedModel, model_b: LoadedModel, ds: FaceDataset, path: Path, kind: str,
             split: str) -> tuple[Evaluation, Evaluation] | None:
    """A Run button that evaluates both models on one split; the pair is kept for the session.

    Returns
    -------
    tuple of (Evaluation, Evaluation) or None
        None until the button has been pressed for these two models, dataset and split, or when the two
        cannot be compared (shown as an error).
    """
    key = (model_a.sha256, model_b.sha256, str(path), kind, split)
    if st.button("Run both models", type="primary", key="pair_run"):
        part = ds if split == "all" else ds.split(split)
        pair = []
        for name, model in (("A", model_a), ("B", model_b)):
            try:
                with heavy_work(f"the evaluation of model {name}"):
                    bar = st.progress(0.0, text=f"Evaluating model {name}…")
                    pair.append(evaluate(model, part, split=split,
                                         progress=lambda done, total, b=bar, n=name: b.progress(
                                             done / max(total, 1), f"model {n}: {done} / {total} faces")))
            except (FervizError, ValueError) as exc:
                st.error(md_escape(exc))
                return None
            bar.empty()
        st.session_state[_PAIR_KEY] = {key: tuple(pair)}
        st.session_state.pop(_EVAL_KEY, None)  # one large evaluation at a time
    pair = st.session_state.get(_PAIR_KEY, {}).get(key)
    if pair is None:
        st.info("Press **Run both models** to score A and B on the same items.")
    return pair


def show_pair(evaluations: tuple[Evaluation, Evaluation], dups: Duplicates | None = None) -> None:
    """Both accuracies, the paired test, the disagreement table and the faces where the two disagree."""
    ev_a, ev_b = evaluations
    cached = st.session_state.get(_COMPARISON_KEY)
    if cached is None or any(x is not y for x, y in zip(cached[0], (ev_a, ev_b, dups), strict=True)):
        try:
            comp = compare_evaluations(ev_a, ev_b)
            clean = compare_evaluations(ev_a, ev_b, clean=~dups.leaked) if dups is not None and (
                ~dups.leaked).any() else None
        except FervizError as exc:
            st.error(md_escape(exc))
            return
        cached = ((ev_a, ev_b, dups), comp, clean)  # holds what it was computed from: no stale match
        st.session_state[_COMPARISON_KEY] = cached
    comp, clean = cached[1], cached[2]
    show_comparison(comp)
    if clean is not None:
        st.caption(f"Without the {int(dups.leaked.sum())} items that have a training copy "
                   f"({clean.n} items): {md_escape(clean.verdict())}")
    st.plotly_chart(disagreement_figure(comp.matrix, "A", "B"), key="pair_matrix")
    a_only, b_only = disagreements(ev_a.y_true, ev_a.probs, ev_b.probs)
    sides = {f"A right, B wrong ({len(a_only)})": a_only, f"B right, A wrong ({len(b_only)})": b_only}
    side = st.radio("Faces where they disagree (the wrong model's most confident answers first)", list(sides),
                    horizontal=True, key="pair_side")
    indices = sides[side][:GRID]
    if not len(indices):
        st.caption("No such item.")
        return
    names = ev_a.report.class_names

    def said(ev: Evaluation, i: int) -> str:
        return f"{names[int(ev.probs[i].argmax())]} {ev.probs[i].max():.0%}"

    captions = [f"{names[ev_a.y_true[i]]} · A: {said(ev_a, i)} · B: {said(ev_b, i)}" for i in indices]
    sources = [f"{ev_a.dataset.source[i]}: true {names[ev_a.y_true[i]]}, A ({ev_a.report.meta.get('model')}) "
               f"{said(ev_a, i)}, B ({ev_b.report.meta.get('model')}) {said(ev_b, i)}" for i in indices]
    explain_grid(ev_a.faces, indices, captions, sources, key="pair")


def show_comparison(comp: PairedComparison) -> None:
    """Both models' accuracies with intervals, their difference and McNemar's p, and the verdict."""
    cols = st.columns(4)
    cols[0].metric(f"A: {comp.name_a}", _pct(comp.accuracy_a.estimate))
    cols[1].metric(f"B: {comp.name_b}", _pct(comp.accuracy_b.estimate))
    cols[2].metric("difference A − B", f"{100 * comp.difference.estimate:+.2f} pp")
    cols[3].metric("McNemar exact p", f"{comp.test.p_exact:.3g}",
                   help=f"{comp.test.a_only} items only A gets right, {comp.test.b_only} only B; "
                        f"continuity-corrected χ² {comp.test.chi2:.2f}, p = {comp.test.p_chi2:.3g}")
    (st.success if comp.test.significant() else st.info)(md_escape(comp.verdict()))
    st.caption(f"95 % bootstrap intervals: A {comp.accuracy_a.text()}, B {comp.accuracy_b.text()}, "
               f"difference {comp.difference.text(signed=True)} (items resampled once for both models: "
               f"paired); macro-F1 A {comp.macro_f1_a.text()}, B {comp.macro_f1_b.text()}. One seed per "
               "model: training noise is not in these intervals.")


def _face_grid(evaluation: Evaluation, indices: np.ndarray) -> None:
    names = evaluation.report.class_names
    probs = evaluation.probs
    captions = [f"{names[evaluation.y_true[i]]} → {names[int(probs[i].argmax())]} {probs[i].max():.0%}"
                for i in indices]
    st.image([evaluation.faces[i] for i in indices], caption=captions, width=80)


def explain_grid(faces: np.ndarray, indices: np.ndarray, captions: list[str], sources: list[str],
                 key: str, per_row: int = 6) -> None:
    """Faces in rows, each with an **Explain this face** button that sends it to the explain pages.

    Parameters
    ----------
    faces : (N, S, S) uint8 ndarray
        The crops the model saw.
    indices : (M,) array of int
        Which faces to show, in order.
    captions, sources : list of M str
        Shown under each face, and how the explain pages will name it.
    key : str
        Prefix of the buttons' keys.
    """
    for start in range(0, len(indices), per_row):
        cols = st.columns(per_row)
        for col, pos in zip(cols, range(start, min(start + per_row, len(indices))), strict=False):
            i = int(indices[pos])
            col.image(faces[i], caption=captions[pos], width=80)
            if col.button("Explain this face", key=f"{key}_explain_{i}"):
                choose_face(faces[i], sources[pos])
    explain_links()


def explain_links() -> None:
    """Which face the explain pages will open on, and links to them (once a face was chosen)."""
    if st.session_state.get(FACE_SOURCE_KEY):
        st.caption(f"Face ready for the explain pages: {md_escape(st.session_state[FACE_SOURCE_KEY])}")
        for page, label in EXPLAIN_PAGES.items():
            page_link(page, label)


def _describe(evaluation: Evaluation, i: int) -> str:
    names, probs = evaluation.report.class_names, evaluation.probs
    return (f"{evaluation.dataset.source[i]}: true {names[evaluation.y_true[i]]}, predicted "
            f"{names[int(probs[i].argmax())]} ({probs[i].max():.0%})")


def show_cell_faces(evaluation: Evaluation, true_k: int, pred_k: int, key: str = "cell") -> None:
    """The faces behind one cell of the confusion matrix, most confident first (at most :data:`GRID`)."""
    indices = cell_indices(evaluation, true_k, pred_k)
    if not len(indices):
        return
    shown = indices[:GRID]
    more = f" (the {GRID} most confident of {len(indices)})" if len(indices) > GRID else ""
    st.markdown(f"**The faces of this cell{more}**, most confident first:")
    probs = evaluation.probs
    explain_grid(evaluation.faces, shown, [f"{probs[i].max():.0%}" for i in shown],
                 [_describe(evaluation, int(i)) for i in shown], key=key)


def show_mistakes(evaluation: Evaluation) -> None:
    """The most confident mistakes, and one of them sent to the explain pages on request."""
    st.subheader("Most confident mistakes")
    wrong = evaluation.mistakes()[:GRID]
    if not len(wrong):
        st.success("No misclassified item in this split.")
        return
    _face_grid(evaluation, wrong)
    chosen = st.selectbox("Look at one mistake", wrong.tolist(), format_func=partial(_describe, evaluation),
                          key="eval_mistake")
    st.image(evaluation.faces[chosen], width=160, caption=_describe(evaluation, chosen))
    if st.button("Open this face in the explain pages", key="eval_send"):
        choose_face(evaluation.faces[chosen], _describe(evaluation, chosen))
    explain_links()


def download_predictions(evaluation: Evaluation) -> None:
    """A CSV of every item: source, true, predicted, confidence, correct and the class probabilities."""
    meta = evaluation.report.meta
    name = f"predictions_{meta.get('dataset', 'data')}_{meta.get('split') or 'all'}.csv"
    st.download_button("Download per-item predictions (CSV)",
                       predictions_frame(evaluation).to_csv(index=False),
                       file_name=name, mime="text/csv", key="eval_csv")


# ------------------------------------------------------------------------------------------- Compare

def _audit_command(found: Discovery) -> str:
    models = " ".join(f"models/{p.name}" for p in sorted(found.models_dir.glob("*.pt"))) or "models/<name>.pt"
    return (f"python -m ferviz.results.audits --data <PATH> --split PublicTest --models {models} "
            f"--out {found.models_dir.name}/reports")


def show_leakage_reports(found: Discovery) -> None:
    """Every committed leakage report: counts, plain vs deduplicated accuracy per model, the similarity
    histogram behind the near-duplicate threshold, and the duplicated items' file names."""
    if not found.leakage:
        st.info("No leakage report yet: the test items that are also training items are not counted. Make "
                f"one with your own copy of the data:\n\n```bash\n{_audit_command(found)}\n```")
        return
    for leak in found.leakage:
        counts = leak.counts
        st.markdown(f"**{leak.dataset} {leak.split}** against **{leak.reference_split}** "
                    f"(`{leak.path.name}`): {counts['exact']} of {counts['n']} items have a pixel-identical "
                    f"copy in {leak.reference_split} ({counts['label_conflicts']} of them with a different "
                    f"label there) and {counts['near']} more a near copy (the same photo re-encoded or "
                    f"shifted by a pixel or two; similarity ≥ {leak.threshold:.2f}). Every {leak.split} "
                    f"number of a model trained on {leak.reference_split} includes them; the deduplicated "
                    "columns leave them out.")
        frame = leak.frame()
        if not frame.empty:
            st.plotly_chart(leakage_figure(frame), key=f"leakage_bars_{leak.path.stem}")
            st.dataframe(frame, hide_index=True, column_config=two_decimals(frame))
        hist = leak.data.get("similarity_histogram")
        if hist:
            st.plotly_chart(similarity_figure(hist, leak.threshold), key=f"leakage_hist_{leak.path.stem}")
            st.caption("Bimodal: most test images are far from every training image, a second mode is the "
                       "same photo again. The threshold sits above the trough; pairs were inspected by eye "
                       "(ferviz/results/leakage.py says how).")
        with st.expander("Which items (file names; the images are not part of this repository)"):
            items = leak.data.get("items", {})
            rows = [(kind, *pair[:2], pair[2] if len(pair) > 2 else 1.0)
                    for kind in ("exact", "near") for pair in items.get(kind, [])]
            pairs = pd.DataFrame(rows, columns=["kind", leak.split, leak.reference_split, "similarity"])
            st.dataframe(pairs, hide_index=True, column_config=two_decimals(pairs, similarity="%.3f"))
        st.caption(f"Remake: `{leak.data.get('command') or _audit_command(found)}`")


def two_decimals(frame: pd.DataFrame, **formats: str) -> dict:
    """``column_config`` showing every float column of ``frame`` with 2 decimals (``formats`` override)."""
    config = {c: st.column_config.NumberColumn(format="%.2f") for c in frame.columns
              if pd.api.types.is_float_dtype(frame[c])}
    config.update({c: st.column_config.NumberColumn(format=f) for c, f in formats.items()})
    return config


def show_paired_reports(found: Discovery) -> None:
    """Every committed paired comparison: the difference with its interval, McNemar's p, the verdict."""
    paired = paired_frame(found=found)
    if paired.empty:
        st.info("No paired comparison yet. Make them (the first model against each other one) with:"
                f"\n\n```bash\n{_audit_command(found)}\n```\n\nor compare any two models on your own copy "
                "of the data on the Evaluate page (*compare two models*).")
        return
    st.plotly_chart(paired_figure(paired), key="paired_forest")
    table = paired.drop(columns=["difference_low", "difference_high"])
    st.dataframe(table, hide_index=True, column_config={
        **two_decimals(table), "mcnemar_p": st.column_config.NumberColumn("McNemar p", format="%.3g")})
    for rec in found.paired:
        st.markdown(f"- {md_escape(rec.all.verdict())}")
    st.caption("Each model is one training run (one seed): these tests say whether the *test set* can tell "
               "the two runs apart, not whether another seed would rank them the same. Several comparisons "
               "at α = 0.05 will turn up a 'significant' one by chance now and then.")


def show_ablations(found: Discovery) -> None:
    """The ablation runs grouped by variant: mean, spread over seeds where there are several, one seed
    said plainly where there is one."""
    ablations = ablation_frame(found=found)
    if ablations.empty:
        st.info("No ablation reports in models/reports yet. Make one with `ferviz train --model "
                "<ablation> --epochs 4 --warmup-epochs 1 --recipe strong --out runs/ablation_<ablation> ...` "
                "then `ferviz evaluate --model runs/ablation_<ablation>/best.pt --split PublicTest "
                "--kind ablation --json models/reports/fer2013_ablation_<ablation>.json` (see "
                "scripts/reproduce.sh); run several seeds (`--seed`, one report each) to measure the spread.")
        return
    spread = ablation_spread(ablations)
    st.markdown("Every ablation and the full model were trained from scratch with the same short budget "
                "(one chart per budget), so only their differences mean something: these are not the shipped "
                "model's numbers. Where a variant shares several training seeds with the full model, the "
                "table gives a paired t-test over those seeds (`paired_p`).")
    metric = st.radio("Ablation metric", ["accuracy", "macro_f1"], horizontal=True, key="ablation_metric")
    budgets = spread.groupby("budget", sort=False)["runs"].max().sort_values(ascending=False).index
    for k, budget in enumerate(budgets):
        rows = spread[spread["budget"] == budget]
        st.subheader(f"Budget: {budget}")
        several = rows[rows["runs"] > 1]
        if several.empty:
            st.markdown("**One seed each**: no spread over seeds was measured, so a difference of a point or "
                        "so may be seed noise and carries no test.")
        else:
            st.markdown(f"{len(several)} of {len(rows)} variants have several runs (mean ± std over seeds); "
                        "the others are **one seed**, with no spread.")
        pairs = seed_comparison(ablations, "cnn_bilstm", budget)
        if pairs is not None:
            st.info(f"**Does the dual attention help?** Accuracy of `cnn_bilstm` (the same network without "
                    f"attention) minus the full model's: {pairs.text(a_name='cnn_bilstm')}.",
                    icon=":material/science:")
        st.plotly_chart(ablation_spread_figure(rows, metric), key=f"ablation_bars_{k}")
        table = rows.drop(columns=["budget"])
        st.dataframe(table, hide_index=True, column_config=two_decimals(table, paired_p="%.3f"))


def show_levers(found: Discovery) -> None:
    """The training levers, one change each, against the full model's seed runs at the same budget."""
    table = lever_table(found)
    if table.empty:
        st.info("No lever reports in models/reports/levers yet. `DATA=<folder holding fer2013/> bash "
                "scripts/levers.sh` trains the full model once per lever and seed at the seed-spread budget "
                "(after `scripts/seeds.sh`, whose full-model runs are the baseline).")
        return
    st.markdown("Each lever is **one change** to the full model's recipe (`strong`), trained at the same "
                "small budget and with the same seeds as the baseline, so the difference is the lever's "
                "alone; the verdict pairs the runs seed by seed. These are not the shipped model's numbers. "
                "At this small budget the model still underfits (its training accuracy, under augmentation, "
                "ends within a few points of its test accuracy), so levers that regularise (erasing, mixup, "
                "more smoothing, a slow EMA) start at a disadvantage they may not have on the full data.")
    metric = st.radio("Lever metric", ["accuracy", "macro_f1"], horizontal=True, key="lever_metric")
    st.plotly_chart(lever_figure(table, metric), key="lever_bars")
    st.dataframe(table, hide_index=True, column_config=two_decimals(table, paired_p="%.3f"))


def show_tta(found: Discovery) -> None:
    """The test-time-augmented reports, each beside the plain number of the same model on the same items."""
    table = tta_table(found)
    if table.empty:
        st.info("No test-time-augmented report in models/reports/tta yet. `ferviz evaluate --tta flip` (or "
                "`ten_crop`) `--json models/reports/tta/<name>.json` writes one.")
        return
    st.markdown("Test-time augmentation averages each face's probabilities over several views of it (flip: "
                "the face and its mirror image; ten crops: five squares of 90 % of the face and their "
                "mirrors). It is a different measurement from the model's own, so it is shown **only here**, "
                "beside the plain number of the same checkpoint on the same items, never in the table and "
                "chart above.")
    st.dataframe(table, hide_index=True, column_config=two_decimals(table))


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
