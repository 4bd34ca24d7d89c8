"""Model walk-through: one face through every stage of the DCNN-BiLSTM dual-attention model, with shapes."""

import streamlit as st

from ferviz.figures.explain import stage_figure
from ferviz.ui import explain as ui

st.set_page_config(page_title="Model walk-through", layout="wide")
st.title("Model walk-through")
st.write("One face through the network, stage by stage. Shapes are (batch, ...) as the tensors really "
         "are; the pictures show a few maps of each stage, the captions name the paper's equations.")

picked = ui.pick_face("walkthrough")
if picked is None:
    st.stop()
loaded, face = picked
with st.spinner("Running the face through the model…"):
    stages = ui.stages(loaded, face.crop)

for i, stage in enumerate(stages, start=1):
    st.subheader(f"{i}. {stage.name}")
    st.code(f"shape {stage.shape}", language=None)
    st.caption(stage.caption)
    st.plotly_chart(stage_figure(stage), key=f"stage_{i}")
