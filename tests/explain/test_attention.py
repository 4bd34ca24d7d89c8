"""Attention maps, ablation views and the walk-through, on tiny seeded models (seconds on CPU)."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from skimage import color, data, transform

from ferviz.data.labels import EMOTIONS
from ferviz.data.preprocess import Preprocessing
from ferviz.explain import attention as att
from ferviz.explain.walkthrough import KINDS, PARTS, walkthrough
from ferviz.figures import attention as fig_att
from ferviz.figures.explain import stage_figure
from ferviz.model.checkpoint import load_checkpoint, save_checkpoint
from ferviz.model.network import build_model
from tests.helpers import TINY


@pytest.fixture(scope="module")
def crop() -> np.ndarray:
    """(64, 64) uint8 grayscale of the astronaut's face (public domain)."""
    face = color.rgb2gray(data.astronaut()[30:230, 150:350])
    return (transform.resize(face, (64, 64), anti_aliasing=True) * 255).astype(np.uint8)


@pytest.fixture
def loaded(tiny_checkpoint):
    return load_checkpoint(tiny_checkpoint)


def test_attention_set_shapes_and_rows_sum_to_one(loaded, crop):
    aset = att.face_attention(loaded, crop)
    h, w = aset.grid
    assert (h, w) == (loaded.config.grid_size,) * 2 == (9, 9)
    assert aset.distilled and aset.key_grids == [(math.ceil(h / 2), math.ceil(w / 2))] * 2
    assert any("5x5" in note for note in aset.notes)
    for a in aset.spatial:
        assert a.shape == (TINY["spatial_groups"], h * w, 25)
        np.testing.assert_allclose(a.sum(axis=-1), 1.0, atol=1e-5)
    for c in aset.channel:
        ch = TINY["channels"][2] // TINY["channel_groups"]
        assert c.shape == (TINY["channel_groups"], ch, ch)
        np.testing.assert_allclose(c.sum(axis=-1), 1.0, atol=1e-5)
    assert set(aset.token_maps) == {"tokens", "bilstm", "bilstm forward", "bilstm backward", "fused"}
    assert all(m.shape == (h, w) and np.all(m >= 0) for m in aset.token_maps.values())
    np.testing.assert_allclose(aset.probs.sum(), 1.0, atol=1e-5)


@pytest.mark.parametrize("group", [None, 0, 1])
@pytest.mark.parametrize("query", [(0, 0), (4, 7), (8, 8)])
def test_query_weights_sum_to_one_and_maps_are_faces(loaded, crop, group, query):
    aset = att.face_attention(loaded, crop)
    for layer in range(aset.n_layers):
        weights = att.query_weights(aset, layer, *query, group=group)
        assert weights.shape == aset.key_grids[layer]
        assert weights.sum() == pytest.approx(1.0, abs=1e-5)
        qmap = att.query_map(aset, layer, *query, group=group)
        assert qmap.shape == (64, 64) and np.isfinite(qmap).all() and qmap.min() >= 0


def test_received_maps_non_negative_64x64(loaded, crop):
    aset = att.face_attention(loaded, crop)
    assert att.received_weights(aset, 1).sum() == pytest.approx(1.0, abs=1e-5)
    received = att.received_map(aset, 1)
    assert received.shape == (64, 64) and received.dtype == np.float32 and received.min() >= 0
    groups = att.group_maps(aset, 0)
    assert groups.shape == (TINY["spatial_groups"], 64, 64) and groups.min() >= 0
    np.testing.assert_allclose(groups.mean(axis=0), att.received_map(aset, 0), atol=1e-6)
    assert att.group_maps(aset, 0, query=(2, 3)).shape == (TINY["spatial_groups"], 64, 64)
    assert att.channel_matrix(aset, 1).shape == (8, 8)
    assert att.token_map(aset, "fused").shape == (64, 64)


def test_without_distillation_keys_live_on_the_query_grid(crop):
    torch.manual_seed(1)
    model = build_model("no_distill", **TINY).eval()
    aset = att.model_attention(model, torch.as_tensor(crop / 255.0, dtype=torch.float32)[None, None])
    assert not aset.distilled and aset.key_grids == [aset.grid] * 2 and not aset.notes
    assert aset.spatial[0].shape[-1] == 81


def test_expand_keys_and_pixel_positions():
    keys = np.arange(4.0).reshape(2, 2)
    expanded = att.expand_keys(keys, (3, 3))  # pooled cell (1, 1) covers only grid cell (2, 2)
    np.testing.assert_array_equal(expanded, [[0, 0, 1], [0, 0, 1], [2, 2, 3]])
    assert att.grid_to_pixel((8, 8), 0, 7) == (59.5, 3.5)
    up = att.upsample(np.ones((9, 9)))
    np.testing.assert_allclose(up, 1.0, atol=1e-6)


def test_bad_positions_raise(loaded, crop):
    aset = att.face_attention(loaded, crop)
    with pytest.raises(ValueError, match="outside the 9x9 grid"):
        att.query_weights(aset, 0, 9, 0)
    with pytest.raises(ValueError, match="layer 2 out of range"):
        att.received_map(aset, 2)
    with pytest.raises(ValueError, match="group 5 out of range"):
        att.received_map(aset, 0, 5)
    with pytest.raises(KeyError, match="no token map"):
        att.token_map(aset, "nope")
    with pytest.raises(ValueError, match="one .H, W. grayscale face"):
        att.face_input(loaded, np.zeros((2, 64, 64), np.uint8))


def test_channel_only_model_has_no_spatial_maps(crop):
    model = build_model("channel_only", **TINY).eval()
    aset = att.model_attention(model, torch.zeros(1, 1, 64, 64))
    assert aset.n_layers == 2 and not aset.spatial
    with pytest.raises(ValueError, match="no spatial attention"):
        att.received_map(aset, 0)


def _hooks(model):
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
               for m in model.modules())


def test_ablation_views_same_weights(loaded, crop, tmp_path):
    before = {k: v.clone() for k, v in loaded.model.state_dict().items()}
    result = att.ablation_views(loaded, crop, models_dir=tmp_path)
    assert [v.name for v in result.views] == ["full", "no_cross_fusion", "no_distill"] and not result.skipped
    full, cross, distill = (v.attention for v in result.views)
    assert len(cross.spatial) == len(full.spatial) == 2
    np.testing.assert_allclose(cross.spatial[0], full.spatial[0], atol=1e-6)  # layer 1 never crosses keys
    assert not np.allclose(cross.spatial[1], full.spatial[1])  # layer 2 does
    assert result.views[2].source == "same weights, distillation modules bypassed"
    assert not distill.distilled and distill.key_grids == [distill.grid] * 2
    assert any("distillation weight tensors are left out" in note for note in distill.notes)
    assert _hooks(loaded.model) == 0 and not loaded.model.training
    assert all(torch.equal(before[k], v) for k, v in loaded.model.state_dict().items())


def test_ablation_prefers_a_trained_checkpoint(loaded, crop, tmp_path):
    torch.manual_seed(3)
    trained = build_model("no_distill", **TINY).eval()
    save_checkpoint(tmp_path / "tiny_no_distill.pt", trained, labels=list(EMOTIONS),
                    preprocessing=Preprocessing(), variant="no_distill")
    view = att.ablation_views(loaded, crop, models_dir=tmp_path).views[-1]
    assert view.source == "trained checkpoint tiny_no_distill.pt"
    bypassed = att.ablation_views(loaded, crop, models_dir=tmp_path, prefer_trained=False).views[-1]
    assert bypassed.source.startswith("same weights")


def test_ablations_skipped_without_attention(tmp_path, crop):
    model = build_model("cnn_bilstm", **TINY).eval()
    path = save_checkpoint(tmp_path / "plain.pt", model, labels=list(EMOTIONS), preprocessing=Preprocessing())
    result = att.ablation_views(load_checkpoint(path), crop, models_dir=tmp_path)
    assert [v.name for v in result.views] == ["full"] and len(result.skipped) == 2


def test_walkthrough_every_stage_with_true_shapes(loaded, crop):
    stages = walkthrough(loaded, crop)
    names = [s.name for s in stages]
    assert names == ["input", "C1", "C2", "C3", "tokens", "BiLSTM", "layer 1: spatial attention",
                     "layer 1: channel attention", "layer 2: spatial attention", "layer 2: channel attention",
                     "fused", "GAP", "FC hidden", "logits", "softmax"]
    shapes = {s.name: s.shape for s in stages}
    c1, c2, c3 = TINY["channels"]
    assert shapes["input"] == (1, 1, 64, 64) and shapes["C1"] == (1, c1, 60, 60)
    assert shapes["C2"] == (1, c2, 26, 26) and shapes["C3"] == (1, c3, 9, 9)
    assert shapes["tokens"] == (1, 81, c3) and shapes["BiLSTM"] == (1, 81, 2, c3)
    assert shapes["layer 2: spatial attention"] == (1, 2, 81, 25)
    assert shapes["layer 1: channel attention"] == (1, 2, 8, 8)
    assert shapes["GAP"] == (1, c3) and shapes["FC hidden"] == (1, TINY["fc_hidden"])
    assert shapes["softmax"] == (1, 7)
    for s in stages:
        assert s.kind in KINDS and np.isfinite(s.array).all() and s.caption and s.summary.endswith(".")
        assert s.part in PARTS and s.unit
        ndim = {"image": 3, "maps": 3, "grid": 3, "channels": 3, "matrix": 2, "vector": 1}
        assert s.array.ndim == ndim[s.kind]
        assert len(stage_figure(s, crop).data) >= 1
    assert [s.part for s in stages] == sorted((s.part for s in stages), key=PARTS.index)  # parts in order
    assert stages[-1].array.sum() == pytest.approx(1.0, abs=1e-5) and stages[-1].titles == tuple(EMOTIONS)
    assert "eq. 12" in stages[5].caption and "eq. 20" in stages[-1].caption
    by_name = {s.name: s for s in stages}
    spatial = by_name["layer 1: spatial attention"]
    assert spatial.kind == "grid" and spatial.array.shape == (2, 9, 9) and spatial.n_uniform == 25
    np.testing.assert_allclose(spatial.array[1], att.received_cells(att.face_attention(loaded, crop), 0, 1))
    channel = by_name["layer 2: channel attention"]
    assert channel.kind == "channels" and channel.n_uniform == 8
    assert channel.titles[1] == "group 1: channels 8–15"
    assert by_name["BiLSTM"].kind == by_name["fused"].kind == "grid"
    assert by_name["fused"].array.shape == (1, 9, 9)


def test_walkthrough_of_a_two_plane_input(tmp_path, crop):
    model = build_model("input_gray_hog", **TINY).eval()
    path = save_checkpoint(tmp_path / "gh.pt", model, labels=list(EMOTIONS),
                           preprocessing=Preprocessing(input_mode="gray+hog"))
    first = walkthrough(load_checkpoint(path), crop)[0]
    assert first.shape == (1, 2, 64, 64) and first.titles == ("gray", "HOG image")
    assert "gray+hog" in first.caption


def test_attention_figures(loaded, crop):
    aset = att.face_attention(loaded, crop)
    fig = fig_att.overlay(crop, att.query_map(aset, 0, 1, 2), "q", marker=att.grid_to_pixel(aset.grid, 1, 2))
    assert len(fig.data) == 3 and tuple(fig.layout.yaxis.range) == (63.5, -0.5)  # row 0 at the top
    cells = fig_att.overlay(crop, att.query_cells(aset, 0, 1, 2), "q")
    assert [t.type for t in cells.data] == ["heatmap", "heatmap", "scatter"]  # face, 9x9 blocks, grid lines
    grid = fig_att.overlay_grid(crop, att.group_maps(aset, 0), ["a", "b"], signed=[False, True])
    assert len(grid.data) == 4
    assert len(fig_att.channel_matrices(aset.channel[0], ["a", "b"]).data) == 2
    assert len(fig_att.pcp_panel(1.0, 0.1).data) == 9


def test_activation_curves_match_the_closed_form():
    x, curves = fig_att.activation_curves(knot=1.0, alpha=0.2, lo=-2, hi=2, points=401)
    f, d1, d2 = curves["PCP"]
    assert f[0] == pytest.approx(-0.4) and f[-1] == pytest.approx(2.0)
    assert d1[np.argmin(abs(x))] == pytest.approx(0.6, abs=1e-6)  # PCP'(0) = (1 + alpha) / 2
    assert d2[np.argmin(abs(x))] == pytest.approx(0.8, abs=1e-6)  # PCP''(0) = (1 - alpha) / a
    assert np.all(curves["ReLU"][2] == 0)
    with pytest.raises(ValueError, match="knot a must be > 0"):
        fig_att.activation_curves(0.0, 0.1)


def test_core_explain_modules_do_not_import_streamlit():
    code = ("import sys, ferviz.explain, ferviz.figures.attention, ferviz.figures.explain, "
            "ferviz.figures.hog, ferviz.figures.card_export; sys.exit('streamlit' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_maps_on_the_token_grid(loaded, crop):
    aset = att.face_attention(loaded, crop)
    assert att.n_keys(aset, 0) == 25
    cells = att.received_cells(aset, 1)
    assert cells.shape == (9, 9)
    keys = att.received_weights(aset, 1)
    assert cells[0, 0] == cells[1, 1] == keys[0, 0]  # pooled key (0, 0) covers grid cells (0..1, 0..1)
    assert cells[8, 8] == keys[4, 4]  # the last key covers one cell only (ceil-mode pooling)
    query = att.query_cells(aset, 0, 4, 7, group=1)
    np.testing.assert_array_equal(query, att.expand_keys(att.query_weights(aset, 0, 4, 7, 1), (9, 9)))
    groups = att.group_cells(aset, 0, (4, 7))
    assert groups.shape == (2, 9, 9)
    np.testing.assert_array_equal(groups[1], query)


def test_attention_spread_hand_values():
    assert att.attention_spread(np.full(25, 1 / 25)) == pytest.approx((1.0, 1.0))
    assert att.attention_spread(np.eye(1, 25)[0]) == pytest.approx((25.0, 0.0))
    peak, entropy = att.attention_spread([0.5, 0.25, 0.25])
    assert peak == pytest.approx(1.5)  # 0.5 / (1/3)
    assert entropy == pytest.approx(1.5 * math.log(2) / math.log(3))  # (0.5 ln 2 + 2 * 0.25 ln 4) / ln 3


def test_too_small_or_flat_faces_are_refused_with_a_reason(crop):
    assert att.not_analysable(crop) is None and att.not_analysable(crop, (64, 64)) is None
    tiny = att.not_analysable(np.full((64, 64), 90, np.uint8), (1, 1))
    assert "only 1x1 pixels" in tiny and "16x16" in tiny
    assert "flat grey" in att.not_analysable(np.full((64, 64), 90, np.uint8))
    assert "2-D" in att.not_analysable(np.zeros((0, 3), np.uint8))
