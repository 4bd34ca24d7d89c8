"""Attention figures: honest colour ranges, colour bars with units, token-grid maps over the face."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ferviz.explain import attention as att
from ferviz.figures import attention as fig_att
from ferviz.model.network import build_model
from tests.helpers import TINY

FACE = (np.arange(64 * 64) % 251).astype(np.uint8).reshape(64, 64)


@pytest.fixture(scope="module")
def aset() -> att.AttentionSet:
    torch.manual_seed(0)
    model = build_model("dcnn_bilstm_dam", **TINY).eval()
    x = torch.as_tensor((FACE / 255.0 - 0.5) / 0.25, dtype=torch.float32)[None, None]
    return att.model_attention(model, x)


def _near_uniform(n: int = 25, seed: int = 0) -> np.ndarray:
    """Weights between about 0.02 and 0.055 that sum to 1 (near the uniform 1/25 = 0.04)."""
    w = np.random.default_rng(seed).uniform(0.02, 0.055, n)
    return (w / w.sum()).reshape(5, 5)


def test_absolute_scale_runs_from_zero_to_the_max_and_marks_the_uniform_level():
    w = _near_uniform()
    scale = fig_att.map_scale(w, mode="absolute", unit="attention weight", n_uniform=25)
    assert (scale.zmin, scale.zmax) == (0.0, pytest.approx(w.max()))
    assert scale.uniform == pytest.approx(0.04)
    bar = fig_att.colorbar(scale)
    assert bar["title"]["text"] == "attention weight"
    assert bar["tickvals"][-1] == pytest.approx(0.04) and bar["ticktext"][-1] == "uniform 1/25 = 0.04"
    # the uniform level is most of the way up: near-uniform attention is drawn pale and even, not structured
    assert (0.04 - scale.zmin) / (scale.zmax - scale.zmin) > 0.6


def test_relative_scale_stretches_from_min_to_max():
    w = _near_uniform()
    scale = fig_att.map_scale(w, mode="relative", n_uniform=25)
    assert (scale.zmin, scale.zmax) == (pytest.approx(w.min()), pytest.approx(w.max()))


def test_absolute_scale_never_ends_below_the_uniform_level():
    scale = fig_att.map_scale(np.full((3, 3), 0.01), n_uniform=25)
    assert scale.zmax == pytest.approx(0.04)


def test_signed_and_clipped_and_degenerate_scales():
    heat = np.zeros(100)
    heat[:98] = np.linspace(-1, 1, 98)
    heat[98:] = [50, -80]  # two extreme pixels
    assert fig_att.map_scale(heat, signed=True).zmax == 80
    clipped = fig_att.map_scale(heat, signed=True, percentile=98)
    assert clipped.zmin == -clipped.zmax and clipped.zmax == pytest.approx(np.percentile(np.abs(heat), 98))
    assert clipped.zmax < 2
    flat = fig_att.map_scale(np.full((4, 4), 3.0), mode="relative")
    assert flat.zmax > flat.zmin == 3.0
    assert fig_att.map_scale(np.full(3, np.nan)) == fig_att.Scale(0.0, 1.0)
    with pytest.raises(ValueError, match="unknown colour scale 'log'"):
        fig_att.map_scale(heat, mode="log")
    with pytest.raises(ValueError, match="percentile"):
        fig_att.map_scale(heat, percentile=0)


def test_a_grid_map_is_drawn_as_blocks_over_the_face_with_grid_lines():
    grid = np.arange(81.0).reshape(9, 9)
    fig = fig_att.overlay(FACE, grid, "grid", scale=fig_att.map_scale(grid, unit="L2 norm"))
    face, heat, lines = fig.data
    assert face.colorscale[0][1] == "rgb(0, 0, 0)" and not face.showscale  # the grey face underneath
    assert heat.showscale and heat.colorbar.title.text == "L2 norm"
    assert heat.dx == pytest.approx(64 / 9) and heat.x0 == pytest.approx(64 / 18 - 0.5)
    # cell (r, c) covers pixels [r * 64/9 - 0.5, (r+1) * 64/9 - 0.5): the last cell ends at the face's edge
    assert heat.x0 + 8.5 * heat.dx == pytest.approx(63.5)
    xs = [x for x in lines.x if x is not None]
    assert len(xs) == 2 * 8 + 2 * 8  # 8 vertical and 8 horizontal lines, two points each
    assert sorted(set(lines.x[: 3 * 8: 3])) == pytest.approx([k * 64 / 9 - 0.5 for k in range(1, 9)])


def test_shared_scale_has_one_colour_bar_per_figure_and_own_scales_one_per_map():
    maps = [np.random.default_rng(i).random((9, 9)) for i in range(3)]
    shared = fig_att.overlay_grid(FACE, maps, ["a", "b", "c"], scale=fig_att.map_scale(maps))
    bars = [t for t in shared.data if t.type == "heatmap" and t.showscale]
    assert len(bars) == 1
    own = fig_att.overlay_grid(FACE, maps, ["a", "b", "c"], cols=3)
    bars = [t for t in own.data if t.type == "heatmap" and t.showscale]
    assert len(bars) == 3
    for trace, axis in zip(bars, ("xaxis", "xaxis2", "xaxis3"), strict=True):
        assert trace.colorbar.x == pytest.approx(own.layout[axis].domain[1] + 0.005)  # right of its own map


def test_channel_matrices_are_labelled_with_the_models_channel_indices(aset):
    mats = aset.channel[0]  # (2 groups, 8, 8)
    fig = fig_att.channel_matrices(mats)
    assert [a.text for a in fig.layout.annotations][:2] == ["group 0: channels 0–7", "group 1: channels 8–15"]
    assert list(fig.data[1].x) == list(range(8, 16)) and list(fig.data[1].y) == list(range(8, 16))
    assert fig.layout.xaxis.title.text == "key channel" and fig.layout.yaxis.title.text == "query channel"
    bar = fig.data[0].colorbar
    assert fig.data[0].showscale and not fig.data[1].showscale and bar.title.text == "attention weight"
    assert "uniform 1/8 = 0.125" in bar.ticktext and fig.data[0].zmin == 0


def test_spatial_figures_use_absolute_ranges_with_the_uniform_level(aset):
    figs = fig_att.spatial_figures(FACE, aset, 1, None, (2, 3))
    heats = {name: [t for t in f.data if t.type == "heatmap" and t.hoverinfo != "skip"]
             for name, f in figs.items()}
    assert len(heats["groups"]) == TINY["spatial_groups"]
    received = heats["received"][0]
    assert (received.zmin, received.zmax) == (0.0, pytest.approx(max(np.max(received.z), 1 / 25)))
    query = [heats["query"][0], *heats["groups"]]  # one query: the mean and every group on one range
    top = max(max(np.max(t.z) for t in query), 1 / 25)  # the largest weight, or 1/N if all are below it
    assert {t.zmin for t in query} == {0.0} and [t.zmax for t in query] == pytest.approx([top] * len(query))
    assert all(t.colorbar.ticktext[-1] == "uniform 1/25 = 0.04" for ts in heats.values() for t in ts)
    np.testing.assert_allclose(figs["received"].data[1].z, att.received_cells(aset, 1))
    marker = figs["query"].data[-1]
    assert (marker.x[0], marker.y[0]) == att.grid_to_pixel(aset.grid, 2, 3)
    relative = fig_att.spatial_figures(FACE, aset, 1, 0, (2, 3), mode="relative")["received"].data[1]
    assert relative.zmin > 0


def test_token_figure_has_a_colour_bar_per_map(aset):
    fig = fig_att.token_figure(FACE, aset)
    bars = [t for t in fig.data if t.type == "heatmap" and t.showscale]
    assert len(bars) == len(aset.token_maps) and all(t.colorbar.title.text == "L2 norm" for t in bars)
