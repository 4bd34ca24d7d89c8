"""Streamlit helpers of the explanation pages: cached computations and widgets that return plain values.

Cached results (``st.cache_data``) are keyed on the checkpoint's sha256 and the face crop's bytes; the
model itself is passed as ``_loaded`` (not hashed) and is only read: attention comes without hooks,
and attribution methods run on a private copy (see :mod:`ferviz.explain.attributions`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np
import streamlit as st

from ferviz.checkpoint import LoadedModel
from ferviz.errors import FervizError
from ferviz.explain import attention as att
from ferviz.explain.attributions import METHODS, attribute
from ferviz.explain.faithfulness import Faithfulness, SanityCheck, deletion_insertion, sanity_check
from ferviz.explain.walkthrough import Stage, walkthrough
from ferviz.figures import attention as fig_att
from ferviz.inference import FacePrediction
from ferviz.text import md_escape
from ferviz.ui.widgets import face_picker, model_picker

T = TypeVar("T")
ATTENTION_MAP = "attention (last layer)"  # the name the attention map gets beside the attributions


def safely(fn: Callable[..., T], *args, **kwargs) -> T:
    """Run a core call; an expected error is shown with ``st.error`` and stops the page (no traceback)."""
    try:
        return fn(*args, **kwargs)
    except (FervizError, ValueError, KeyError) as exc:
        st.error(md_escape(str(exc).strip("'\"")))
        st.stop()


def pick_face(key: str) -> tuple[LoadedModel, FacePrediction] | None:
    """Sidebar model, then a picture and one of its faces; shows the prediction. None when not ready."""
    loaded = model_picker()
    if loaded is None:
        return None
    picked = face_picker(key, loaded)
    if picked is None:
        return None
    pred, index = picked
    face = pred.faces[index]
    st.caption(f"Face {face.index}: predicted **{face.label}** ({face.confidence:.0%}) by {loaded.path.name} "
               f"({loaded.variant})")
    return loaded, face


# --------------------------------------------------------------------------------------------------
# Cached computations (keyed on the model's sha256 and the crop's bytes)
# --------------------------------------------------------------------------------------------------


@st.cache_data(max_entries=64, show_spinner=False)
def _attention(_loaded: LoadedModel, sha: str, crop: np.ndarray) -> att.AttentionSet:
    return att.face_attention(_loaded, crop)


@st.cache_data(max_entries=32, show_spinner="Running the ablated models…")
def _ablations(_loaded: LoadedModel, sha: str, crop: np.ndarray) -> att.Ablations:
    return att.ablation_views(_loaded, crop)


@st.cache_data(max_entries=256, show_spinner=False)
def _attribution(_loaded: LoadedModel, sha: str, crop: np.ndarray, method: str, target: int) -> np.ndarray:
    return attribute(_loaded, att.face_input(_loaded, crop), method, target)


@st.cache_data(max_entries=256, show_spinner=False)
def _faithfulness(_loaded: LoadedModel, sha: str, crop: np.ndarray, attribution: np.ndarray, target: int,
                  baseline: str) -> Faithfulness:
    return deletion_insertion(_loaded, att.face_input(_loaded, crop), attribution, target, baseline=baseline)


@st.cache_data(max_entries=64, show_spinner="Attributing with randomised weights…")
def _sanity(_loaded: LoadedModel, sha: str, crop: np.ndarray, method: str, target: int) -> SanityCheck:
    return sanity_check(_loaded, att.face_input(_loaded, crop), method, target)


@st.cache_data(max_entries=64, show_spinner=False)
def _walkthrough(_loaded: LoadedModel, sha: str, crop: np.ndarray) -> list[Stage]:
    return walkthrough(_loaded, crop)


# What pages call: the cache key (the checkpoint's sha256) is added here, and an expected error is
# shown and stops the page.

def attention(loaded: LoadedModel, crop: np.ndarray) -> att.AttentionSet:
    """Every attention map of the model for one face (cached per model and face)."""
    return safely(_attention, loaded, loaded.sha256, crop)


def ablations(loaded: LoadedModel, crop: np.ndarray) -> att.Ablations:
    """The same face with cross-fusion or distillation switched off (cached)."""
    return safely(_ablations, loaded, loaded.sha256, crop)


def attribution(loaded: LoadedModel, crop: np.ndarray, method: str, target: int) -> np.ndarray:
    """One Captum attribution map, (64, 64) (cached per method and target class)."""
    return safely(_attribution, loaded, loaded.sha256, crop, method, target)


def faithfulness(loaded: LoadedModel, crop: np.ndarray, heat: np.ndarray, target: int,
                 baseline: str) -> Faithfulness:
    """Deletion/insertion curves of one map against a random order (cached)."""
    return safely(_faithfulness, loaded, loaded.sha256, crop, heat, target, baseline)


def sanity(loaded: LoadedModel, crop: np.ndarray, method: str, target: int) -> SanityCheck:
    """The model-randomisation sanity check of one method (cached)."""
    return safely(_sanity, loaded, loaded.sha256, crop, method, target)


def stages(loaded: LoadedModel, crop: np.ndarray) -> list[Stage]:
    """One face through every stage of the network, with the tensor shapes (cached)."""
    return safely(_walkthrough, loaded, loaded.sha256, crop)


def attribution_maps(loaded: LoadedModel, crop: np.ndarray, methods: list[str], target: int
                     ) -> tuple[dict[str, np.ndarray], dict[str, bool]]:
    """Every chosen method's attribution map plus the last layer's spatial attention, with a progress bar.

    Returns
    -------
    maps : dict of str to (64, 64) ndarray
        Title -> map; the attention map comes last, titled :data:`ATTENTION_MAP`.
    signed : dict of str to bool
        Title -> whether the map has meaningful negative values.
    """
    maps, signed = {}, {}
    bar = st.progress(0.0, text="Computing attributions…")
    for i, key in enumerate(methods):
        bar.progress(i / max(len(methods), 1), text=f"{METHODS[key].title}…")
        maps[METHODS[key].title] = attribution(loaded, crop, key, target)
        signed[METHODS[key].title] = METHODS[key].signed
    bar.empty()
    aset = attention(loaded, crop)
    if aset.spatial:
        maps[ATTENTION_MAP] = att.received_map(aset, len(aset.spatial) - 1)
        signed[ATTENTION_MAP] = False
    return maps, signed


# --------------------------------------------------------------------------------------------------
# Widgets returning plain values
# --------------------------------------------------------------------------------------------------


def layer_group(aset: att.AttentionSet, key: str) -> tuple[int, int | None]:
    """Layer (0-based) and spatial group (None: the mean over groups) selectors, side by side."""
    left, right = st.columns(2)
    layer = left.selectbox("Attention layer", range(aset.n_layers), key=f"{key}_layer",
                           format_func=lambda i: f"layer {i + 1}" + (" (keys crossed)" if i else ""))
    groups = aset.spatial[layer].shape[0] if aset.spatial else 0
    group = right.selectbox("Spatial group (head)", [None, *range(groups)], key=f"{key}_group",
                            format_func=lambda g: "mean of all groups" if g is None else f"group {g}")
    return layer, group


def query_position(grid: tuple[int, int], key: str) -> tuple[int, int]:
    """Row and column sliders over the H x W token grid, starting at the centre."""
    left, right = st.columns(2)
    row = left.slider("Query row", 0, grid[0] - 1, grid[0] // 2, key=f"{key}_row")
    col = right.slider("Query column", 0, grid[1] - 1, grid[1] // 2, key=f"{key}_col")
    return row, col


def pcp_sliders(knot: float, alpha: float, key: str) -> tuple[float, float]:
    """Sliders for PCP's knot a and left slope alpha, starting at the model's values."""
    left, right = st.columns(2)
    a = left.slider("knot a", 0.1, 3.0, float(min(max(knot, 0.1), 3.0)), 0.05, key=f"{key}_knot")
    al = right.slider("left slope alpha", 0.0, 1.0, float(min(max(alpha, 0.0), 1.0)), 0.01,
                      key=f"{key}_alpha")
    return a, al


def target_select(labels: list[str], predicted: str, key: str) -> int:
    """Class to explain; defaults to the predicted one."""
    index = labels.index(predicted) if predicted in labels else 0
    return st.selectbox("Explain class", range(len(labels)), index=index, key=key,
                        format_func=lambda k: labels[k] + (" (predicted)" if labels[k] == predicted else ""))


# --------------------------------------------------------------------------------------------------
# Render helpers
# --------------------------------------------------------------------------------------------------


def show_ablations(ablations: att.Ablations, crop: np.ndarray, labels: list[str], layer: int,
                   group: int | None) -> None:
    """The received spatial attention of each view side by side (one colour scale), with its prediction."""
    views = [v for v in ablations.views if v.attention.spatial]
    maps = [att.received_map(v.attention, min(layer, v.attention.n_layers - 1), group) for v in views]
    top = float(max((m.max() for m in maps), default=1.0))
    if layer == 0 and any(v.name == "no_cross_fusion" for v in views):
        st.caption("Cross-fusion starts at layer 2: at layer 1 the first two maps are the same.")
    for col, view, heat in zip(st.columns(max(len(views), 1)), views, maps, strict=False):
        aset = view.attention
        k = int(np.argmax(aset.probs))
        col.plotly_chart(fig_att.overlay(crop, heat, view.title, height=300, zmax=top),
                         key=f"ablation_{view.name}")
        col.metric(f"{labels[k]}", f"{aset.probs[k]:.0%}")
        col.caption(f"Weights: {view.source}. " + " ".join(aset.notes))
    for reason in ablations.skipped:
        st.info(reason)


def show_faithfulness(results: dict[str, Faithfulness]) -> None:
    """One row of metrics per map: deletion and insertion AUC with the difference to random order."""
    for name, res in results.items():
        c1, c2, c3 = st.columns([2, 1, 1])
        c1.markdown(f"**{name}**: " + ", ".join(f"{curve} {'beats' if ok else 'does not beat'} random"
                                                 for curve, ok in res.beats_random.items()))
        c2.metric("deletion AUC", f"{res.deletion.auc:.3f}",
                  f"{res.deletion.auc - res.random_deletion.auc:+.3f}", delta_color="inverse",
                  help=f"random order: {res.random_deletion.auc:.3f} (lower is better)")
        c3.metric("insertion AUC", f"{res.insertion.auc:.3f}",
                  f"{res.insertion.auc - res.random_insertion.auc:+.3f}",
                  help=f"random order: {res.random_insertion.auc:.3f} (higher is better)")
