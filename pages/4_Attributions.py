"""Attributions: which pixels Captum's methods credit for a class, and whether the maps are evidence."""

import streamlit as st

from ferviz.explain.attributions import METHODS
from ferviz.explain.faithfulness import BASELINES
from ferviz.figures import explain as fig
from ferviz.ui import explain as ui
from ferviz.ui.navigation import ensure_navigation

ensure_navigation()
st.set_page_config(page_title="Attributions", layout="wide")
st.title("Attributions")
ui.how_to_read("each map credits pixels for one class (signed view: red for it, blue against it; the colour "
               "bar gives the method's unit). Under each map, PASS/FAIL says whether the map beats a random "
               "pixel order (faithfulness) and whether it changes when the weights are randomised (sanity).")

picked = ui.pick_face("attributions")
if picked is None:
    st.stop()
loaded, face = picked
left, right = st.columns([2, 1])
methods = left.multiselect("Methods", list(METHODS), default=["integrated_gradients", "saliency", "grad_cam"],
                           format_func=lambda k: METHODS[k].title, key="attr_methods")
with right:
    target = ui.target_select(loaded.labels, face.label, "attr_target")
if not methods:
    st.info("Choose at least one method.")
    st.stop()
view, percentile = ui.attribution_view("attr")
baseline = st.radio("Faithfulness: removed pixels become", BASELINES, horizontal=True, key="attr_baseline",
                    format_func=lambda b: {"blur": "a blurred face", "mean": "the mean grey"}[b])

results = ui.attribution_results(loaded, face.crop, methods, target, baseline)
ui.show_attribution_maps(face.crop, results, view, percentile)

st.subheader("Is the map evidence?")
st.write("Deletion removes the most credited pixels first (the probability of the class should fall fast: "
         "low area); insertion puts them back onto a blurred face (it should rise fast: high area). "
         "**A map is evidence about the model only if it beats a random pixel order**; one that does not "
         "is a picture of the face, not an explanation.")
st.plotly_chart(fig.faithfulness_curves({r.title: r.faithfulness for r in results}), key="curves")

checked = [r for r in results if r.sanity is not None]
with st.expander("Sanity check: does the map depend on the trained weights?"):
    st.write("The same method on a copy of the model with random weights (Adebayo et al., 2018). "
             "If the two maps look alike (high rank correlation), the method shows edges of the image "
             "rather than what the model learned.")
    shown = st.selectbox("Method", range(len(checked)), format_func=lambda i: checked[i].title,
                         key="attr_sanity_method")
    res = checked[shown]
    st.plotly_chart(fig.sanity_figure(face.crop, res.sanity, res.signed, view=view, percentile=percentile),
                    key="sanity")

st.subheader("Explanation card")
st.write("One face, its prediction, the fused attention and one attribution map with its verdicts, the model "
         "and its sha256, as a picture or a self-contained web page to share.")
on_card = st.selectbox("Attribution map on the card", range(len(checked)), key="attr_card_method",
                       format_func=lambda i: checked[i].title)
card = ui.explanation_card(loaded, face, ui.attention(loaded, face.crop), checked[on_card],
                           loaded.labels[target])
ui.card_downloads(card, "attr_card")
