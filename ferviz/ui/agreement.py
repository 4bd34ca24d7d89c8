"""Evaluate's human-agreement views: scores split by how many FER+ annotators agree, scores against the FER+
majority, and the faces whose label is probably wrong (the label-noise finder), for a fresh evaluation and for
the committed reports of ``ferviz audit --label-noise``."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from ferviz.data.ferplus import FerPlusVotes, votes_beside
from ferviz.errors import FervizError
from ferviz.figures.evaluate import confusion_figure
from ferviz.figures.fit import column_px, fit_titles
from ferviz.figures.votes import agreement_band_figure
from ferviz.results.agreement import agreement_metrics, default_votes_path, disputed_errors, votes_for_sources
from ferviz.results.evaluation import Evaluation
from ferviz.results.labelnoise import find_label_issues
from ferviz.results.noise_report import LABEL_NOISE_DIR, NoiseRecord, read_label_noise
from ferviz.results.records import Discovery, ReportRecord, dataset_name
from ferviz.results.significance import Interval
from ferviz.text import md_escape
from ferviz.ui.faces import GRID, FaceNotes, gallery
from ferviz.ui.reportviews import pct, show_table

_VOTES_KEY, _AGREE_KEY, _ISSUES_KEY = "ferviz_eval_votes", "ferviz_eval_agreement", "ferviz_eval_issues"
NOISE_COMMAND = ("ferviz audit --label-noise --dataset npz --data <PATH>/fer2013_trainval.npz --split PublicTest "
                 "--out models/reports/label_noise --models models/fer2013_dcnn_bilstm_dam.pt "
                 "models/fer2013_cnn_bilstm.pt models/fer2013_cnn_lstm.pt models/fer2013_ngo_bilstm.pt "
                 "--also-score {model}")


def _items_key(evaluation: Evaluation) -> str:
    return hashlib.blake2b("\n".join(map(str, evaluation.dataset.source)).encode(), digest_size=16).hexdigest()


def evaluation_votes(evaluation: Evaluation, data_path: Path) -> FerPlusVotes | None:
    """FER+ votes of the evaluated FER2013 faces (``ferplus_votes.npz`` beside the data, or
    ``$FERVIZ_FERPLUS_VOTES``), kept for the session; None for other datasets or without the file."""
    if evaluation.dataset.name != "fer2013":
        return None
    path = votes_beside(data_path)
    path = path if path.is_file() else default_votes_path()
    if path is None:
        st.caption("No FER+ votes beside this FER2013 copy (ferplus_votes.npz): the human-agreement views are "
                   "off.")
        return None
    key = (str(path), _items_key(evaluation))
    cached = st.session_state.get(_VOTES_KEY)
    if cached is None or cached[0] != key:
        try:
            cached = (key, votes_for_sources(evaluation.dataset.source, path))
        except FervizError as exc:
            st.warning(md_escape(exc))
            return None
        st.session_state[_VOTES_KEY] = cached
    votes = cached[1]
    return votes if votes.matched.any() else None


def _interval_text(value: dict | None, bounds_only: bool = False) -> str:
    if not value:
        return "—"
    found = Interval.from_dict(value)
    return found.bounds_text() if bounds_only else found.text()


def show_agreement_scores(scores: dict, class_names: list[str], key: str) -> None:
    """Scores by human agreement (an :func:`ferviz.results.agreement.agreement_metrics` dict)."""
    st.subheader("Where people agree, and against the crowd's labels")
    errors = scores["errors"]
    disputed = disputed_errors(errors)
    agreed, majority = scores["agreed"], scores["ferplus_majority"]
    cols = st.columns(4)
    cols[0].metric("accuracy, FER2013 labels", pct(scores["all"]["accuracy"]["estimate"]))
    cols[1].metric("labels people confirm",
                   pct(agreed["accuracy"]["estimate"] if agreed["accuracy"] else None),
                   help=f"{agreed['n']} {agreed['definition']}")
    cols[2].metric("against the FER+ majority",
                   pct(majority["accuracy"]["estimate"] if majority["accuracy"] else None),
                   help=f"{majority['n']} faces: {majority['definition']}")
    cols[3].metric("errors where people disagree", f"{disputed} of {errors['total']}",
                   help="errors on faces where 7 or fewer of 10 annotators chose the same class, or with no "
                        "FER+ majority at all")
    st.caption(f"95 % bootstrap intervals (test-set sampling only): FER2013 labels "
               f"{_interval_text(scores['all']['accuracy'])}; the {agreed['n']} faces whose FER2013 label is "
               f"also the FER+ majority's {_interval_text(agreed['accuracy'])}; the {majority['n']} faces with a "
               f"FER+ majority, scored against it, {_interval_text(majority['accuracy'])}. "
               f"{disputed} of the model's {errors['total']} errors are on faces where 7 or fewer of 10 "
               "annotators agree (or with no majority). "
               f"On {majority['n'] - majority['label_agrees']} of the {majority['n']} faces with a FER+ "
               f"majority, that majority differs from the FER2013 label.")
    rows = [(b["band"], b["n"], 100 * b["accuracy"]["estimate"] if b["accuracy"] else np.nan,
             _interval_text(b["accuracy"], bounds_only=True), b["errors"]) for b in scores["bands"]]
    no_majority = scores["all"]["n"] - sum(b["n"] for b in scores["bands"])  # faces in no band
    rows.append(("no FER+ majority", no_majority, np.nan, "—", errors.get("no FER+ majority", 0)))
    table = pd.DataFrame(rows, columns=["annotators who agree", "faces", "accuracy (%)", "95 % interval",
                                        "errors"])
    left, right = st.columns([3, 2])  # the table's five columns whole at 1280 px
    with left:  # counts as integers, the no-majority row's empty cells as "—"
        show_table(table, digits=1)
    right.plotly_chart(fit_titles(agreement_band_figure(scores["bands"]), 2 * column_px(5)), key=f"{key}_bands")
    views = {b["band"]: b["matrix"] for b in scores["bands"] if b["n"]}
    views["all faces, against the FER+ majority"] = majority["matrix"]
    view = st.radio("Confusion matrix of", list(views), horizontal=True, key=f"{key}_band_cm")
    st.plotly_chart(confusion_figure(np.array(views[view]), class_names), key=f"{key}_band_matrix")
    if view.startswith("all faces"):
        st.caption("Rows: the FER+ majority label (not FER2013's); columns: the model's prediction.")


def show_agreement_run(evaluation: Evaluation, votes: FerPlusVotes) -> None:
    """:func:`show_agreement_scores` of a fresh evaluation (computed once per evaluation)."""
    key = _items_key(evaluation) + str(evaluation.report.meta.get("sha256"))
    cached = st.session_state.get(_AGREE_KEY)
    if cached is None or cached[0] != key:
        scores = agreement_metrics(evaluation.y_true, evaluation.y_pred, votes,
                                   list(evaluation.report.class_names), n_boot=1000)
        cached = (key, scores)
        st.session_state[_AGREE_KEY] = cached
    show_agreement_scores(cached[1], list(evaluation.report.class_names), key="run_agree")


def show_mislabelled_run(evaluation: Evaluation, notes: FaceNotes) -> None:
    """The faces whose label is probably wrong by this model's probabilities, with the suggested label."""
    st.subheader("Likely mislabelled")
    key = _items_key(evaluation) + str(evaluation.report.meta.get("sha256"))
    cached = st.session_state.get(_ISSUES_KEY)
    if cached is None or cached[0] != key:
        try:
            cached = (key, find_label_issues(evaluation.y_true, evaluation.probs))
        except FervizError as exc:
            st.info(md_escape(exc))
            return
        st.session_state[_ISSUES_KEY] = cached
    issues = cached[1]
    names = evaluation.report.class_names
    st.caption(f"Confident learning ({issues.method.get('library', '')}, rule *{issues.method['filter_by']}*) "
               f"flags {len(issues)} of {issues.n} labels as probably wrong, from this model's probabilities "
               "(it never trained on this split, unless the split is its own training data). Highest score "
               "(1 − the probability of the given label) first. `ferviz audit --label-noise` does the same "
               "with several models' mean probabilities.")
    if not len(issues):
        return
    extras = [f" · suggested {names[s]} (score {sc:.2f})" for s, sc in zip(issues.suggested[:GRID],
                                                                          issues.score[:GRID], strict=True)]
    gallery(evaluation, issues.index[:GRID], notes, key="noise", extras=extras)


# ------------------------------------------------------------------------------------- committed reports

def noise_record_for(found: Discovery, record: ReportRecord) -> tuple[NoiseRecord | None, list[str]]:
    """The committed label-noise report of this record's dataset and split, and files that were skipped."""
    records, warnings = read_label_noise(found.models_dir / "reports")
    match = next((r for r in records if dataset_name(r.dataset) == record.dataset and r.split == record.split),
                 None)
    return match, warnings


def show_committed_agreement(found: Discovery, record: ReportRecord) -> None:
    """A committed record's scores by human agreement (from the label-noise report), or how to make them."""
    noise, warnings = noise_record_for(found, record)
    for message in warnings:
        st.warning(message)
    entry = None if noise is None else noise.entry(record.sha256)
    if entry is not None and entry.get("agreement"):
        show_agreement_scores(entry["agreement"], list(noise.data["class_names"]), key="record_agree")
    elif noise is not None and (earlier := noise.earlier_entry(record.model, record.sha256)) is not None:
        st.info(f"The committed label-noise report scored an earlier `{Path(record.model).name}` (sha256 "
                f"`{str(earlier.get('sha256', ''))[:12]}`); this one (`{record.sha256[:12]}`) was shipped after it. "
                "Make the report again with its command, with your own copy of FER2013 and its FER+ votes beside "
                f"it, then reload:\n\n```bash\n{noise.data.get('command', '')}\n```")
    elif record.dataset == "FER2013" and record.split == "PublicTest":
        st.info("No committed label-noise report scores this checkpoint yet: make it with your own copy of "
                f"FER2013 and its FER+ votes beside it, then reload:\n\n```bash\n"
                f"{NOISE_COMMAND.format(model='models/' + Path(record.model).name)}\n```")


def show_committed_mislabelled_for(found: Discovery, record: ReportRecord) -> None:
    """The likely mislabelled faces of the record's dataset and split, when a label-noise report has them."""
    noise, _ = noise_record_for(found, record)
    if noise is not None:
        show_committed_mislabelled(noise, found)


def _copies(found: Discovery, noise: NoiseRecord) -> set[str]:
    for leak in found.leakage:
        if dataset_name(noise.dataset) == leak.dataset and leak.split == noise.split:
            items = leak.data.get("items", {})
            return {pair[0] for kind in ("exact", "near") for pair in items.get(kind, [])}
    return set()


def show_committed_mislabelled(noise: NoiseRecord, found: Discovery) -> None:
    """The committed report's flagged faces as a table: file, label, suggestion, score, votes, copy mark."""
    st.subheader("Likely mislabelled")
    data = noise.data
    source = data.get("probabilities", {})
    models = ", ".join(source.get("models", [])) or f"{source.get('folds', '?')}-fold out-of-fold models"
    st.caption(f"Confident learning (*{data['method'].get('filter_by')}*, {data['method'].get('library', '')}) "
               f"on the mean probabilities of {md_escape(models)}: {data['n_flagged']} of {data['n']} "
               f"{data['split']} labels flagged, highest score (1 − p(given label)) first. From "
               f"`{LABEL_NOISE_DIR}/{noise.path.name}`; remake: `{data.get('command', '')}`.")
    check = data.get("validation", {})
    vs = check.get("precision_vs_ferplus", {})
    if vs.get("precision") is not None:
        flip = check.get("flip", {})
        flip_text = (f" On {100 * flip['fraction']:.0f} % of the {flip['n_candidates']} faces people agree on, "
                     f"flipped on purpose to a random other class, it finds {100 * flip['recall_mean']:.0f} % of the "
                     f"flips with {100 * flip['precision_mean']:.0f} % of its flags being flips (mean of "
                     f"{len(flip['runs'])} seeds).") if flip else ""
        st.info(f"Checked against people: the FER+ majority differs from the FER2013 label on "
                f"**{100 * vs['precision']:.0f} %** of the flagged faces that have one ({vs['majority_differs']} of "
                f"{vs['flagged_with_majority']}), against {100 * vs['base_rate']:.0f} % of all faces.{flip_text}")
    frame = noise.items_frame()
    if frame.empty:
        return
    frame.insert(0, "file", frame["source"].map(lambda s: Path(str(s)).name))
    copies = _copies(found, noise)
    frame["training copy"] = frame["source"].isin(copies)
    columns = ["file", "given", "suggested", "score"]
    config = {"score": st.column_config.ProgressColumn("score", min_value=0.0, max_value=1.0, format="%.2f")}
    if "votes" in frame:
        frame["FER+ majority"] = frame["ferplus_majority"].fillna("—")
        columns += ["FER+ majority", "agreement", "votes"]
        cols = data.get("votes_columns", [])
        config["votes"] = st.column_config.BarChartColumn(
            "FER+ votes", y_min=0, y_max=10, help="votes per class, in the order " + ", ".join(cols))
        config["agreement"] = st.column_config.NumberColumn("agree (of 10)", format="%d")
    columns += ["training copy", "source"]
    agree_filter = st.slider("Show faces where at least this many of 10 annotators agree", 0, 10, 0,
                             key="noise_min_agreement") if "agreement" in frame else 0
    shown = frame[frame["agreement"] >= agree_filter] if agree_filter else frame
    st.dataframe(shown[columns], hide_index=True, column_config=config, height=420)
    st.caption(f"{len(shown)} faces. A committed report holds file names and votes, not faces: to see and "
               f"explain the faces, choose **Source → run an evaluation** with your own copy of the data; its "
               f"*Likely mislabelled* gallery opens each face in the explain pages. The first {GRID} here: "
               f"{', '.join(shown['file'].head(GRID))}.")
