"""Evaluate: committed reports of the shipped models, a fresh evaluation on your own copy of a dataset, or two
models compared on the same items."""

import streamlit as st

from ferviz.ui.agreement import evaluation_votes, show_agreement_run, show_mislabelled_run
from ferviz.ui.evaluate import (
    dataset_form,
    duplicates_for,
    record_picker,
    run_evaluation,
    show_caveats,
    show_deduplicated,
    show_record,
    show_report,
    split_picker,
)
from ferviz.ui.faces import FaceNotes, download_predictions, show_mistakes
from ferviz.ui.navigation import ensure_navigation
from ferviz.ui.pair import run_pair, second_model_picker, show_pair
from ferviz.ui.reportviews import discover_reports, show_how_to_create
from ferviz.ui.widgets import model_picker

ensure_navigation()
st.set_page_config(page_title="Evaluate · ferviz", layout="wide")
st.title("Evaluate")
st.caption("Per-class metrics (eqs. 26-32), the confusion matrix, calibration and the model's mistakes. "
           "Every number here is *measured* by this project.")

mode = st.radio("Source", ["committed reports", "run an evaluation", "compare two models"], horizontal=True,
                key="eval_mode")
loaded = model_picker()
if mode == "committed reports":
    found = discover_reports()
    record = record_picker(found, loaded)
    if record is None:
        show_how_to_create(found)
        st.stop()
    show_record(found, record)
    st.stop()

data = dataset_form()
if loaded is None or data is None:
    st.stop()
dataset, path, kind = data
split = split_picker(dataset)
show_caveats(loaded, dataset, split)

if mode == "compare two models":
    other = second_model_picker(loaded)
    pair = None if other is None else run_pair(loaded, other, dataset, path, kind, split)
    if pair is None:
        st.stop()
    searched = duplicates_for(loaded, dataset, path, kind, split, pair[0])
    show_pair(pair, None if searched is None else searched[1])
    st.stop()

evaluation = run_evaluation(loaded, dataset, path, kind, split)
if evaluation is None:
    st.stop()
searched = duplicates_for(loaded, dataset, path, kind, split, evaluation)
if searched is not None:
    show_deduplicated(evaluation, *searched)
votes = evaluation_votes(evaluation, path)
notes = FaceNotes(votes, None if searched is None else searched[1].leaked)
if votes is not None:
    show_agreement_run(evaluation, votes)
context = (loaded.sha256, str(path), kind, split)  # a new model, dataset or split resets the chosen cell
show_report(evaluation.report, key="run", evaluation=evaluation, context=context, notes=notes)
show_mislabelled_run(evaluation, notes)
show_mistakes(evaluation, notes)
download_predictions(evaluation)
