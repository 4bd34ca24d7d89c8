"""A face's attention or fused map from the torch model, for the Live overlay (loads ferviz.explain on use)."""

from __future__ import annotations

import numpy as np

from ferviz.model.checkpoint import LoadedModel

OVERLAYS = ("none", "attention", "fused")  # what is laid over each face


def unit(heat: np.ndarray) -> np.ndarray:
    """``heat`` scaled to [0, 1] (all zeros when it is flat)."""
    lo, hi = float(heat.min()), float(heat.max())
    return (heat - lo) / (hi - lo) if hi > lo else np.zeros_like(heat)


def face_map(loaded: LoadedModel, crop: np.ndarray, overlay: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Probabilities and the (S, S) map of one model-input crop, in [0, 1] (None: the model has no such map).

    Parameters
    ----------
    loaded : LoadedModel
        The model (its torch network: the attention is read from its layers).
    crop : (S, S) uint8 ndarray
        What the model sees (:func:`ferviz.pipeline.crop.model_crops`).
    overlay : {"attention", "fused"}
        The spatial attention each position received (last attention layer, mean over groups), or the
        fused map (ILM output).
    """
    # imported on first use: ferviz.explain also loads Captum, which the plain live path never needs
    from ferviz.explain.attention import face_attention, received_map, token_map

    aset = face_attention(loaded, crop)
    try:
        heat = received_map(aset, aset.n_layers - 1) if overlay == "attention" else token_map(aset, "fused")
    except (ValueError, KeyError):
        return aset.probs, None
    return aset.probs, unit(np.asarray(heat, dtype=np.float32))
