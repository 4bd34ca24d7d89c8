"""Is an attribution map evidence? Deletion / insertion curves, a random baseline and a sanity check.

* **Deletion** (Petsiuk et al., BMVC 2018, "RISE"): pixels are replaced by a baseline (a blurred or the
  mean image) in order of decreasing attribution; the target probability after each of ~20 steps gives
  a curve whose area (AUC, in [0, 1]) is *lower* for a faithful map.
* **Insertion**: start from the baseline and put the original pixels back in the same order; the AUC is
  *higher* for a faithful map.
* **Random order**: the same curves for random pixel orders (averaged over a few seeds). A map is
  evidence about the model only where it beats random: deletion AUC below, insertion AUC above.
  The random curves depend on the face, the class and the baseline only, so :func:`random_curves`
  computes them once and :func:`deletion_insertion` reuses them (``random=``) for every map of that
  face: four maps cost 4 + 3 pixel orders of forward passes instead of 4 x 4. Every order's 2 x (S+1)
  images go through the model in batches.
* **Model-randomisation sanity check** (Adebayo et al., NeurIPS 2018): the map of a copy of the model
  whose weights are redrawn at random should look different from the trained model's map; a high rank
  correlation means the method shows the image (edges) more than the model.

Ordering uses the raw values, so for signed maps the strongest evidence *for* the target goes first.
Every function only reads the model (forward passes under ``no_grad``) or works on a private copy. The
curves' forward passes (no gradients) use the fast path of :mod:`ferviz.pipeline.fastpath` when given a
:class:`LoadedModel` and it is on (the same probabilities within 1e-4, about 1.5x faster here); maps and
the sanity check stay on the torch model.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
from scipy.ndimage import gaussian_filter
from scipy.stats import spearmanr
from torch import nn

from ferviz.explain.attributions import attribute, face_batch, model_of, predicted_class, private_copy
from ferviz.model.checkpoint import LoadedModel

log = logging.getLogger(__name__)
BASELINES = ("blur", "mean")


@dataclass
class Curve:
    """One deletion or insertion curve.

    Attributes
    ----------
    fractions : (S+1,) ndarray
        Share of pixels changed, 0 to 1.
    probs : (S+1,) ndarray
        Target probability after each step.
    auc : float
        Area under the curve.
    """

    fractions: np.ndarray
    probs: np.ndarray
    auc: float


@dataclass
class Faithfulness:
    """Deletion and insertion curves of one map, and the same for random pixel orders."""

    target: int
    baseline: str
    deletion: Curve
    insertion: Curve
    random_deletion: Curve
    random_insertion: Curve

    @property
    def beats_random(self) -> dict[str, bool]:
        """Per curve, whether the map does better than a random order."""
        return {"deletion": self.deletion.auc < self.random_deletion.auc,
                "insertion": self.insertion.auc > self.random_insertion.auc}

    @property
    def verdict(self) -> str:
        """'pass' (beats random on both curves), 'mixed' (on one) or 'fail' (on neither)."""
        wins = sum(self.beats_random.values())
        return ("fail", "mixed", "pass")[wins]

    def summary(self) -> str:
        """One line with both AUCs beside the random order's, e.g. for a caption."""
        d, i = self.beats_random["deletion"], self.beats_random["insertion"]
        return (f"deletion AUC {self.deletion.auc:.3f} vs random {self.random_deletion.auc:.3f} "
                f"({'beats' if d else 'does not beat'} random; lower is better), insertion AUC "
                f"{self.insertion.auc:.3f} vs random {self.random_insertion.auc:.3f} "
                f"({'beats' if i else 'does not beat'} random; higher is better)")


def baseline_image(x: torch.Tensor, kind: str = "blur", sigma: float = 5.0) -> torch.Tensor:
    """(1, C, S, S) -> what 'removed' pixels become: Gaussian blur (sigma in pixels) or channel means."""
    if kind == "mean":
        return x.mean(dim=(2, 3), keepdim=True).expand_as(x).clone()
    if kind == "blur":
        arr = x.detach().cpu().numpy()
        return torch.from_numpy(gaussian_filter(arr, sigma=(0, 0, sigma, sigma), mode="nearest")).to(x)
    raise ValueError(f"unknown baseline {kind!r}; choose one of {', '.join(BASELINES)}")


def _pixel_order(attribution: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Flat pixel indices, highest attribution first; ties broken at random (not in raster order)."""
    flat = np.asarray(attribution, dtype=np.float64).ravel()
    return np.lexsort((rng.random(flat.size), -flat))


def _masks(order: np.ndarray, side: tuple[int, int], steps: int) -> torch.Tensor:
    """(steps+1, 1, H, W) bool: mask i covers the first round(i/steps * P) pixels of ``order``."""
    rank = np.empty(order.size, np.int64)
    rank[order] = np.arange(order.size)
    counts = np.round(np.linspace(0, order.size, steps + 1)).astype(np.int64)
    masks = rank[None, :] < counts[:, None]  # (steps+1, P)
    return torch.from_numpy(masks.reshape(steps + 1, 1, *side))


def _forward(loaded_or_model: LoadedModel | nn.Module):
    """``chunk -> logits``: ONNX Runtime for a loaded checkpoint where the fast path is on, else torch."""
    model = model_of(loaded_or_model)
    if not isinstance(loaded_or_model, LoadedModel):
        return model
    from ferviz.pipeline.fastpath import fast_logits

    def forward(chunk: torch.Tensor) -> torch.Tensor:
        logits = fast_logits(loaded_or_model, chunk)
        return model(chunk) if logits is None else torch.from_numpy(logits)

    return forward


@torch.no_grad()
def _probs(forward, batch: torch.Tensor, target: int, batch_size: int) -> np.ndarray:
    out = [torch.softmax(forward(chunk), dim=1)[:, target] for chunk in batch.split(batch_size)]
    return torch.cat(out).cpu().numpy().astype(np.float64)


def _curves(forward, x, base, orders, steps, target, batch_size) -> list[tuple[np.ndarray, np.ndarray]]:
    """Deletion and insertion probabilities (each (steps+1,)) for every pixel order, in one batched stream.

    Every curve starts and ends on the same two images whatever the order (deletion: the face, then the
    baseline; insertion: the reverse), so those two go through the model once, and only the
    2 * (steps-1) images in between of every order do, in chunks of ``batch_size``.
    """
    images = [x, base]
    for order in orders:
        m = _masks(order, tuple(x.shape[-2:]), steps)[1:-1].to(x.device)  # the steps strictly in between
        images.append(torch.where(m, base, x))  # (steps-1, C, H, W): chosen pixels replaced by the baseline
        images.append(torch.where(m, x, base))  # the baseline with the chosen pixels put back
    probs = _probs(forward, torch.cat(images), target, batch_size)
    p_face, p_base = probs[:2]
    inner = probs[2:].reshape(len(orders), 2, steps - 1)
    return [(np.concatenate([[p_face], p[0], [p_base]]), np.concatenate([[p_base], p[1], [p_face]]))
            for p in inner]


def _curve(probs: np.ndarray) -> Curve:
    fractions = np.linspace(0.0, 1.0, probs.size)
    return Curve(fractions, probs, float(np.trapezoid(probs, fractions)))


def random_curves(loaded_or_model: LoadedModel | nn.Module, face_tensor: torch.Tensor,
                  target: int | None = None, *, steps: int = 20, baseline: str = "blur", repeats: int = 3,
                  seed: int = 0, batch_size: int = 64) -> tuple[Curve, Curve]:
    """Deletion and insertion curves of random pixel orders (``repeats`` of them, averaged).

    They depend on the face, the class, the baseline and the seed only, not on any map: compute them
    once and pass them to :func:`deletion_insertion` (``random=``) for every map of the same face.

    Returns
    -------
    (Curve, Curve)
        Deletion, insertion.
    """
    model, x = model_of(loaded_or_model), face_batch(face_tensor)
    if steps < 1 or repeats < 1:
        raise ValueError("steps and random_repeats must be at least 1")
    target = predicted_class(model, x) if target is None else int(target)
    rng = np.random.default_rng([seed, 1])  # its own stream: the map's tie-breaking does not shift it
    size = int(x.shape[-1] * x.shape[-2])
    curves = _curves(_forward(loaded_or_model), x, baseline_image(x, baseline),
                     [rng.permutation(size) for _ in range(repeats)], steps, target, batch_size)
    return (_curve(np.mean([c[0] for c in curves], axis=0)), _curve(np.mean([c[1] for c in curves], axis=0)))


def deletion_insertion(loaded_or_model: LoadedModel | nn.Module, face_tensor: torch.Tensor,
                       attribution: np.ndarray, target: int | None = None, *, steps: int = 20,
                       baseline: str = "blur", random_repeats: int = 3, seed: int = 0,
                       batch_size: int = 64, random: tuple[Curve, Curve] | None = None) -> Faithfulness:
    """Deletion / insertion curves of one (S, S) map for one face, with the random-order baseline.

    Parameters
    ----------
    loaded_or_model : LoadedModel or nn.Module
        The model (only read: forward passes under ``no_grad``).
    face_tensor : (C, S, S) or (1, C, S, S) tensor
        The preprocessed face.
    attribution : (S, S) ndarray
        The map; larger values are removed/inserted first.
    target : int, optional
        Class whose probability is followed; None: the predicted class.
    steps : int
        Number of steps (S+1 points from 0 to 100% of the pixels).
    baseline : str
        'blur' (Gaussian, sigma 5 px) or 'mean' (the image's mean value).
    random_repeats : int
        Random orders averaged for the baseline AUCs (seeded by ``seed``).
    batch_size : int
        Images per forward pass.
    random : (Curve, Curve), optional
        The random-order curves from :func:`random_curves` for the same face, class, steps and baseline;
        computed here when not given.

    Returns
    -------
    Faithfulness
    """
    model, x = model_of(loaded_or_model), face_batch(face_tensor)
    attribution = np.asarray(attribution)
    if attribution.shape != tuple(x.shape[-2:]):
        raise ValueError(f"attribution shape {attribution.shape} "
                         f"does not match the face {tuple(x.shape[-2:])}")
    if steps < 1 or random_repeats < 1:
        raise ValueError("steps and random_repeats must be at least 1")
    target = predicted_class(model, x) if target is None else int(target)
    if random is None:
        random = random_curves(loaded_or_model, x, target, steps=steps, baseline=baseline,
                               repeats=random_repeats, seed=seed, batch_size=batch_size)
    elif any(c.probs.size != steps + 1 for c in random):
        raise ValueError(f"the random-order curves have {random[0].probs.size - 1} steps, not {steps}")
    order = _pixel_order(attribution, np.random.default_rng(seed))
    [(dele, ins)] = _curves(_forward(loaded_or_model), x, baseline_image(x, baseline), [order], steps, target,
                            batch_size)
    return Faithfulness(target, baseline, _curve(dele), _curve(ins), *random)


# --------------------------------------------------------------------------------------------------
# Model-randomisation sanity check
# --------------------------------------------------------------------------------------------------


@dataclass
class SanityCheck:
    """The maps of one method for the trained model and for a randomised copy, and how alike they are.

    Attributes
    ----------
    trained, randomised : (S, S) ndarray
        The two maps.
    correlation : float
        Spearman rank correlation of their absolute values.
    passes : bool
        ``|correlation| < threshold`` (the map depends on what the model learned).
    """

    method: str
    target: int
    trained: np.ndarray
    randomised: np.ndarray
    correlation: float
    threshold: float

    @property
    def passes(self) -> bool:
        return bool(abs(self.correlation) < self.threshold)

    def summary(self) -> str:
        """One line: the rank correlation and the threshold it is judged by."""
        return (f"Spearman rank correlation {self.correlation:.2f} between |map| with trained and with "
                f"randomised weights ({'below' if self.passes else 'not below'} {self.threshold:g}: "
                f"the map {'depends' if self.passes else 'does not clearly depend'} "
                "on what the model learned)")


@torch.no_grad()
def randomised_copy(model: nn.Module, seed: int = 0) -> nn.Module:
    """A private copy whose every parameter tensor is redrawn from N(its mean, its std).

    Keeping each tensor's scale keeps the activations in range; constant tensors (a BatchNorm or
    LayerNorm weight still at 1) are kept. A private ``torch.Generator`` makes it reproducible and
    thread-safe (torch's global generator is never touched).
    """
    twin = private_copy(model)
    gen = torch.Generator().manual_seed(seed)
    for p in twin.parameters():
        std = float(p.std()) if p.numel() > 1 else 0.0
        if std > 0:
            noise = torch.randn(p.shape, generator=gen, dtype=p.dtype).to(p.device)
            p.copy_(noise * std + p.mean())
    return twin


def sanity_check(loaded_or_model: LoadedModel | nn.Module, face_tensor: torch.Tensor, method: str,
                 target: int | None = None, *, seed: int = 0, threshold: float = 0.5,
                 trained: np.ndarray | None = None, **options) -> SanityCheck:
    """Compare ``method``'s map for the trained model with the map for a randomised-weights copy.

    Parameters
    ----------
    loaded_or_model : LoadedModel or nn.Module
        The model (only read; the randomised one is a private copy).
    face_tensor : (C, S, S) or (1, C, S, S) tensor
        The preprocessed face.
    method : str
        A key of :data:`ferviz.explain.attributions.METHODS`.
    target : int, optional
        Class to explain; None: the predicted class.
    seed : int
        Seed of the weight randomisation.
    threshold : float
        A rule of thumb (0.5), not a test statistic: Adebayo et al. show maps of methods that pass
        staying well below it once the weights are random.
    trained : (S, S) ndarray, optional
        The trained model's map of ``method`` for this face and ``target`` when already computed (it
        is then not computed again).
    **options
        Method settings, passed to :func:`ferviz.explain.attributions.attribute`.

    Returns
    -------
    SanityCheck
    """
    model, x = model_of(loaded_or_model), face_batch(face_tensor)
    target = predicted_class(model, x) if target is None else int(target)
    if trained is None:
        trained = attribute(model, x, method, target, **options)
    elif np.shape(trained) != tuple(x.shape[-2:]):
        raise ValueError(f"the trained map has shape {np.shape(trained)}, not {tuple(x.shape[-2:])}")
    randomised = attribute(randomised_copy(model, seed), x, method, target, **options)
    a, b = np.abs(trained).ravel(), np.abs(randomised).ravel()
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        rho = 0.0  # a constant map (e.g. Grad-CAM all zero after its ReLU) has no rank order
    else:
        rho = spearmanr(a, b).statistic
        rho = 0.0 if not np.isfinite(rho) else float(rho)
    log.info("sanity check %s: Spearman %.3f between trained and randomised maps", method, rho)
    return SanityCheck(method, target, trained, randomised, rho, threshold)
