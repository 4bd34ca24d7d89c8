"""Face galleries of the Evaluate page: each face with its file name, its label, what people and the model
said (FER+ votes and probabilities as two colour strips, for FER2013), a mark when it is a copy of a training
image, and an **Explain** button that opens the explain pages on it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

import numpy as np
import streamlit as st

from ferviz.data.ferplus import AGREEMENT_BANDS, FerPlusVotes
from ferviz.figures.votes import legend_markdown, votes_caption, votes_strip
from ferviz.results.agreement import GALLERY_ORDERS, NO_MAJORITY, model_order, order_items
from ferviz.results.evaluation import Evaluation
from ferviz.results.reports import cell_indices, predictions_frame
from ferviz.text import md_escape
from ferviz.ui.widgets import FACE_SOURCE_KEY, choose_face, open_page, page_link

EXPLAIN_PAGES = {"pages/3_Attention.py": "Attention maps", "pages/4_Attributions.py": "Attributions"}
GRID = 24  # faces shown per gallery
COPY_MARK = "⚠ training copy"


@dataclass(frozen=True)
class FaceNotes:
    """What a gallery knows about the evaluated items beside the predictions (each optional, row-aligned)."""

    votes: FerPlusVotes | None = None
    leaked: np.ndarray | None = None  # (N,) bool: a copy (exact or near) of a training image

    def majority_counts(self, class_names) -> tuple[np.ndarray, np.ndarray] | None:
        return None if self.votes is None else model_order(self.votes, class_names)


def file_name(source: str) -> str:
    """The last part of a source name (``test/fear/PublicTest_1.jpg`` -> ``PublicTest_1.jpg``)."""
    return PurePath(str(source)).name or str(source)


def face_caption(evaluation: Evaluation, i: int, notes: FaceNotes, extra: str = "") -> str:
    """``PublicTest_1.jpg · label fear · people: neutral 10/10 · model: neutral 71 %`` (+ copy mark)."""
    names = list(evaluation.report.class_names)
    given, probs = names[int(evaluation.y_true[i])], evaluation.probs[i]
    looked = notes.majority_counts(names)
    if looked is None:
        k = int(probs.argmax())
        text = f"label {given} · model: {names[k]} {100 * probs[k]:.0f} %"
    else:
        text = votes_caption(given, looked[1][i], names, int(looked[0][i]), probs)
    copy = f" · {COPY_MARK}" if notes.leaked is not None and notes.leaked[i] else ""
    return f"{file_name(evaluation.dataset.source[i])} · {text}{extra}{copy}"


def face_strip(evaluation: Evaluation, i: int, notes: FaceNotes) -> np.ndarray | None:
    """The two colour strips (people, model) of item ``i``, or None without votes."""
    looked = notes.majority_counts(evaluation.report.class_names)
    if looked is None:
        return None
    return votes_strip(looked[1][i], evaluation.report.class_names, int(notes.votes.other[i]),
                       evaluation.probs[i], width=96)


def explain_grid(faces: np.ndarray, indices: np.ndarray, captions: list[str], sources: list[str],
                 key: str, per_row: int = 6, strips: list[np.ndarray | None] | None = None) -> None:
    """Faces in rows, each with an **Explain** button that opens the explain pages on it.

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
    strips : list of M (h, w, 3) uint8 arrays or None, optional
        Drawn under each face (:func:`face_strip`).
    """
    for start in range(0, len(indices), per_row):
        cols = st.columns(per_row)
        for col, pos in zip(cols, range(start, min(start + per_row, len(indices))), strict=False):
            i = int(indices[pos])
            col.image(faces[i], width=96)
            if strips is not None and strips[pos] is not None:
                col.image(strips[pos], width=96)
            col.caption(md_escape(captions[pos]))
            if col.button("Explain", key=f"{key}_explain_{i}", type="tertiary",  # short: six to a row at 1024 px
                          help="open this face on the Attention page (and every explain page)"):
                choose_face(faces[i], sources[pos])
                open_page(next(iter(EXPLAIN_PAGES)), next(iter(EXPLAIN_PAGES.values())))
    explain_links()


def explain_links() -> None:
    """Which face the explain pages will open on, and links to them (once a face was chosen)."""
    if st.session_state.get(FACE_SOURCE_KEY):
        st.caption(f"Face ready for the explain pages: {md_escape(st.session_state[FACE_SOURCE_KEY])}")
        for page, label in EXPLAIN_PAGES.items():
            page_link(page, label)


def strip_legend(evaluation: Evaluation, notes: FaceNotes) -> None:
    """What the two strips under each face mean (only when there are votes)."""
    if notes.votes is not None:
        st.caption("Under each face: **top strip** the 10 FER+ annotators' votes (one cell each), **bottom "
                   "strip** the model's probabilities. " + legend_markdown(evaluation.report.class_names))


def describe(evaluation: Evaluation, i: int) -> str:
    """How the explain pages name an evaluated face."""
    names, probs = evaluation.report.class_names, evaluation.probs
    return (f"{evaluation.dataset.source[i]}: true {names[evaluation.y_true[i]]}, predicted "
            f"{names[int(probs[i].argmax())]} ({probs[i].max():.0%})")


def gallery(evaluation: Evaluation, indices: np.ndarray, notes: FaceNotes, key: str,
            extras: list[str] | None = None) -> None:
    """:func:`explain_grid` of the items ``indices`` (already ordered), with captions and strips."""
    captions = [face_caption(evaluation, int(i), notes, extras[p] if extras else "") for p, i in enumerate(indices)]
    strips = [face_strip(evaluation, int(i), notes) for i in indices]
    strip_legend(evaluation, notes)
    explain_grid(evaluation.faces, indices, captions, [describe(evaluation, int(i)) for i in indices], key=key,
                 strips=strips)


def agreement_controls(notes: FaceNotes, key: str) -> tuple[str | None, str]:
    """Band filter and order of a gallery (confidence order only, without votes)."""
    if notes.votes is None:
        return None, "confidence"
    left, right = st.columns(2)
    bands = ["all faces", *(name for name, _, _ in AGREEMENT_BANDS), NO_MAJORITY]
    band = left.selectbox("Human agreement", bands, key=f"{key}_band",
                          help="How many of FER+'s 10 annotators chose the face's majority class")
    order = right.selectbox("Order", list(GALLERY_ORDERS), format_func=GALLERY_ORDERS.get, key=f"{key}_order")
    return (None if band == "all faces" else band), order


def show_cell_faces(evaluation: Evaluation, true_k: int, pred_k: int, key: str = "cell",
                    notes: FaceNotes = FaceNotes()) -> None:
    """The faces behind one cell of the confusion matrix (at most :data:`GRID`), filterable by agreement."""
    indices = cell_indices(evaluation, true_k, pred_k)
    if not len(indices):
        return
    band, order = agreement_controls(notes, key)
    agreement = None if notes.votes is None else notes.votes.agreement * notes.votes.usable
    chosen = order_items(indices, evaluation.probs.max(1), agreement, band=band, order=order)
    if not len(chosen):
        st.caption("No face of this cell in that agreement band.")
        return
    more = f" ({GRID} of {len(chosen)})" if len(chosen) > GRID else f" ({len(chosen)})"
    st.markdown(f"**The faces of this cell{more}**, {GALLERY_ORDERS[order]}:")
    gallery(evaluation, chosen[:GRID], notes, key)


def show_mistakes(evaluation: Evaluation, notes: FaceNotes = FaceNotes()) -> None:
    """The most confident mistakes, each with its explain button."""
    st.subheader("Most confident mistakes")
    wrong = evaluation.mistakes()[:GRID]
    if not len(wrong):
        st.success("No misclassified item in this split.")
        return
    gallery(evaluation, wrong, notes, key="mistake")


def download_predictions(evaluation: Evaluation) -> None:
    """A CSV of every item: source, true, predicted, confidence, correct and the class probabilities."""
    meta = evaluation.report.meta
    name = f"predictions_{meta.get('dataset', 'data')}_{meta.get('split') or 'all'}.csv"
    st.download_button("Download per-item predictions (CSV)",
                       predictions_frame(evaluation).to_csv(index=False),
                       file_name=name, mime="text/csv", key="eval_csv")
