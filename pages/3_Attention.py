"""Attention explorer: where the spatial and channel branches look, for one face (docs/DESIGN.md §3-5)."""

import streamlit as st

from ferviz.explain import attention as att
from ferviz.figures import attention as fig
from ferviz.ui import explain as ui
from ferviz.ui.navigation import ensure_navigation

ensure_navigation()
st.set_page_config(page_title="Attention explorer", layout="wide")
st.title("Attention explorer")
ui.how_to_read("each coloured block is one token of the C3 grid, drawn over the part of the face it comes "
               "from; the colour bar gives the attention weight, and 1/N marks what every token would get "
               "if the attention were uniform. Controls sit in the tab they change.")
st.write("The dual-attention layers read the C3 feature map as a grid of tokens. Spatial attention says "
         "which positions each position draws on; channel attention mixes the feature channels.")

picked = ui.pick_face("attention")
if picked is None:
    st.stop()
loaded, face = picked
aset = ui.attention(loaded, face.crop)
if aset.n_layers == 0:
    st.info("This model has no attention layers; pick the dcnn_bilstm_dam model in the sidebar.")
    st.stop()
for note in aset.notes:
    st.caption(note)

spatial, channel, tokens, ablation, activation = st.tabs(
    ["Spatial attention", "Channel attention", "BiLSTM & fusion", "Ablations", "PCP activation"])
with spatial:
    if not aset.spatial:
        st.info("This model has no spatial branch.")
    else:
        layer, group = ui.layer_group(aset, "attention")
        row, col = ui.query_position(aset.grid, "attention")
        figures = fig.spatial_figures(face.crop, aset, layer, group, (row, col),
                                      ui.scale_control("attention_scale"))
        left, right = st.columns(2)
        with left:
            st.plotly_chart(figures["received"], key="received")
            ui.spread_caption(att.received_weights(aset, layer, group), "Received")
        with right:
            st.plotly_chart(figures["query"], key="query")
            ui.spread_caption(att.query_weights(aset, layer, row, col, group), "This query")
        st.plotly_chart(figures["groups"], key="groups")
with channel:
    if not aset.channel:
        st.info("This model has no channel branch.")
    else:
        left, right = st.columns(2)
        with left:
            ch_layer = ui.layer_select(len(aset.channel), "attention_channel_layer",
                                       crossed=aset.n_layers > 1)
        with right:
            ch_mode = ui.scale_control("attention_channel_scale")
        st.plotly_chart(fig.channel_matrices(aset.channel[ch_layer], mode=ch_mode,
                                             title="row i: how query channel i mixes the key channels of its "
                                                   "group (each row sums to 1)"), key="channels")
with tokens:
    st.plotly_chart(fig.token_figure(face.crop, aset, ui.scale_control("attention_token_scale")),
                    key="tokens")
with ablation:
    st.write("The same face with cross-fusion (eq. 16) or distillation (eqs. 17-18) switched off.")
    if aset.spatial:
        abl_layer, abl_group = ui.layer_group(aset, "attention_ablation")
        abl_mode = ui.scale_control("attention_ablation_scale")
        ui.show_ablations(ui.ablations(loaded, face.crop), face.crop, loaded.labels, abl_layer, abl_group,
                          abl_mode)
    else:
        st.info("The ablations compare spatial attention, which this model does not have.")
with activation:
    st.write("The ILM gate (eq. 19) uses PCP: leaky ReLU smoothed by a cubic spline between -a and a.")
    knot, alpha = ui.pcp_sliders(loaded.config.pcp_knot, loaded.config.pcp_alpha, "pcp")
    st.plotly_chart(fig.pcp_panel(knot, alpha), key="pcp")
