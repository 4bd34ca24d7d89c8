"""Evaluate's *compare two models*: both models on the same items, the paired test and where they disagree."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ferviz.data.datasets import FaceDataset
from ferviz.errors import FervizError
from ferviz.figures.evaluate import (
    disagreement_figure,
)
from ferviz.model.checkpoint import LoadedModel
from ferviz.results.audits import compare_evaluations
from ferviz.results.evaluation import Evaluation, evaluate
from ferviz.results.leakage import Duplicates
from ferviz.results.significance import PairedComparison, disagreements
from ferviz.text import md_escape
from ferviz.ui.cache import load_model, shipped_models
from ferviz.ui.evaluate import COMPARISON_KEY, EVAL_KEY, PAIR_KEY
from ferviz.ui.faces import COPY_MARK, GRID, explain_grid, file_name
from ferviz.ui.queue import heavy_work
from ferviz.ui.reportviews import pct

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
        st.session_state[PAIR_KEY] = {key: tuple(pair)}
        st.session_state.pop(EVAL_KEY, None)  # one large evaluation at a time
    pair = st.session_state.get(PAIR_KEY, {}).get(key)
    if pair is None:
        st.info("Press **Run both models** to score A and B on the same items.")
    return pair


def show_pair(evaluations: tuple[Evaluation, Evaluation], dups: Duplicates | None = None) -> None:
    """Both accuracies, the paired test, the disagreement table and the faces where the two disagree."""
    ev_a, ev_b = evaluations
    cached = st.session_state.get(COMPARISON_KEY)
    if cached is None or any(x is not y for x, y in zip(cached[0], (ev_a, ev_b, dups), strict=True)):
        try:
            comp = compare_evaluations(ev_a, ev_b)
            clean = compare_evaluations(ev_a, ev_b, clean=~dups.leaked) if dups is not None and (
                ~dups.leaked).any() else None
        except FervizError as exc:
            st.error(md_escape(exc))
            return
        cached = ((ev_a, ev_b, dups), comp, clean)  # holds what it was computed from: no stale match
        st.session_state[COMPARISON_KEY] = cached
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

    leaked = None if dups is None else dups.leaked
    captions = [f"{file_name(ev_a.dataset.source[i])} · label {names[ev_a.y_true[i]]} · A: {said(ev_a, i)} · "
                f"B: {said(ev_b, i)}{f' · {COPY_MARK}' if leaked is not None and leaked[i] else ''}"
                for i in indices]
    sources = [f"{ev_a.dataset.source[i]}: true {names[ev_a.y_true[i]]}, A ({ev_a.report.meta.get('model')}) "
               f"{said(ev_a, i)}, B ({ev_b.report.meta.get('model')}) {said(ev_b, i)}" for i in indices]
    explain_grid(ev_a.faces, indices, captions, sources, key="pair")


def show_comparison(comp: PairedComparison) -> None:
    """Both models' accuracies with intervals, their difference and McNemar's p, and the verdict."""
    cols = st.columns(4)
    cols[0].metric(f"A: {comp.name_a}", pct(comp.accuracy_a.estimate))
    cols[1].metric(f"B: {comp.name_b}", pct(comp.accuracy_b.estimate))
    cols[2].metric("difference A − B", f"{100 * comp.difference.estimate:+.2f} pp")
    cols[3].metric("McNemar exact p", f"{comp.test.p_exact:.3g}",
                   help=f"{comp.test.a_only} items only A gets right, {comp.test.b_only} only B; "
                        f"continuity-corrected χ² {comp.test.chi2:.2f}, p = {comp.test.p_chi2:.3g}")
    (st.success if comp.test.significant() else st.info)(md_escape(comp.verdict()))
    st.caption(f"95 % bootstrap intervals: A {comp.accuracy_a.text()}, B {comp.accuracy_b.text()}, "
               f"difference {comp.difference.text(signed=True)} (items resampled once for both models: "
               f"paired); macro-F1 A {comp.macro_f1_a.text()}, B {comp.macro_f1_b.text()}. One seed per "
               "model: training noise is not in these intervals.")
