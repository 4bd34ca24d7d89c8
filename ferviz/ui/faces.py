"""Face galleries of the Evaluate page: faces with captions and an **Explain this face** button each."""

from __future__ import annotations

from functools import partial

import numpy as np
import streamlit as st

from ferviz.results.evaluation import Evaluation
from ferviz.results.reports import (
    cell_indices,
    predictions_frame,
)
from ferviz.text import md_escape
from ferviz.ui.widgets import FACE_SOURCE_KEY, choose_face, page_link

EXPLAIN_PAGES = {"pages/3_Attention.py": "Attention maps", "pages/4_Attributions.py": "Attributions"}
GRID = 24  # faces shown per gallery
_DATA_KEY, _EVAL_KEY = "ferviz_eval_dataset", "ferviz_evaluation"
_DUP_KEY, _PAIR_KEY, _COMPARISON_KEY = "ferviz_eval_duplicates", "ferviz_pair", "ferviz_pair_comparison"
_RECORD_MODEL_KEY = "ferviz_eval_record_model"  # the sidebar model the report picker last opened on
_SPLIT_PREFERENCE = ("PrivateTest", "PublicTest", "test")


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
