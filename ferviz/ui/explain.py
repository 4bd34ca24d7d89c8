"""Streamlit helpers of the explanation pages: cached computations and widgets that return plain values.

Cached results (``st.cache_data``) are keyed on the checkpoint's sha256 and the face crop's bytes; the
model itself is passed as ``_loaded`` (not hashed) and is only read: attention comes without hooks,
and attribution methods run on a private copy (see :mod:`ferviz.explain.attributions`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import streamlit as st

from ferviz.errors import FervizError
from ferviz.explain import attention as att
from ferviz.explain.attributions import METHODS, Attribution, timed_attribution
from ferviz.explain.faithfulness import (
    Curve,
    Faithfulness,
    SanityCheck,
    deletion_insertion,
    random_curves,
    sanity_check,
)
from ferviz.explain.walkthrough import Stage, walkthrough
from ferviz.figures import attention as fig_att
from ferviz.figures import explain as fig_ex
from ferviz.figures.card_export import ExplanationCard, card_html, card_png
from ferviz.figures.fit import column_px, fit_titles, level_tops
from ferviz.model.checkpoint import LoadedModel
from ferviz.model.network import FERNet
from ferviz.pipeline.inference import FacePrediction
from ferviz.pipeline.tta import model_views
from ferviz.text import md_escape, printable
from ferviz.ui.queue import heavy_work
from ferviz.ui.widgets import FACE_SOURCE_KEY, face_picker, model_picker

T = TypeVar("T")
ATTENTION_MAP = "attention (last layer)"  # the name the attention map gets beside the attributions
SCALE_HELP = ("absolute: from 0 to the largest value, with the uniform level 1/N marked on the colour bar "
              "(near-uniform attention looks pale and even); relative: stretched from the smallest to the "
              "largest value, which makes any difference look strong")
VERDICT_MD = {"pass": ":green[**PASS**]", "mixed": ":orange[**MIXED**]", "fail": ":red[**FAIL**]"}


def safely(fn: Callable[..., T], *args, **kwargs) -> T:
    """Run a core call; an expected error is shown with ``st.error`` and stops the page (no traceback)."""
    try:
        return fn(*args, **kwargs)
    except (FervizError, ValueError, KeyError) as exc:
        st.error(md_escape(str(exc).strip("'\"")))
        st.stop()


def how_to_read(text: str) -> None:
    """The one-line reading guide at the top of an explanation page."""
    st.info(f"**How to read this page:** {text}")


def pick_face(key: str) -> tuple[LoadedModel, FacePrediction] | None:
    """Sidebar model, then a picture and one of its faces; shows the prediction. None when not ready.

    A face that cannot be explained (a region under ``MIN_FACE_SIDE`` pixels, a flat crop) gets a
    warning saying why, and None: the page draws nothing for it.
    """
    loaded = model_picker()
    if loaded is None:
        return None
    if not isinstance(loaded.model, FERNet):  # e.g. faceapi: no attention maps, no FERNet layers
        st.info(f"Explanations are not available for this model ({md_escape(loaded.variant)}); they need the "
                "FERNet models' layers and attention. Pick one of the fer2013_* models in the sidebar.")
        return None
    picked = face_picker(key, loaded)
    if picked is None:
        return None
    pred, index = picked
    face = pred.faces[index]
    reason = att.not_analysable(face.crop, (face.box.w, face.box.h))
    if reason is not None:
        st.warning(md_escape(reason))
        return None
    mirrored = (" This model averages each face with its mirror image, so the figures below, which explain "
                "the face as shown, can give a slightly different probability." if model_views(loaded) == "flip"
                else "")
    st.caption(f"Face {face.index}: predicted **{md_escape(face.label)}** ({face.confidence:.0%}) by "
               f"{md_escape(loaded.path.name)} ({md_escape(loaded.variant)}).{mirrored}")
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
def _attribution(_loaded: LoadedModel, sha: str, crop: np.ndarray, method: str, target: int) -> Attribution:
    return timed_attribution(_loaded, att.face_input(_loaded, crop), method, target)


@st.cache_data(max_entries=64, show_spinner=False)
def _random_curves(_loaded: LoadedModel, sha: str, crop: np.ndarray, target: int,
                   baseline: str) -> tuple[Curve, Curve]:
    return random_curves(_loaded, att.face_input(_loaded, crop), target, baseline=baseline)


@st.cache_data(max_entries=256, show_spinner=False)
def _faithfulness(_loaded: LoadedModel, sha: str, crop: np.ndarray, attribution: np.ndarray, target: int,
                  baseline: str) -> Faithfulness:
    random = _random_curves(_loaded, sha, crop, target, baseline)  # shared by every map of the face
    return deletion_insertion(_loaded, att.face_input(_loaded, crop), attribution, target, baseline=baseline,
                              random=random)


@st.cache_data(max_entries=64, show_spinner=False)
def _sanity(_loaded: LoadedModel, sha: str, crop: np.ndarray, method: str, target: int,
            trained: np.ndarray) -> SanityCheck:
    return sanity_check(_loaded, att.face_input(_loaded, crop), method, target, trained=trained)


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


def attribution(loaded: LoadedModel, crop: np.ndarray, method: str, target: int) -> Attribution:
    """One Captum attribution map, (64, 64), with the seconds it took (cached per method and target)."""
    return safely(_attribution, loaded, loaded.sha256, crop, method, target)


def faithfulness(loaded: LoadedModel, crop: np.ndarray, heat: np.ndarray, target: int,
                 baseline: str) -> Faithfulness:
    """Deletion/insertion curves of one map against a random order (cached; random curves shared)."""
    return safely(_faithfulness, loaded, loaded.sha256, crop, heat, target, baseline)


def sanity(loaded: LoadedModel, crop: np.ndarray, method: str, target: int,
           trained: np.ndarray) -> SanityCheck:
    """The model-randomisation sanity check of one method, reusing its trained map (cached)."""
    return safely(_sanity, loaded, loaded.sha256, crop, method, target, trained)


def stages(loaded: LoadedModel, crop: np.ndarray) -> list[Stage]:
    """One face through every stage of the network, with the tensor shapes (cached)."""
    return safely(_walkthrough, loaded, loaded.sha256, crop)


@dataclass
class MapResult:
    """One map of the Attributions page with everything shown beside it.

    Attributes
    ----------
    title : str
        Display name.
    heat : (64, 64) ndarray
        The map.
    signed : bool
        Whether negative values mean evidence against the class.
    unit : str
        What a value is.
    seconds : float or None
        Time the method took (None for the attention map, read from one forward pass).
    faithfulness : Faithfulness
        Deletion / insertion against the random order.
    sanity : SanityCheck or None
        The randomised-weights check (None for the attention map).
    method : str
        The key in ``METHODS``, or '' for the attention map.
    completeness_gap : float or None
        Integrated Gradients' convergence: the map's sum minus the logit difference it should add up to.
    """

    title: str
    heat: np.ndarray
    signed: bool
    unit: str
    seconds: float | None
    faithfulness: Faithfulness
    sanity: SanityCheck | None
    method: str = ""
    completeness_gap: float | None = None


def attribution_results(loaded: LoadedModel, crop: np.ndarray, methods: list[str], target: int,
                        baseline: str) -> list[MapResult]:
    """Every chosen method's map with its time, faithfulness and sanity check, then the attention map.

    One progress bar covers the work; every piece is cached, so a rerun with the same face, class and
    baseline is immediate. New work waits for a free worker (:func:`ferviz.ui.queue.heavy_work`).
    """
    key = ("attributions", loaded.sha256, np.ascontiguousarray(crop).tobytes(), tuple(methods), target,
           baseline)
    with heavy_work("the attributions", key):
        return _attribution_results(loaded, crop, methods, target, baseline)


def _attribution_results(loaded: LoadedModel, crop: np.ndarray, methods: list[str], target: int,
                         baseline: str) -> list[MapResult]:
    bar = st.progress(0.0, text="Computing attributions…")
    results, total = [], 3 * len(methods) + 1
    for i, key in enumerate(methods):
        name = METHODS[key].title
        bar.progress(3 * i / total, text=f"{name}…")
        a = attribution(loaded, crop, key, target)
        bar.progress((3 * i + 1) / total, text=f"{name}: deleting and inserting pixels…")
        faith = faithfulness(loaded, crop, a.heat, target, baseline)
        bar.progress((3 * i + 2) / total, text=f"{name}: sanity check with randomised weights…")
        check = sanity(loaded, crop, key, target, a.heat)
        results.append(MapResult(name, a.heat, a.signed, a.unit, a.seconds, faith, check, key,
                                 a.completeness_gap))
    aset = attention(loaded, crop)
    if aset.spatial:
        last = len(aset.spatial) - 1
        heat = att.received_map(aset, last)
        results.append(MapResult(ATTENTION_MAP, heat, False,
                                 f"attention weight (uniform 1/{att.n_keys(aset, last)})", None,
                                 faithfulness(loaded, crop, heat, target, baseline), None))
    bar.empty()
    return results


# --------------------------------------------------------------------------------------------------
# Widgets returning plain values
# --------------------------------------------------------------------------------------------------


def scale_control(key: str) -> str:
    """'absolute' or 'relative' colour scale for the maps below it."""
    return st.radio("Colour scale", fig_att.SCALE_MODES, horizontal=True, key=key, help=SCALE_HELP,
                    format_func=lambda m: {"absolute": "absolute (0 to max, 1/N marked)",
                                           "relative": "relative (stretched min to max)"}[m])


def layer_select(n_layers: int, key: str, crossed: bool = True, default: int = 0) -> int:
    """Attention layer (0-based, ``default`` first); ``crossed`` notes the layers whose keys are crossed."""
    if st.session_state.get(key, default) not in range(n_layers):  # another model with fewer layers
        st.session_state[key] = min(max(default, 0), n_layers - 1)
    elif key not in st.session_state:
        st.session_state[key] = default
    return st.selectbox("Attention layer", range(n_layers), key=key,
                        format_func=lambda i: f"layer {i + 1}" + (" (keys crossed)" if i and crossed else ""))


MEAN_GROUP = -1  # the option "mean of all groups" (a real value, so the select never shows a placeholder)


def group_select(n_groups: int, key: str) -> int | None:
    """Spatial group (head), or None for the mean over groups; an out-of-range remembered choice resets."""
    options = [MEAN_GROUP, *range(n_groups)]
    if st.session_state.get(key, MEAN_GROUP) not in options:
        st.session_state[key] = MEAN_GROUP
    group = st.selectbox("Spatial group (head)", options, key=key,
                         format_func=lambda g: "mean of all groups" if g == MEAN_GROUP else f"group {g}")
    return None if group == MEAN_GROUP else int(group)


def layer_group(aset: att.AttentionSet, key: str, default_layer: int = 0) -> tuple[int, int | None]:
    """Spatial attention layer (0-based) and group (None: the mean over groups) selectors, side by side."""
    left, right = st.columns(2)
    with left:
        layer = layer_select(len(aset.spatial), f"{key}_layer", crossed=aset.n_layers > 1,
                             default=default_layer)
    with right:
        group = group_select(aset.spatial[layer].shape[0], f"{key}_group")
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


def attribution_view(key: str) -> tuple[str, float]:
    """Signed or absolute view, and the percentile the colours are clipped at."""
    left, right = st.columns(2)
    view = left.radio("View", fig_ex.VIEWS, horizontal=True, key=f"{key}_view",
                      format_func=lambda v: {"signed": "signed (red for, blue against)",
                                             "absolute": "absolute |value|"}[v])
    pct = right.slider("Clip colours at percentile", 90.0, 100.0, fig_ex.CLIP_PERCENTILE, 0.5,
                       key=f"{key}_clip", help="the top of the colour range is this percentile of "
                                               "|values|; 100 uses the largest value (a few pixels can then "
                                               "hide the rest)")
    return view, pct


# --------------------------------------------------------------------------------------------------
# Render helpers
# --------------------------------------------------------------------------------------------------


def charts_side_by_side(figures: list, keys: list[str], columns: int | None = None) -> list:
    """Each figure in its own column, titles broken into lines that fit the column in a 1024-pixel window
    (:func:`ferviz.figures.fit.fit_titles`) and plots starting level; returns the columns, for what goes
    under each chart."""
    cols = st.columns(columns or max(len(figures), 1))
    fitted = level_tops([fit_titles(figure, column_px(len(cols))) for figure in figures])
    for col, figure, key in zip(cols, fitted, keys, strict=False):
        col.plotly_chart(figure, key=key)
    return cols


def spread_caption(weights: np.ndarray, what: str) -> None:
    """A caption saying how far attention weights are from uniform."""
    peak, entropy = att.attention_spread(weights)
    st.caption(f"{what}: the most-weighted key gets {peak:.2f}x the uniform share 1/{np.size(weights)}; "
               f"normalised entropy {entropy:.3f} (1 = perfectly uniform).")


def show_ablations(ablations: att.Ablations, crop: np.ndarray, labels: list[str], layer: int,
                   group: int | None, mode: str = "absolute") -> None:
    """The received spatial attention of each view side by side (one colour scale), with its prediction."""
    views = [v for v in ablations.views if v.attention.spatial]
    layers = [min(layer, len(v.attention.spatial) - 1) for v in views]
    maps = [att.received_cells(v.attention, k, group) for v, k in zip(views, layers, strict=True)]
    n_min = min((att.n_keys(v.attention, k) for v, k in zip(views, layers, strict=True)), default=None)
    scale = fig_att.map_scale(maps, mode=mode, unit="attention weight", n_uniform=n_min) if maps else None
    if layer == 0 and any(v.name == "no_cross_fusion" for v in views):
        st.caption("Cross-fusion starts at layer 2: at layer 1 the first two maps are the same.")
    if len({att.n_keys(v.attention, k) for v, k in zip(views, layers, strict=True)}) > 1:
        st.caption(f"Without distillation every query attends to all tokens, so its uniform level is lower "
                   f"than the 1/{n_min} marked on the shared colour bar.")
    cols = charts_side_by_side([fig_att.overlay(crop, heat, view.title, height=300, scale=scale)
                                for view, heat in zip(views, maps, strict=True)],
                               [f"ablation_{view.name}" for view in views])
    for col, view in zip(cols, views, strict=False):
        aset = view.attention
        k = int(np.argmax(aset.probs))
        col.metric(f"{labels[k]}", f"{aset.probs[k]:.0%}")
        col.caption(f"Weights: {view.source}. " + " ".join(aset.notes))
    for line in ablation_changes(views, maps, labels, layers):
        st.markdown(line)
    for reason in ablations.skipped:
        st.info(reason)


def ablation_changes(views: list[att.AblationView], maps: list[np.ndarray], labels: list[str],
                     layers: list[int]) -> list[str]:
    """One Markdown line per ablation: how much of the attention moved and how the prediction changed."""
    if len(views) < 2:
        return []
    full = views[0].attention
    k0 = int(np.argmax(full.probs))
    lines = []
    for view, heat, layer in zip(views[1:], maps[1:], layers[1:], strict=True):
        probs = view.attention.probs
        k = int(np.argmax(probs))
        shift = att.attention_shift(maps[0], heat)
        verdict = (f"still **{md_escape(labels[k])}**, {full.probs[k0]:.0%} → {probs[k]:.0%}" if k == k0 else
                   f"**{md_escape(labels[k0])}** {full.probs[k0]:.0%} → **{md_escape(labels[k])}** {probs[k]:.0%}")
        lines.append(f"- **{md_escape(view.title.capitalize())}** (layer {layer + 1}): {shift:.0%} of the "
                     f"attention the face's regions receive sits elsewhere than in the trained model; the "
                     f"prediction: {verdict}.")
    return lines


def stage_index(stages: list[Stage]) -> str:
    """Markdown table of the walk-through: a jump link per stage, its part, shape and one sentence.

    The shape is written without spaces, ``(1,32,60,60)``, so the narrow column never breaks it over lines."""
    rows = ["| stage | part | shape | what it does |", "|---|---|---|---|"]
    for i, s in enumerate(stages, start=1):
        shape = "(" + ",".join(str(n) for n in s.shape) + ")"
        rows.append(f"| [{i}. {md_escape(s.name)}](#stage-{i}) | {s.part} | `{shape}` | {s.summary} |")
    return "\n".join(rows)


def verdict_lines(result: MapResult) -> str:
    """Markdown: the faithfulness and sanity verdicts as visible PASS / FAIL text, and the time taken."""
    faith = result.faithfulness
    lines = [f"Faithfulness {VERDICT_MD[faith.verdict]}: deletion {faith.deletion.auc:.3f} vs random "
             f"{faith.random_deletion.auc:.3f} (lower is better), insertion {faith.insertion.auc:.3f} vs "
             f"{faith.random_insertion.auc:.3f} (higher is better)"]
    if result.sanity is not None:
        check = result.sanity
        lines.append(f"Sanity check {VERDICT_MD['pass' if check.passes else 'fail']}: rank correlation "
                     f"{check.correlation:.2f} with the randomised-weights map (passes below "
                     f"{check.threshold:g})")
    else:
        lines.append("Sanity check: not applicable (read from the model's forward pass, no gradients)")
    if result.completeness_gap is not None:
        gap = abs(result.completeness_gap)
        lines.append(f"Convergence: the map adds up to the logit difference within {gap:.3f} "
                     "(IG's completeness gap; smaller is better converged)")
    lines.append(f"Took {result.seconds:.2f} s" if result.seconds is not None
                 else "Took one forward pass (shared with the prediction)")
    return "  \n".join(lines)


def show_attribution_maps(crop: np.ndarray, results: list[MapResult], view: str, percentile: float,
                          per_row: int = 4) -> None:
    """Each map over the face with its colour bar, and its verdicts and time right below it."""
    for start in range(0, len(results), per_row):
        row = results[start: start + per_row]
        cols = charts_side_by_side([fig_ex.attribution_figure(crop, res.heat, res.title, signed=res.signed,
                                                              unit=res.unit, view=view, percentile=percentile)
                                    for res in row], [f"attr_map_{res.method or 'attention'}" for res in row],
                                   columns=per_row)
        for col, res in zip(cols, row, strict=False):
            col.markdown(verdict_lines(res))


def explanation_card(loaded: LoadedModel, face: FacePrediction, aset: att.AttentionSet, result: MapResult,
                     explained: str) -> ExplanationCard:
    """The card of one face with one of its attribution results (see :mod:`ferviz.figures.card_export`)."""
    check = result.sanity
    return ExplanationCard(
        face=np.asarray(face.crop, dtype=np.uint8), label=face.label, probs=dict(face.probs),
        fused=aset.token_maps["fused"], attribution=result.heat, method=result.title, signed=result.signed,
        unit=result.unit, faithfulness=result.faithfulness.verdict,
        faithfulness_text=result.faithfulness.summary(), model_name=f"{loaded.path.name} ({loaded.variant})",
        sha256=loaded.sha256, sanity="" if check is None else ("pass" if check.passes else "fail"),
        sanity_text="" if check is None else check.summary(),
        source=printable(st.session_state.get(FACE_SOURCE_KEY, ""), 120), explained=explained)


def card_downloads(card: ExplanationCard, key: str) -> None:
    """Download buttons for the card as PNG and as self-contained HTML, and a preview."""
    png = card_png(card)
    stem = "".join(ch if ch.isalnum() else "_" for ch in f"ferviz_card_{card.label}")
    left, right = st.columns(2)
    left.download_button("Download the card (PNG)", png, f"{stem}.png", "image/png", key=f"{key}_png")
    right.download_button("Download the card (HTML, self-contained)", card_html(card), f"{stem}.html",
                          "text/html", key=f"{key}_html")
    with st.expander("Preview the card"):
        st.image(png)


def glossary(terms: dict[str, str]) -> None:
    """The page's technical words in plain language, folded away under "Words used on this page".

    ``terms`` are the page's own Markdown (not escaped): term -> explanation.
    """
    with st.expander("Words used on this page"):
        st.markdown("\n".join(f"- **{term}**: {text}" for term, text in terms.items()))
