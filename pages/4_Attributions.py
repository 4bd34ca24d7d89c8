"""Attributions: which pixels Captum's methods credit for a class, and whether the maps are evidence."""

import streamlit as st

from ferviz.explain.attributions import METHODS
from ferviz.explain.faithfulness import BASELINES
from ferviz.figures import explain as fig
from ferviz.ui import explain as ui

st.set_page_config(page_title="Attributions", layout="wide")
st.title("Attributions")
st.write("Each method credits input pixels for one class's score. Signed maps (red for, blue against the "
         "class) and non-negative maps are shown beside the last attention layer's received attention.")

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

maps, signed = ui.attribution_maps(loaded, face.crop, methods, target)
st.plotly_chart(fig.attribution_grid(face.crop, maps, signed), key="maps")

st.subheader("Is the map evidence?")
st.write("Deletion removes the most credited pixels first (the probability of the class should fall fast: "
         "low area); insertion puts them back onto a blurred face (it should rise fast: high area). "
         "**A map is evidence about the model only if it beats a random pixel order**; one that does not "
         "is a picture of the face, not an explanation.")
baseline = st.radio("Removed pixels become", BASELINES, horizontal=True, key="attr_baseline",
                    format_func=lambda b: {"blur": "a blurred face", "mean": "the mean grey"}[b])
with st.spinner("Deleting and inserting pixels…"):
    results = {name: ui.faithfulness(loaded, face.crop, heat, target, baseline)
               for name, heat in maps.items()}
ui.show_faithfulness(results)
st.plotly_chart(fig.faithfulness_curves(results), key="curves")

with st.expander("Sanity check: does the map depend on the trained weights?"):
    st.write("The same method on a copy of the model with random weights (Adebayo et al., 2018). "
             "If the two maps look alike (high rank correlation), the method shows edges of the image "
             "rather than what the model learned.")
    method = st.selectbox("Method", methods, format_func=lambda k: METHODS[k].title, key="attr_sanity_method")
    if st.button("Run the sanity check", key="attr_sanity_run"):
        check = ui.sanity(loaded, face.crop, method, target)
        st.plotly_chart(fig.sanity_figure(face.crop, check, METHODS[method].signed), key="sanity")
        verdict = "passes" if check.passes else "fails"
        st.metric("Spearman correlation of |maps|", f"{check.correlation:.2f}",
                  help=f"{verdict}: below {check.threshold} counts as depending on the weights "
                       "(rule of thumb)")
