"""Every attribution method on a tiny model and on a hand-made model with a known answer; faithfulness."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage import color, data, transform
from torch import nn

from ferviz.explain import attributions as attr
from ferviz.explain import faithfulness as faith
from ferviz.figures import explain as fig_ex
from ferviz.model.checkpoint import load_checkpoint
from ferviz.model.network import build_model
from tests.helpers import TINY

FAST = {"integrated_gradients": {"n_steps": 8}, "smoothgrad": {"nt_samples": 4}, "occlusion": {"stride": 8}}


@pytest.fixture(scope="module")
def face() -> torch.Tensor:
    """(1, 1, 64, 64) normalised astronaut face (public domain)."""
    gray = transform.resize(color.rgb2gray(data.astronaut()[30:230, 150:350]), (64, 64), anti_aliasing=True)
    return torch.as_tensor((gray - 0.5) / 0.25, dtype=torch.float32)[None, None]


@pytest.fixture
def tiny() -> nn.Module:
    torch.manual_seed(0)
    return build_model("dcnn_bilstm_dam", **TINY).eval()


class Quadrant(nn.Module):
    """Logit 0 = 0.01 * sum(w * x) over the top-left 32x32 quadrant (w > 0), logit 1 minus that, others 0."""

    def __init__(self):
        super().__init__()
        w = torch.zeros(64, 64)
        w[:32, :32] = 0.5 + torch.rand(32, 32, generator=torch.Generator().manual_seed(0))
        self.w = nn.Parameter(w)

    def forward(self, x):
        s = 0.01 * (x[:, 0] * self.w).sum(dim=(1, 2))
        return torch.stack([s, -s] + [torch.zeros_like(s)] * 5, dim=1)


@pytest.fixture
def quadrant_face() -> torch.Tensor:
    """Bright (1-2) top-left quadrant, 0 elsewhere: every quadrant pixel is above the image mean."""
    x = torch.zeros(1, 1, 64, 64)
    x[..., :32, :32] = 1 + torch.rand(32, 32, generator=torch.Generator().manual_seed(1))
    return x


def _hook_count(model: nn.Module) -> int:
    names = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
    return sum(len(getattr(m, n)) for m in model.modules() for n in names)


@pytest.mark.parametrize("method", list(attr.METHODS))
def test_every_method_gives_a_finite_face_map_and_leaves_the_model_alone(tiny, face, method):
    before = {k: v.clone() for k, v in tiny.state_dict().items()}
    heat = attr.attribute(tiny, face, method, target=3, **FAST.get(method, {}))
    assert heat.shape == (64, 64) and heat.dtype == np.float32 and np.isfinite(heat).all()
    assert np.abs(heat).sum() > 0
    if not attr.METHODS[method].signed:
        assert heat.min() >= 0
    assert _hook_count(tiny) == 0 and not tiny.training
    assert all(p.grad is None for p in tiny.parameters())
    assert all(torch.equal(before[k], v) for k, v in tiny.state_dict().items())


def test_loaded_model_and_predicted_target(tiny_checkpoint, face):
    loaded = load_checkpoint(tiny_checkpoint)
    k = attr.predicted_class(loaded, face)
    np.testing.assert_allclose(attr.attribute(loaded, face[0], "saliency"),
                               attr.attribute(loaded.model, face, "saliency", target=k))
    assert _hook_count(loaded.model) == 0


def test_bad_calls_say_what_to_do(tiny, face):
    with pytest.raises(KeyError, match="unknown attribution method 'lime'"):
        attr.attribute(tiny, face, "lime")
    with pytest.raises(ValueError, match="target 7 out of range"):
        attr.attribute(tiny, face, "saliency", target=7)
    with pytest.raises(ValueError, match="faces_to_tensor"):
        attr.attribute(tiny, face.repeat(2, 1, 1, 1), "saliency")
    with pytest.raises(ValueError, match="already registered"):
        attr.register(attr.METHODS["saliency"])


def test_saliency_and_smoothgrad_find_the_quadrant(quadrant_face):
    model = Quadrant()
    w = model.w.detach().numpy() * 0.01
    for method in ("saliency", "smoothgrad"):  # the gradient of a linear model is w, whatever the noise
        heat = attr.attribute(model, quadrant_face, method, target=0, **FAST.get(method, {}))
        np.testing.assert_allclose(heat, w, rtol=1e-5, atol=1e-8)
        assert heat[:32, :32].min() > 0 and heat[32:].max() == 0 and heat[:, 32:].max() == 0


def test_integrated_gradients_is_input_times_weight_for_a_linear_model(quadrant_face):
    model = Quadrant()
    heat = attr.attribute(model, quadrant_face, "integrated_gradients", target=0)
    expected = (quadrant_face[0, 0] * model.w.detach() * 0.01).numpy()  # baseline 0
    np.testing.assert_allclose(heat, expected, rtol=1e-4, atol=1e-7)
    against = attr.attribute(model, quadrant_face, "integrated_gradients", target=1)
    np.testing.assert_allclose(against, -expected, rtol=1e-4, atol=1e-7)


def test_occlusion_stays_near_the_quadrant(quadrant_face):
    heat = attr.attribute(Quadrant(), quadrant_face, "occlusion", target=0)
    assert heat[:32, :32].mean() > 0 and np.all(heat[36:, :] == 0) and np.all(heat[:, 36:] == 0)


def test_deletion_and_insertion_beat_random_on_the_toy_model(quadrant_face):
    model = Quadrant()
    heat = attr.attribute(model, quadrant_face, "integrated_gradients", target=0)
    res = faith.deletion_insertion(model, quadrant_face, heat, target=0, steps=20, baseline="mean")
    p0 = torch.softmax(model(quadrant_face), dim=1)[0, 0].item()
    assert res.deletion.fractions[0] == 0 and res.deletion.fractions[-1] == 1
    assert res.deletion.probs.size == 21
    assert res.deletion.probs[0] == pytest.approx(p0) and res.insertion.probs[-1] == pytest.approx(p0)
    assert np.all(np.diff(res.deletion.probs) <= 1e-6)  # monotone: every removed pixel lowers the logit
    assert np.all(np.diff(res.insertion.probs) >= -1e-6)
    for curve in (res.deletion, res.insertion, res.random_deletion, res.random_insertion):
        assert 0 <= curve.auc <= 1
    assert res.beats_random == {"deletion": True, "insertion": True}
    assert res.random_deletion.auc - res.deletion.auc > 0.05
    fig = fig_ex.faithfulness_curves({"IG": res})
    assert len(fig.data) == 4
    assert (fig.layout.yaxis.title.text, fig.layout.yaxis2.title.text) == ("target probability", None)  # once
    assert (fig.layout.legend.yref, fig.layout.legend.y, fig.layout.legend.yanchor) == ("container", 0, "bottom")


def test_a_reversed_map_loses_to_random(quadrant_face):
    model = Quadrant()
    heat = attr.attribute(model, quadrant_face, "integrated_gradients", target=0)
    res = faith.deletion_insertion(model, quadrant_face, -heat, target=0, baseline="mean")
    assert res.beats_random == {"deletion": False, "insertion": False}


def test_faithfulness_on_a_tiny_model_and_bad_input(tiny, face):
    heat = attr.attribute(tiny, face, "grad_cam")
    res = faith.deletion_insertion(tiny, face, heat, steps=5, random_repeats=2)
    assert res.target == attr.predicted_class(tiny, face) and res.baseline == "blur"
    assert res.insertion.probs.shape == (6,)
    with pytest.raises(ValueError, match="does not match the face"):
        faith.deletion_insertion(tiny, face, heat[:32])
    with pytest.raises(ValueError, match="unknown baseline 'noise'"):
        faith.baseline_image(face, "noise")
    assert torch.allclose(faith.baseline_image(face, "mean"), face.mean().expand_as(face))


def test_sanity_check_randomises_a_copy_only(tiny, face):
    before = {k: v.clone() for k, v in tiny.state_dict().items()}
    check = faith.sanity_check(tiny, face, "saliency", target=2, seed=4)
    assert check.trained.shape == check.randomised.shape == (64, 64)
    assert -1 <= check.correlation <= 1 and isinstance(check.passes, bool)
    again = faith.sanity_check(tiny, face, "saliency", target=2, seed=4)
    np.testing.assert_array_equal(check.randomised, again.randomised)  # seeded, no global RNG
    assert all(torch.equal(before[k], v) for k, v in tiny.state_dict().items())
    twin = faith.randomised_copy(tiny, seed=0)
    assert not torch.equal(twin.head.weight, tiny.head.weight)
    assert len(fig_ex.sanity_figure(face[0, 0].numpy(), check).data) == 4


def test_random_curves_are_shared_and_give_the_same_answer(tiny, face):
    heat = attr.attribute(tiny, face, "saliency")
    alone = faith.deletion_insertion(tiny, face, heat, steps=5, random_repeats=2)
    shared = faith.random_curves(tiny, face, alone.target, steps=5, repeats=2)
    reused = faith.deletion_insertion(tiny, face, heat, alone.target, steps=5, random=shared)
    for a, b in ((alone.deletion, reused.deletion), (alone.random_insertion, reused.random_insertion)):
        np.testing.assert_allclose(a.probs, b.probs, rtol=1e-6)
    with pytest.raises(ValueError, match="have 5 steps, not 20"):
        faith.deletion_insertion(tiny, face, heat, alone.target, random=shared)


def _curve(auc: float) -> faith.Curve:
    return faith.Curve(np.array([0.0, 1.0]), np.array([auc, auc]), auc)


@pytest.mark.parametrize(("deletion", "insertion", "verdict"),
                         [(0.2, 0.7, "pass"), (0.5, 0.7, "mixed"), (0.2, 0.3, "mixed"), (0.5, 0.3, "fail")])
def test_faithfulness_verdict(deletion, insertion, verdict):
    res = faith.Faithfulness(0, "blur", _curve(deletion), _curve(insertion), _curve(0.4), _curve(0.5))
    assert res.verdict == verdict
    summary = res.summary()
    assert f"deletion AUC {deletion:.3f} vs random 0.400" in summary
    assert ("does not beat" in summary) == (verdict != "pass")


def test_sanity_check_reuses_the_trained_map_and_handles_a_constant_map(tiny, face):
    trained = attr.attribute(tiny, face, "saliency", target=2)
    check = faith.sanity_check(tiny, face, "saliency", target=2, trained=trained)
    np.testing.assert_array_equal(check.trained, trained)
    assert check.summary().startswith(f"Spearman rank correlation {check.correlation:.2f}")
    flat = faith.sanity_check(tiny, face, "saliency", target=2, trained=np.zeros((64, 64), np.float32))
    assert flat.correlation == 0.0 and flat.passes  # no rank order: no warning, no NaN
    with pytest.raises(ValueError, match="trained map has shape"):
        faith.sanity_check(tiny, face, "saliency", target=2, trained=np.zeros((8, 8)))


def test_timed_attribution_records_method_target_and_time(tiny, face):
    res = attr.timed_attribution(tiny, face, "saliency")
    assert res.target == attr.predicted_class(tiny, face) and res.seconds > 0
    np.testing.assert_array_equal(res.heat, attr.attribute(tiny, face, "saliency", res.target))
    assert (res.title, res.signed, res.unit) == ("Saliency", False, "|∂ logit / ∂ pixel|")
    assert all(m.unit and m.unit != "attribution" for m in attr.METHODS.values())  # every method has a unit


def test_integrated_gradients_reports_its_completeness_gap(quadrant_face, tiny, face):
    exact = attr.timed_attribution(Quadrant(), quadrant_face, "integrated_gradients", target=0)
    assert exact.completeness_gap == pytest.approx(0.0, abs=1e-4)  # linear: the integral is exact
    res = attr.timed_attribution(tiny, face, "integrated_gradients")
    x = attr.face_batch(face)
    with torch.no_grad():
        drop = float(tiny(x)[0, res.target] - tiny(torch.zeros_like(x))[0, res.target])
    assert res.completeness_gap == pytest.approx(float(res.heat.sum(dtype=np.float64)) - drop, abs=1e-5)
    assert attr.timed_attribution(tiny, face, "saliency").completeness_gap is None


def test_faithfulness_curves_on_the_fast_path_match_the_torch_model(tiny_checkpoint, monkeypatch):
    from ferviz.explain.faithfulness import deletion_insertion
    from ferviz.model.checkpoint import load_checkpoint
    from ferviz.pipeline.fastpath import fast_path_enabled

    if not fast_path_enabled():
        pytest.skip("onnxruntime is not installed: there is no fast path to compare")
    loaded = load_checkpoint(tiny_checkpoint)
    x = torch.randn(1, 64, 64)  # the tiny checkpoint reads one gray plane
    heat = np.random.default_rng(0).random((64, 64))
    fast = deletion_insertion(loaded, x, heat, target=0)  # ONNX Runtime for the curves
    plain = deletion_insertion(loaded.model, x, heat, target=0)  # the torch module
    for a, b in ((fast.deletion, plain.deletion), (fast.insertion, plain.insertion),
                 (fast.random_deletion, plain.random_deletion)):
        np.testing.assert_allclose(a.probs, b.probs, atol=1e-4)


def test_curves_forward_the_face_and_the_baseline_once_and_match_the_image_by_image_curves(quadrant_face):
    """Every curve starts and ends on the face or the baseline: those two images go through the model once,
    then 2 * (steps - 1) images per order; the probabilities equal one forward pass per image."""
    model, x, steps = Quadrant(), quadrant_face, 4
    seen = []

    def forward(chunk):
        seen.append(len(chunk))
        return model(chunk)

    base = faith.baseline_image(x, "mean")
    rng = np.random.default_rng(0)
    orders = [rng.permutation(64 * 64) for _ in range(3)]
    curves = faith._curves(forward, x, base, orders, steps, 0, batch_size=1000)
    assert sum(seen) == 2 + 3 * 2 * (steps - 1)
    with torch.no_grad():
        for order, (deletion, insertion) in zip(orders, curves, strict=True):
            masks = faith._masks(order, (64, 64), steps)
            for i, m in enumerate(masks):
                p_del = torch.softmax(model(torch.where(m, base, x)), 1)[0, 0].item()
                p_ins = torch.softmax(model(torch.where(m, x, base)), 1)[0, 0].item()
                assert deletion[i] == pytest.approx(p_del, abs=1e-6)
                assert insertion[i] == pytest.approx(p_ins, abs=1e-6)
