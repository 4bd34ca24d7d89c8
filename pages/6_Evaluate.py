"""Evaluate: committed reports of the shipped models, or a fresh evaluation on your own copy of a dataset."""

import streamlit as st

from ferviz.ui.analysis import (
    dataset_form,
    discover_reports,
    download_predictions,
    record_picker,
    run_evaluation,
    show_how_to_create,
    show_mistakes,
    show_record,
    show_report,
    split_picker,
)
from ferviz.ui.widgets import model_picker

st.set_page_config(page_title="Evaluate · ferviz", layout="wide")
st.title("Evaluate")
st.caption("Per-class metrics (eqs. 26-32), the confusion matrix, calibration and the model's mistakes. "
           "Every number here is *measured* by this project.")

mode = st.radio("Source", ["committed reports", "run an evaluation"], horizontal=True, key="eval_mode")
if mode == "committed reports":
    found = discover_reports()
    record = record_picker(found)
    if record is None:
        show_how_to_create(found)
        st.stop()
    show_record(record)
    st.stop()

loaded = model_picker()
data = dataset_form()
if loaded is None or data is None:
    st.stop()
dataset, path, kind = data
split = split_picker(dataset)
evaluation = run_evaluation(loaded, dataset, path, kind, split)
if evaluation is None:
    st.stop()
show_report(evaluation.report, key="run", evaluation=evaluation)
show_mistakes(evaluation)
download_predictions(evaluation)
