"""Home: what ferviz is, the selected model's card, and where to go next (``streamlit run app.py``)."""

import streamlit as st

from ferviz.errors import FervizError
from ferviz.paths import BENCHMARK_MODEL, DEFAULT_MODEL, shown_path
from ferviz.results import modelcard
from ferviz.results import summary as card_view
from ferviz.text import md_escape
from ferviz.ui.navigation import HOME, PAGES, TAB_ICON, ensure_navigation
from ferviz.ui.widgets import model_picker, page_link

#: What each per-class column means, in the column's tooltip (in plain words; "accuracy" of one class
#: would be ambiguous, so the table shows recall and specificity instead).
PER_CLASS_HELP = {
    "support": st.column_config.NumberColumn(help="test faces of this class"),
    "precision": st.column_config.NumberColumn(help="of the faces labelled this class, the % that are"),
    "recall": st.column_config.NumberColumn(help="of the faces of this class, the % found (true positive "
                                                 "rate; the paper's GAR)"),
    "specificity": st.column_config.NumberColumn(help="of the faces of other classes, the % correctly not "
                                                      "labelled this class (100 minus the paper's FAR)"),
    "f1": st.column_config.NumberColumn(help="harmonic mean of precision and recall"),
}

ensure_navigation()
st.set_page_config(page_title="ferviz", page_icon=TAB_ICON, layout="wide")
st.title("ferviz: facial expression recognition, explained")
st.markdown("ferviz is an interactive demo and analysis dashboard for the DCNN-BiLSTM model with dual "
            "attention of Jayaraman & Mahendran (Sci. Rep. 2025): a small CNN reads a 64x64 face, a "
            "bidirectional LSTM reads its feature map as a sequence, spatial and channel attention look at "
            "it in parallel and gate each other through a smooth piecewise-cubic activation (PCP), and a "
            "linear head scores seven expressions. Try it on your own photos, look inside every stage, and "
            "check the measured numbers.")

if DEFAULT_MODEL != BENCHMARK_MODEL:
    st.info(f"**The default model is `{DEFAULT_MODEL.stem}`**, the one that does best on faces beyond FER2013: "
            "it learnt from the votes of FER+'s ten annotators per face instead of FER2013's single label, and from "
            "web photos labelled by face-api.js's expression network, with every photo face aligned as the app "
            "aligns it, and it discounts the expressions FER2013 has most of, so that rarer ones such as disgust "
            "and fear are not drowned out (Compare → By domain has the numbers). "
            f"`{BENCHMARK_MODEL.stem}`, trained on FER2013's own labels, stays the model the paper's numbers are "
            "compared with. Both are in the model picker.")

loaded = model_picker()
if loaded is None:
    st.info("Pick a model in the sidebar to see its card.")
else:
    try:
        summary = card_view.card_summary(loaded, modelcard.card_beside(loaded.path))
    except FervizError as exc:
        st.error(md_escape(str(exc)))
        summary = card_view.card_summary(loaded, None)
    st.header(f"Model: {md_escape(summary.name)}")
    st.caption(f"variant {md_escape(summary.variant)} · {summary.input_mode} input · {summary.n_params:,} "
               f"parameters · sha256 {summary.sha_short}… · from the {summary.source}")
    if summary.source == "checkpoint":
        st.info(f"No model card ({md_escape(loaded.path.with_suffix('.json').name)}) beside this checkpoint "
                "yet: showing what the checkpoint itself records.")
    for problem in summary.problems:
        st.warning(md_escape(shown_path(problem)))
    split = summary.selected_on or "an unrecorded split"
    if summary.metrics:
        for column, (_, name, value) in zip(st.columns(min(len(summary.metrics), 4)),
                                            card_view.ordered_metrics(summary.metrics)[:4], strict=False):
            column.metric(name, value, help=f"measured by ferviz on {split}", border=True)
        st.caption(f"Measured on {md_escape(split)}, the split the checkpoint was selected on, so slightly "
                   "optimistic; Evaluate measures any held-out split.")
    else:
        st.info("This checkpoint records no measured metrics; measure them on the Evaluate page.")
    beyond = None if summary.domains is None else summary.domains.drop(index="fer2013", errors="ignore")
    if beyond is not None and len(beyond):
        st.subheader("Beyond FER2013's own labels")
        for column, row in zip(st.columns(len(beyond)), beyond.itertuples(), strict=True):
            delta = None if row.baseline_accuracy != row.baseline_accuracy else \
                f"{row.accuracy - row.baseline_accuracy:+.1f} pp"
            column.metric(row.short, f"{row.accuracy:.1f} %", delta, border=True,
                          help=f"{row.what}: accuracy over {row.n:,} faces, macro-F1 {row.macro_f1:.1f} %")
        st.caption(f"Accuracy on faces other than FER2013's labels (on the photos, which have no expression labels: "
                   f"agreement with face-api.js, a network trained on web photos); arrows: against "
                   f"`{BENCHMARK_MODEL.stem}`, trained on FER2013's labels, on the same faces. Compare → By domain "
                   "has every model and macro-F1.")
    if summary.per_class is not None:
        st.subheader("Per class (%)")
        st.dataframe(summary.per_class, width="content", column_config=PER_CLASS_HELP)
    with st.expander("Data and training recipe", expanded=summary.per_class is None):
        # repository-relative paths only: never the folders of the machine that trained the model
        st.dataframe(card_view.details_frame(summary).map(shown_path), hide_index=True)
        if summary.settings:
            st.dataframe(card_view.settings_frame(summary).map(shown_path), hide_index=True)
        for note in summary.notes:
            st.markdown(f"- {md_escape(shown_path(note))}")
    paper = card_view.reported_accuracy(summary.dataset)
    claim = f"The paper reports {paper[1]:.2f} % accuracy on {paper[0]} (Table 4). " if paper else ""
    st.info(f"{claim}The paper's numbers are **reported, not reproduced**: they are far above every credible "
            "published result and break identities of the paper's own metric definitions. ferviz shows them "
            "only beside its own measurements, on the Compare page.")
    page_link("pages/7_Compare.py", "**Compare**: reported beside measured, table by table")

st.header("Where next")
for page in PAGES.values():
    if page is not HOME:
        page_link(page.path, f"**{page.title}**: {page.what}")
