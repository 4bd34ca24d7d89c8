"""Pixel attributions with Captum, one call shape for every method.

    attribute(loaded_or_model, face_tensor, "integrated_gradients", target=None) -> (64, 64) ndarray

Thread safety: the model behind a Streamlit page is cached and shared by every browser session, and
Captum works by registering hooks (Grad-CAM, the noise tunnel) and by running backward passes. So every
call works on its **own deep copy** of the model (``copy.deepcopy(model).eval()``: about 5 ms for the
1.3M-parameter shipped model); the model passed in never gets a hook, a gradient or any other state,
and concurrent calls cannot see each other's hooks. Gradients are taken in eval mode (dropout off, BN
running statistics), which the LSTM's backward allows on the CPU; on a GPU cuDNN refuses an RNN backward
outside training mode, so cuDNN is switched off for the duration of the call there (a process-wide flag:
not tested here, as this project runs on CPU).

Methods (:data:`METHODS`, keyed by the strings the UI and the tests use):

* ``integrated_gradients`` — Sundararajan et al. 2017; baseline 0 (the mean grey after normalisation),
  16 steps (Gauss-Legendre); signed. Its completeness gap (the map's sum minus the logit difference
  between the face and the baseline, which IG should match) is reported with the map: 16 steps kept it
  near 1 % of that difference on the shipped model, no worse than 32.
* ``saliency`` — |d logit_target / d x| (Simonyan et al. 2014); non-negative.
* ``smoothgrad`` — saliency averaged over 16 noisy copies, noise std 15% of the input range (Smilkov et
  al. 2017), through Captum's ``NoiseTunnel``; non-negative, and random (Captum draws the noise from
  torch's global generator, so two calls differ slightly).
* ``grad_cam`` — Selvaraju et al. 2017 on ``model.last_conv()`` (C3), ReLU'd and bilinearly upsampled
  from the H x W grid to 64 x 64 with ``LayerAttribution.interpolate``; non-negative.
* ``occlusion`` — drop in the target logit when an 8 x 8 window is set to 0 (mean grey), windows side
  by side (stride 8: 64 forward passes; ``stride=4`` gives a smoother map for 3.5x the time)
  (Zeiler & Fergus 2014); signed.

Each map is summed over input channels (one channel for gray, two for gray+hog).
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from captum.attr import (
    IntegratedGradients,
    LayerAttribution,
    LayerGradCam,
    NoiseTunnel,
    Occlusion,
    Saliency,
)
from torch import nn

from ferviz.model.checkpoint import LoadedModel

Runner = Callable[[nn.Module, torch.Tensor, int, dict], torch.Tensor]


@dataclass(frozen=True)
class AttributionMethod:
    """A registered attribution method.

    Attributes
    ----------
    key : str
        The registry key.
    title : str
        For display.
    signed : bool
        True when negative values mean evidence *against* the target (IG, occlusion), False for
        non-negative maps.
    reference : str
        The paper.
    run : callable
        ``run(model_copy, x (1, C, S, S) requiring grad, target, options) -> tensor`` of shape
        (1, C, S, S) or (1, 1, h, w); only ever given a private copy of the model.
    unit : str
        What a value of the map is, for colour bars.
    """

    key: str
    title: str
    signed: bool
    reference: str
    run: Runner
    unit: str = "attribution"


METHODS: dict[str, AttributionMethod] = {}


def register(method: AttributionMethod) -> AttributionMethod:
    """Add a method to :data:`METHODS`; a key that is already taken raises ``ValueError``."""
    if method.key in METHODS:
        raise ValueError(f"attribution method {method.key!r} is already registered; pick another key")
    METHODS[method.key] = method
    return method


def _integrated_gradients(model, x, target, opts):
    ig = IntegratedGradients(model)
    steps = int(opts.get("n_steps", 16))
    return ig.attribute(x, baselines=torch.zeros_like(x), target=target, n_steps=steps,
                        internal_batch_size=int(opts.get("batch_size", steps)))


def _saliency(model, x, target, opts):
    return Saliency(model).attribute(x, target=target, abs=True)


def _smoothgrad(model, x, target, opts):
    samples = int(opts.get("nt_samples", 16))
    stdev = float(opts.get("noise", 0.15)) * float(x.detach().max() - x.detach().min())
    return NoiseTunnel(Saliency(model)).attribute(x, nt_type="smoothgrad", nt_samples=samples,
                                                  nt_samples_batch_size=int(opts.get("batch_size", samples)),
                                                  stdevs=max(stdev, 1e-6), target=target)


def _grad_cam(model, x, target, opts):
    if not hasattr(model, "last_conv"):
        raise ValueError("Grad-CAM needs a model with a last_conv() method (the C3 block of FERNet)")
    cam = LayerGradCam(model, model.last_conv()).attribute(x, target=target, relu_attributions=True)
    return LayerAttribution.interpolate(cam, tuple(x.shape[-2:]), interpolate_mode="bilinear")


def _occlusion(model, x, target, opts):
    c = x.shape[1]
    window, stride = int(opts.get("window", 8)), int(opts.get("stride", 8))
    return Occlusion(model).attribute(x, sliding_window_shapes=(c, window, window),
                                      strides=(c, stride, stride), baselines=0.0, target=target,
                                      perturbations_per_eval=int(opts.get("batch_size", 32)))


register(AttributionMethod("integrated_gradients", "Integrated Gradients", True,
                           "Sundararajan et al., ICML 2017", _integrated_gradients,
                           "logit contribution"))
register(AttributionMethod("saliency", "Saliency", False, "Simonyan et al., ICLR-W 2014", _saliency,
                           "|∂ logit / ∂ pixel|"))
register(AttributionMethod("smoothgrad", "SmoothGrad", False, "Smilkov et al., 2017", _smoothgrad,
                           "mean |∂ logit / ∂ pixel|"))
register(AttributionMethod("grad_cam", "Grad-CAM (C3)", False, "Selvaraju et al., ICCV 2017", _grad_cam,
                           "gradient-weighted C3 activation"))
register(AttributionMethod("occlusion", "Occlusion (8x8 windows)", True, "Zeiler & Fergus, ECCV 2014",
                           _occlusion, "logit drop when covered"))


def model_of(loaded_or_model: LoadedModel | nn.Module) -> nn.Module:
    """The module inside a :class:`LoadedModel`, or the module itself."""
    return loaded_or_model.model if isinstance(loaded_or_model, LoadedModel) else loaded_or_model


def face_batch(face_tensor: torch.Tensor) -> torch.Tensor:
    """(C, S, S) or (1, C, S, S) -> a detached (1, C, S, S) float tensor; anything else raises ValueError."""
    x = torch.as_tensor(face_tensor)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(f"expected one preprocessed face, (C, S, S) or (1, C, S, S), got {tuple(x.shape)}; "
                         "use ferviz.data.preprocess.faces_to_tensor on a (64, 64) crop")
    return x.detach().float()


def private_copy(model: nn.Module) -> nn.Module:
    """A deep, eval-mode copy of ``model``: hooks and backward passes on it never touch the original."""
    return copy.deepcopy(model).eval()


@torch.no_grad()
def predicted_class(loaded_or_model: LoadedModel | nn.Module, face_tensor: torch.Tensor) -> int:
    """Index of the highest logit for one face (read-only forward, safe on the shared model)."""
    return int(model_of(loaded_or_model)(face_batch(face_tensor)).argmax(dim=1).item())


def attribute(loaded_or_model: LoadedModel | nn.Module, face_tensor: torch.Tensor, method: str,
              target: int | None = None, **options) -> np.ndarray:
    """Attribution map of one face for one class.

    Parameters
    ----------
    loaded_or_model : LoadedModel or nn.Module
        A loaded checkpoint or any module mapping (B, C, S, S) to (B, classes) logits; it is only
        read: the method runs on a private deep copy (see the module docstring).
    face_tensor : (C, S, S) or (1, C, S, S) float tensor
        The preprocessed face (``faces_to_tensor``).
    method : str
        A key of :data:`METHODS`.
    target : int, optional
        Class index to explain; None explains the predicted class.
    **options
        Method settings (``n_steps``, ``nt_samples``, ``noise``, ``window``, ``stride``,
        ``batch_size``).

    Returns
    -------
    (S, S) float32 ndarray
        64 x 64 for the shipped models, summed over input channels; see ``METHODS[method].signed``
        for how to read the sign.
    """
    if method not in METHODS:
        raise KeyError(f"unknown attribution method {method!r}; choose one of {', '.join(METHODS)}")
    x = face_batch(face_tensor)
    model = private_copy(model_of(loaded_or_model))
    with torch.no_grad():
        logits = model(x)  # (1, classes)
    if target is None:
        target = int(logits.argmax(dim=1).item())
    elif not 0 <= int(target) < logits.shape[1]:
        raise ValueError(f"target {target} out of range: the model has {logits.shape[1]} classes")
    no_cudnn = torch.backends.cudnn.flags(enabled=False) if x.is_cuda else contextlib.nullcontext()
    with no_cudnn, torch.enable_grad():
        attr = METHODS[method].run(model, x.clone().requires_grad_(True), int(target), options)
    out = attr.detach().sum(dim=1)[0]  # (S, S) or (h, w): summed over input channels
    if out.shape != x.shape[-2:]:
        out = LayerAttribution.interpolate(out[None, None], tuple(x.shape[-2:]), "bilinear")[0, 0]
    return out.cpu().numpy().astype(np.float32)


@dataclass
class Attribution:
    """One method's map for one face and class, and how long it took.

    Attributes
    ----------
    method : str
        The key in :data:`METHODS`.
    target : int
        The class explained.
    heat : (S, S) float32 ndarray
        The map (see :func:`attribute`).
    seconds : float
        Wall-clock time of the computation (private copy and every forward/backward pass included).
    completeness_gap : float or None
        Integrated Gradients only: the map's sum minus (target logit of the face - target logit of the
        baseline); IG's completeness axiom makes it 0 in the limit of many steps, so its size says how
        well the integral converged. None for the other methods.
    """

    method: str
    target: int
    heat: np.ndarray
    seconds: float
    completeness_gap: float | None = None

    @property
    def title(self) -> str:
        """The method's name for display."""
        return METHODS[self.method].title

    @property
    def signed(self) -> bool:
        """Whether negative values mean evidence against the class."""
        return METHODS[self.method].signed

    @property
    def unit(self) -> str:
        """What a value of the map is."""
        return METHODS[self.method].unit


def timed_attribution(loaded_or_model: LoadedModel | nn.Module, face_tensor: torch.Tensor, method: str,
                      target: int | None = None, **options) -> Attribution:
    """:func:`attribute`, timed; ``target`` None explains the predicted class (recorded in the result)."""
    start = time.perf_counter()
    if target is None:
        target = predicted_class(loaded_or_model, face_tensor)
    heat = attribute(loaded_or_model, face_tensor, method, target, **options)
    gap = None
    if method == "integrated_gradients":
        x = face_batch(face_tensor)
        with torch.no_grad():
            logits = model_of(loaded_or_model)(torch.cat([x, torch.zeros_like(x)]))  # face, baseline
        gap = float(heat.sum(dtype=np.float64)) - float(logits[0, target] - logits[1, target])
    return Attribution(method, int(target), heat, time.perf_counter() - start, gap)
