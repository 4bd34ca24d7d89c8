"""Live: the browser camera streamed to the server, every face boxed, tracked and labelled as it moves."""

import streamlit as st

from ferviz.ui.live import live_panel, live_settings, live_stream
from ferviz.ui.navigation import TAB_ICON, ensure_navigation
from ferviz.ui.widgets import face_options, model_picker

ensure_navigation()
st.set_page_config(page_title="ferviz · Live", page_icon=TAB_ICON, layout="wide")
st.title("Live")
st.caption("Your camera is streamed to this server, which draws on every frame each face's box, track id, "
           "label and probability bars (and, if you ask, its attention map) and streams it back. When the "
           "model is slower than the camera, frames in between keep the latest labels; nothing is labelled "
           "while no face is in view. Browsers allow the camera only on localhost or over HTTPS.")

loaded = model_picker()
if loaded is None:
    st.info("Pick a model in the sidebar to start.")
    st.stop()

settings = live_settings("live", face_options("live"))
video, text = st.columns([3, 2])
with video:
    ctx = live_stream("live_stream", loaded, settings)
with text:
    live_panel(ctx)
