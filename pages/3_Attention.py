"""Attention explorer: where the spatial and channel branches look, for one face (docs/DESIGN.md §3-5)."""

import streamlit as st

from ferviz.explain import attention as att
from ferviz.figures import attention as fig
from ferviz.ui import explain as ui

st.set_page_config(page_title="Attention explorer", layout="wide")
st.title("Attention explorer")
st.write("The dual-attention layers read the C3 feature map as a grid of tokens. Spatial attention says "
         "which positions each position draws on; channel attention mixes the feature channels. "
         "Maps are stretched from the token grid over the 64x64 face: a coarse guide, not a pixel mask.")

picked = ui.pick_face("attention")
if picked is None:
    st.stop()
loaded, face = picked
aset = ui.attention(loaded, face.crop)
if aset.n_layers == 0:
    st.info("This model has no attention layers; pick the dcnn_bilstm_dam model in the sidebar.")
    st.stop()
layer, group = ui.layer_group(aset, "attention")
for note in aset.notes:
    st.caption(note)

spatial, channel, tokens, ablation, activation = st.tabs(
    ["Spatial attention", "Channel attention", "BiLSTM & fusion", "Ablations", "PCP activation"])
with spatial:
    if not aset.spatial:
        st.info("This model has no spatial branch.")
    else:
        row, col = ui.query_position(aset.grid, "attention")
        mark = att.grid_to_pixel(aset.grid, row, col)
        left, right = st.columns(2)
        left.plotly_chart(fig.overlay(face.crop, att.received_map(aset, layer, group),
                                      "attention received (mean over all queries)"), key="received")
        right.plotly_chart(fig.overlay(face.crop, att.query_map(aset, layer, row, col, group),
                                       f"where the query at ({row}, {col}) attends", marker=mark),
                           key="query")
        n_groups = aset.spatial[layer].shape[0]
        st.plotly_chart(fig.overlay_grid(face.crop, att.group_maps(aset, layer, (row, col)),
                                         [f"group {g}" for g in range(n_groups)], marker=mark,
                                         title=f"every group, query ({row}, {col})"), key="groups")
with channel:
    if not aset.channel:
        st.info("This model has no channel branch.")
    else:
        mats = aset.channel[min(layer, len(aset.channel) - 1)]
        st.plotly_chart(fig.channel_matrices(mats, [f"group {g}" for g in range(len(mats))],
                                             "row i: how channel i mixes the channels of its group"),
                        key="channels")
with tokens:
    names = list(aset.token_maps)
    st.plotly_chart(fig.overlay_grid(face.crop, [att.token_map(aset, n) for n in names], names,
                                     cols=len(names), title="L2 norm of each token over its channels"),
                    key="tokens")
with ablation:
    st.write("The same face with cross-fusion (eq. 16) or distillation (eqs. 17-18) switched off.")
    ui.show_ablations(ui.ablations(loaded, face.crop), face.crop,
                      loaded.labels, layer, group)
with activation:
    st.write("The ILM gate (eq. 19) uses PCP: leaky ReLU smoothed by a cubic spline between -a and a.")
    knot, alpha = ui.pcp_sliders(loaded.config.pcp_knot, loaded.config.pcp_alpha, "pcp")
    st.plotly_chart(fig.pcp_panel(knot, alpha), key="pcp")
