"""Model walk-through: one face through every stage of the DCNN-BiLSTM dual-attention model, with shapes."""

import streamlit as st

from ferviz.figures.explain import stage_figure
from ferviz.ui import explain as ui
from ferviz.ui.navigation import ensure_navigation

ensure_navigation()
st.set_page_config(page_title="Model walk-through", layout="wide")
st.title("Model walk-through")
ui.how_to_read("follow the face from the top down, or jump to a stage from the index. Each stage says what "
               "it does and the tensor's shape (batch first); maps on the 9x9 token grid are drawn over the "
               "face they come from, and every colour bar gives its unit.")

picked = ui.pick_face("walkthrough")
if picked is None:
    st.stop()
loaded, face = picked
with st.spinner("Running the face through the model…"):
    stages = ui.stages(loaded, face.crop)
mode = ui.scale_control("walkthrough_scale")

st.subheader("Stage index", anchor="stage-index")
st.markdown(ui.stage_index(stages))

for i, stage in enumerate(stages, start=1):
    st.subheader(f"{i}. {stage.name}", anchor=f"stage-{i}")
    st.markdown(f"{stage.summary} [↑ index](#stage-index)")
    st.code(f"shape {stage.shape}", language=None)
    st.caption(stage.caption)
    st.plotly_chart(stage_figure(stage, face.crop, mode), key=f"stage_{i}")
