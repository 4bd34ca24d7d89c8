"""Attribution and walk-through figures: percentile clipping, units, readable names, maps over the face."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ferviz.explain.faithfulness import SanityCheck
from ferviz.explain.walkthrough import Stage, walkthrough
from ferviz.figures import explain as fig_ex
from ferviz.model.checkpoint import load_checkpoint

FACE = (np.arange(64 * 64) % 251).astype(np.uint8).reshape(64, 64)


def _sparse_map(seed: int = 0) -> np.ndarray:
    """An IG-like map: small signed values everywhere and 20 pixels 30 times larger."""
    rng = np.random.default_rng(seed)
    heat = rng.normal(0, 0.01, (64, 64))
    heat.flat[rng.choice(heat.size, 20, replace=False)] = 0.3 * rng.choice([-1, 1], 20)
    return heat.astype(np.float32)


def _visible(values: np.ndarray, trace) -> float:
    """Share of pixels whose colour is at least 20% of the way from transparent to full."""
    return float(np.mean(np.abs(values) >= 0.2 * trace.zmax))


def test_percentile_clipping_makes_a_sparse_map_visible():
    heat = _sparse_map()
    full = fig_ex.attribution_figure(FACE, heat, "Integrated Gradients", signed=True, percentile=100).data[1]
    clipped = fig_ex.attribution_figure(FACE, heat, "Integrated Gradients", signed=True).data[1]
    assert full.zmax == pytest.approx(0.3) and full.zmin == -full.zmax
    assert clipped.zmax == pytest.approx(np.percentile(np.abs(heat), 99)) and clipped.zmin == -clipped.zmax
    assert _visible(heat, full) < 0.01  # a few faint dots ...
    assert _visible(heat, clipped) > 0.5  # ... against most of the map


def test_signed_and_absolute_views():
    heat = np.array([[-2.0, 1.0], [0.5, 0.0]])
    values, signed = fig_ex.attribution_view(heat, True, "absolute")
    np.testing.assert_array_equal(values, [[2, 1], [0.5, 0]])
    assert not signed
    assert fig_ex.attribution_view(heat, True, "signed")[1]
    assert not fig_ex.attribution_view(np.abs(heat), False, "signed")[1]  # a non-negative map stays so
    scale = fig_ex.attribution_scale(heat, signed=True, unit="logit contribution", view="absolute",
                                     percentile=100)
    assert (scale.zmin, scale.zmax, scale.unit) == (0.0, 2.0, "|logit contribution|")
    with pytest.raises(ValueError, match="unknown attribution view 'log'"):
        fig_ex.attribution_view(heat, True, "log")


def test_attribution_figure_has_a_colour_bar_with_the_unit_and_a_readable_title():
    fig = fig_ex.attribution_figure(FACE, _sparse_map(), "Integrated Gradients", signed=True,
                                    unit="logit contribution")
    heat = fig.data[1]
    assert heat.showscale and heat.colorbar.title.text == "logit contribution"
    assert "Integrated Gradients" in fig.layout.title.text and "99th percentile" in fig.layout.title.text


def test_sanity_figure_uses_the_display_name_and_says_pass_or_fail():
    rng = np.random.default_rng(0)
    check = SanityCheck("integrated_gradients", 3, rng.normal(size=(64, 64)), rng.normal(size=(64, 64)),
                        0.12, 0.5)
    fig = fig_ex.sanity_figure(FACE, check, signed=True)
    title = fig.layout.title.text
    assert title.startswith("Integrated Gradients:") and "integrated_gradients" not in title
    assert "PASS" in title and "0.12" in title
    assert sum(1 for t in fig.data if t.type == "heatmap" and t.showscale) == 2  # a colour bar per map
    failing = SanityCheck("saliency", 3, check.trained, check.trained, 0.93, 0.5)
    assert "FAIL" in fig_ex.sanity_figure(FACE, failing).layout.title.text


@pytest.fixture(scope="module")
def stages(tmp_path_factory) -> list[Stage]:
    from ferviz.data.labels import EMOTIONS
    from ferviz.data.preprocess import Preprocessing
    from ferviz.model.checkpoint import save_checkpoint
    from ferviz.model.network import build_model
    from tests.helpers import TINY

    torch.manual_seed(0)
    model = build_model("dcnn_bilstm_dam", **TINY).eval()
    path = save_checkpoint(tmp_path_factory.mktemp("m") / "tiny.pt", model, labels=list(EMOTIONS),
                           preprocessing=Preprocessing())
    return walkthrough(load_checkpoint(path), FACE)


def test_token_grid_stages_are_drawn_over_the_face_with_grid_lines(stages):
    bilstm = next(s for s in stages if s.name == "BiLSTM")
    fig = fig_ex.stage_figure(bilstm, FACE)
    faces = [t for t in fig.data if t.type == "heatmap" and t.hoverinfo == "skip"]
    assert len(faces) == 3 and np.array_equal(faces[0].z, FACE)
    assert sum(1 for t in fig.data if t.type == "scatter" and t.name == "token grid") == 3
    bars = [t for t in fig.data if t.type == "heatmap" and t.showscale]
    assert len(bars) == 1 and bars[0].colorbar.title.text == "L2 norm of the token"


def test_attention_stages_mark_the_uniform_level_in_absolute_mode(stages):
    spatial = next(s for s in stages if s.name == "layer 1: spatial attention")
    fig = fig_ex.stage_figure(spatial, FACE, "absolute")
    maps = [t for t in fig.data if t.type == "heatmap" and t.hoverinfo != "skip"]
    assert {t.zmin for t in maps} == {0.0} and "uniform 1/25 = 0.04" in maps[0].colorbar.ticktext
    relative = [t for t in fig_ex.stage_figure(spatial, FACE, "relative").data
                if t.type == "heatmap" and t.hoverinfo != "skip"]
    assert relative[0].zmin == pytest.approx(float(spatial.array.min()))
    channel = next(s for s in stages if s.name == "layer 1: channel attention")
    cfig = fig_ex.stage_figure(channel, FACE)
    assert cfig.layout.xaxis.title.text == "key channel"
    assert "uniform 1/8 = 0.125" in cfig.data[0].colorbar.ticktext


def test_every_stage_figure_names_its_unit(stages):
    for stage in stages:
        fig = fig_ex.stage_figure(stage, FACE)
        if stage.kind == "vector":
            assert fig.layout.yaxis.title.text == stage.unit
        else:
            titles = [t.colorbar.title.text for t in fig.data if t.type == "heatmap" and t.showscale]
            assert titles and all(titles), stage.name
    with pytest.raises(ValueError, match="unknown stage kind 'cube'"):
        fig_ex.stage_figure(Stage("x", (1,), "cube", np.zeros(1), "c"))
