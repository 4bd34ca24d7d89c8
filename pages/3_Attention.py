"""Attention explorer: where the spatial and channel branches look, for one face (docs/DESIGN.md §3-5)."""

import streamlit as st

from ferviz.explain import attention as att
from ferviz.figures import attention as fig
from ferviz.ui import explain as ui
from ferviz.ui.navigation import ensure_navigation

ensure_navigation()
st.set_page_config(page_title="Attention explorer", layout="wide")
st.title("Attention explorer")
ui.how_to_read("the model's last convolution block cuts the face into a grid of small regions; each "
               "coloured block is one region, drawn over the part of the face it comes from. The colour bar "
               "gives the attention weight, and 1/N marks what every region would get if the attention were "
               "spread evenly. Controls sit in the tab they change.")
st.write("The dual-attention layers read that grid of regions (the *tokens*) one after another. Spatial "
         "attention says which regions each region draws on; channel attention mixes the feature channels.")
ui.glossary({
    "token": "one cell of the grid the last convolution block (C3) produces: the feature channels of one "
             "small region of the face, read by the BiLSTM and the attention as one item of a sequence",
    "C3": "the third and last convolution block of the model (conv 5x5, batch norm, ReLU)",
    "query, key": "in attention, every region (the query) weighs the regions it may look at (the keys); "
                  "its weights sum to 1",
    "cross-fusion": "from layer 2 on, each branch takes its keys from the other branch's output (eq. 16)",
    "distillation": "a strided convolution that pools the keys and values to fewer tokens (eqs. 17-18)",
})

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


def spatial_tab() -> None:
    if not aset.spatial:
        st.info("This model has no spatial branch.")
        return
    layer, group = ui.layer_group(aset, "attention")
    row, col = ui.query_position(aset.grid, "attention")
    figures = fig.spatial_figures(face.crop, aset, layer, group, (row, col), ui.scale_control("attention_scale"))
    left, right = ui.charts_side_by_side([figures["received"], figures["query"]], ["received", "query"])
    with left:
        ui.spread_caption(att.received_weights(aset, layer, group), "Received")
    with right:
        ui.spread_caption(att.query_weights(aset, layer, row, col, group), "This query")
    st.plotly_chart(figures["groups"], key="groups")


def channel_tab() -> None:
    if not aset.channel:
        st.info("This model has no channel branch.")
        return
    left, right = st.columns(2)
    with left:
        layer = ui.layer_select(len(aset.channel), "attention_channel_layer", crossed=aset.n_layers > 1)
    with right:
        mode = ui.scale_control("attention_channel_scale")
    st.plotly_chart(fig.channel_matrices(aset.channel[layer], mode=mode,
                                         title="row i: how query channel i mixes the key channels of its "
                                               "group (each row sums to 1)"), key="channels")


def tokens_tab() -> None:
    st.plotly_chart(fig.token_figure(face.crop, aset, ui.scale_control("attention_token_scale")), key="tokens")


def ablation_tab() -> None:
    st.write("The same face with cross-fusion (eq. 16) or distillation (eqs. 17-18) switched off. The "
             "last layer opens first: cross-fusion only starts at layer 2.")
    if not aset.spatial:
        st.info("The ablations compare spatial attention, which this model does not have.")
        return
    layer, group = ui.layer_group(aset, "attention_ablation", default_layer=len(aset.spatial) - 1)
    mode = ui.scale_control("attention_ablation_scale")
    ui.show_ablations(ui.ablations(loaded, face.crop), face.crop, loaded.labels, layer, group, mode)


def activation_tab() -> None:
    st.write("The ILM gate (eq. 19) uses PCP: leaky ReLU smoothed by a cubic spline between -a and a.")
    knot, alpha = ui.pcp_sliders(loaded.config.pcp_knot, loaded.config.pcp_alpha, "pcp")
    st.plotly_chart(fig.pcp_panel(knot, alpha), key="pcp")


TABS = {"Spatial attention": spatial_tab, "Channel attention": channel_tab, "BiLSTM & fusion": tokens_tab,
        "Ablations": ablation_tab, "PCP activation": activation_tab}
# Keyed tabs that track their state: a control changed in one tab keeps that tab open (untracked tabs
# jumped back to the first one on the rerun), and only the open tab's content is computed.
for tab, draw in zip(st.tabs(list(TABS), key="attention_tab", on_change="rerun"), TABS.values(), strict=True):
    if tab.open:
        with tab:
            draw()
