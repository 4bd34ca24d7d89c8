"""The model: every registered variant, the PCP activation, attention shapes and cross-fusion."""

from dataclasses import replace

import pytest
import torch

from ferviz.model.network import VARIANTS, FERNet, ModelConfig, build_model, pcp
from tests.helpers import TINY


def tiny(name: str) -> FERNet:
    torch.manual_seed(0)
    return build_model(name, **TINY)


# --------------------------------------------------------------------------------------------- PCP


@pytest.mark.parametrize("knot,alpha", [(1.0, 0.1), (0.5, 0.0), (2.0, 0.3)])
def test_pcp_matches_its_pieces_and_hand_values(knot, alpha):
    a = knot
    x = torch.tensor([-3 * a, -a, 0.0, a, 3 * a], dtype=torch.float64)
    y = pcp(x, knot, alpha)
    expected = torch.tensor([-3 * a * alpha, -a * alpha, (1 - alpha) * a / 6, a, 3 * a], dtype=torch.float64)
    torch.testing.assert_close(y, expected)


def _derivatives(x: torch.Tensor, knot: float, alpha: float):
    x = x.clone().requires_grad_(True)
    (d1,) = torch.autograd.grad(pcp(x, knot, alpha).sum(), x, create_graph=True)
    (d2,) = torch.autograd.grad(d1.sum(), x)
    return d1.detach(), d2


@pytest.mark.parametrize("knot,alpha", [(1.0, 0.1), (0.7, 0.25)])
def test_pcp_is_c2_at_every_knot(knot, alpha):
    eps = 1e-6
    for k in (-knot, 0.0, knot):
        x = torch.tensor([k - eps, k + eps], dtype=torch.float64)
        y = pcp(x, knot, alpha)
        d1, d2 = _derivatives(x, knot, alpha)
        assert abs(y[0] - y[1]) < 1e-5
        assert abs(d1[0] - d1[1]) < 1e-5
        assert abs(d2[0] - d2[1]) < 1e-4
    # hand values: slope alpha on the left, 1 on the right, (1 + alpha) / 2 at 0; f'' peaks at (1 - alpha) / a
    d1, d2 = _derivatives(torch.tensor([-2 * knot, 0.0, 2 * knot], dtype=torch.float64), knot, alpha)
    torch.testing.assert_close(d1, torch.tensor([alpha, (1 + alpha) / 2, 1.0], dtype=torch.float64))
    torch.testing.assert_close(d2, torch.tensor([0.0, (1 - alpha) / knot, 0.0], dtype=torch.float64))


def test_pcp_is_monotone_without_dead_zone():
    x = torch.linspace(-5, 5, 2001, dtype=torch.float64)
    d1, _ = _derivatives(x, 1.0, 0.1)
    assert (d1 >= 0.1 - 1e-9).all()
    assert (pcp(x)[1:] >= pcp(x)[:-1]).all()


# --------------------------------------------------------------------------------------------- variants


@pytest.mark.parametrize("name", list(VARIANTS))
def test_every_variant_shapes_no_nan_and_gradients_reach_every_parameter(name):
    model = tiny(name)
    cfg = model.cfg
    x = torch.randn(3, cfg.in_channels, 64, 64)
    logits = model(x)
    assert logits.shape == (3, 7)
    assert torch.isfinite(logits).all()
    logits.logsumexp(1).sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing, f"no gradient for {missing}"


@pytest.mark.parametrize("name", list(VARIANTS))
def test_forward_with_attention_matches_forward(name):
    model = tiny(name).eval()
    cfg = model.cfg
    x = torch.randn(2, cfg.in_channels, 64, 64)
    trace = model.forward_with_attention(x)
    torch.testing.assert_close(trace.logits, model(x))
    side = cfg.grid_size
    n = side * side
    assert trace.grid == (side, side)
    assert trace.conv3.shape == (2, 16, side, side)
    assert trace.lstm.shape == (2, n, 16)
    n_spatial = cfg.n_layers if cfg.attention in ("dual", "spatial") else 0
    n_channel = cfg.n_layers if cfg.attention in ("dual", "channel") else 0
    assert len(trace.spatial) == n_spatial and len(trace.channel) == n_channel
    n_keys = ((side + 1) // 2) ** 2 if cfg.distill else n
    for attn in trace.spatial:
        assert attn.shape == (2, cfg.spatial_groups, n, n_keys)
        torch.testing.assert_close(attn.sum(-1), torch.ones(attn.shape[:-1]))
    for attn in trace.channel:
        ch = 16 // cfg.channel_groups
        assert attn.shape == (2, cfg.channel_groups, ch, ch)
        torch.testing.assert_close(attn.sum(-1), torch.ones(attn.shape[:-1]))


def test_grid_sizes_follow_padding():
    assert ModelConfig(padding="valid").grid_size == 9
    assert ModelConfig(padding="same").grid_size == 16
    trace = build_model("same_padding", **TINY).eval().forward_with_attention(torch.randn(1, 1, 64, 64))
    assert trace.spatial[0].shape[-2:] == (256, 64)  # N x N/4 after distillation


def test_bilstm_sums_both_directions():
    trace = tiny("cnn_bilstm").eval().forward_with_attention(torch.randn(2, 1, 64, 64))
    assert trace.lstm_directions.shape == (2, 81, 2, 16)
    torch.testing.assert_close(trace.lstm, trace.lstm_directions.sum(2))
    assert tiny("cnn_lstm").eval().forward_with_attention(torch.randn(1, 1, 64, 64)).lstm_directions is None


def test_cross_fusion_changes_which_keys_are_used():
    """Layer 2 with cross-fusion must depend on the channel branch's key projection, without it not."""
    x = torch.randn(2, 1, 64, 64)
    for cross, should_change in ((True, True), (False, False)):
        model = build_model("dcnn_bilstm_dam", cross_fusion=cross, **TINY).eval()
        before = model.forward_with_attention(x).spatial[1].clone()
        with torch.no_grad():
            model.layers[1].channel.k.weight.add_(torch.randn_like(model.layers[1].channel.k.weight))
        after = model.forward_with_attention(x).spatial[1]
        assert (not torch.allclose(before, after)) == should_change


def test_scan_rows_and_separable_run():
    for overrides in ({"scan": "rows"}, {"separable": True}):
        model = build_model("dcnn_bilstm_dam", **TINY, **overrides)
        assert model(torch.randn(2, 1, 64, 64)).shape == (2, 7)


def test_config_validation_and_roundtrip():
    with pytest.raises(ValueError, match="padding"):
        ModelConfig(padding="full")
    with pytest.raises(ValueError, match="divisible"):
        ModelConfig(channels=(32, 64, 100), spatial_groups=3)
    cfg = replace(VARIANTS["no_distill"], num_classes=5)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown ModelConfig fields"):
        ModelConfig.from_dict({"bogus": 1})
    with pytest.raises(KeyError, match="unknown model variant"):
        build_model("resnet")


def test_pcp_closed_form_backward_passes_gradcheck_twice():
    x = (torch.randn(64, dtype=torch.float64) * 1.5).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: pcp(t, 0.7, 0.2), (x,))
    assert torch.autograd.gradgradcheck(lambda t: pcp(t, 0.7, 0.2), (x,))
