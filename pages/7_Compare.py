"""Compare: what this project measured, beside what the paper reported and what others published."""

import streamlit as st

from ferviz.figures.compare import (
    audit_styler,
    comparison_figure,
    measured_table,
    side_by_side_table,
)
from ferviz.results.metrics import PAPER_METRICS
from ferviz.results.reported import (
    DATASETS,
    MODELS,
    PROPOSED,
    anchors_frame,
    consistency_audit,
    reported_table,
)
from ferviz.results.reports import comparison_frame, measured_frame
from ferviz.ui.compare import (
    show_ablations,
    show_domains,
    show_leakage_reports,
    show_levers,
    show_paired_reports,
    show_tta,
)
from ferviz.ui.navigation import ensure_navigation
from ferviz.ui.reportviews import discover_reports, narrow_text, show_how_to_create, show_table, two_decimals

ensure_navigation()
st.set_page_config(page_title="Compare · ferviz", layout="wide")
st.title("Measured, reported, published")
st.markdown(
    "Three kinds of number, never mixed: **measured** by this project (model cards and committed reports), "
    "**reported** by the paper (Jayaraman & Mahendran 2025, Tables 4-10) and **published** elsewhere "
    "(the Anchors tab, each with its source). In the chart a model's reported and measured numbers sit on "
    "neighbouring rows, each bar with its value. The paper's "
    "numbers are far above every reproduced result: 82.89 % on FER2013 where the best published single "
    "networks reach 73-76 % and humans agree on about 65 % (grey bars).")

found = discover_reports()
frame = comparison_frame(found=found)
measured = measured_frame(found=found, studies=False)

SECTIONS = ["Measured vs reported", "By domain", "Training copies", "Paired tests", "Ablations", "Levers",
            "Test-time aug.", "Side by side", "Paper's tables", "Anchors",
            "Paper's consistency"]
tabs = dict(zip(SECTIONS, st.tabs(SECTIONS), strict=True))

with tabs["Measured vs reported"]:
    left, right = st.columns([1, 2])
    metric = left.selectbox("Metric", PAPER_METRICS, key="compare_metric")
    datasets = right.multiselect("Datasets", list(DATASETS), default=list(DATASETS), key="compare_datasets")
    st.plotly_chart(comparison_figure(frame, metric, datasets), key="compare_bars")
    st.subheader("Measured by this project")
    if measured.empty:
        show_how_to_create(found)
    else:
        show_table(measured_table(measured))
    st.caption("Every number in this table is one training run (one seed); its intervals cover test-set "
               "sampling only. Training noise is measured in the ablations, where a budget has several seeds. "
               "The ablation and lever runs and the test-time-augmented numbers have their own tabs, not this "
               "table or the chart above.")

#: The tabs that show one kind of committed report: tab -> (heading, renderer).
REPORT_TABS = {
    "By domain": ("Every model by domain (measured)", show_domains),
    "Training copies": ("Test items that are also training items", show_leakage_reports),
    "Paired tests": ("Two models on the same items: paired tests", show_paired_reports),
    "Ablations": ("Ablations (measured, equal short budget)", show_ablations),
    "Levers": ("Training levers (measured, one change each, equal budget)", show_levers),
    "Test-time aug.": ("Test-time augmentation (measured, reported separately)", show_tta),
}
for name, (heading, show) in REPORT_TABS.items():
    with tabs[name]:
        st.subheader(heading)
        show(found)

with tabs["Side by side"]:
    dataset = st.selectbox("Dataset", list(DATASETS), key="compare_dataset")
    show_table(side_by_side_table(frame, dataset))

with tabs["Paper's tables"]:
    model = st.selectbox("Model as named in the paper", MODELS, index=MODELS.index(PROPOSED),
                         key="compare_model")
    show_table(reported_table(model), hide_index=False)

with tabs["Anchors"]:
    show_table(anchors_frame())

with tabs["Paper's consistency"]:
    st.subheader("Do the paper's tables satisfy its own equations?")
    st.markdown(
        "By the paper's equations, **GAR equals recall** (eqs. 29 and 31 are the same ratio, TP / (TP + FN)) and "
        "**FAR equals 1 − specificity** (eq. 32 read per class is FP / (FP + TN); eq. 27 is TN / (TN + FP)). "
        "Measured reports satisfy both exactly. The rows highlighted below are where the paper's own tables "
        "break them by more than the tolerance.")
    tol = st.slider("Tolerance (percentage points)", 0.0, 5.0, 0.5, 0.1, key="compare_tol")
    micro = st.checkbox("Also check precision = recall = F1 = accuracy (true only if micro-averaged)",
                        key="compare_micro")
    audit = consistency_audit(tol=tol, micro=micro)
    violated = int((audit["verdict"] == "violated").sum())
    st.metric("Identities violated", f"{violated} of {len(audit)}")
    st.dataframe(audit_styler(audit), hide_index=True, column_config={**narrow_text(audit), **two_decimals(audit)})
