"""What the dual-attention model looked at, for one face, as plain arrays (docs/DESIGN.md §3-5).

Everything comes from :meth:`FERNet.forward_with_attention`, which returns the intermediates without
hooks, so the shared cached model is only read. Maps on the C3 grid (H x W, 9 x 9 for ``valid``
padding) are stretched over the 64 x 64 face with bilinear interpolation, the same convention as
Grad-CAM: grid cell (r, c) covers pixels ``[r * 64/H, (r + 1) * 64/H)``. This is a coarse guide: a C3
cell of the ``valid`` model is centred on pixel ``4r + 15.5`` and sees about 44 pixels around it.

With self-attention distillation (eqs. 17-18) the spatial keys and values are 2x2 max-pooled, so an
attention row has ``ceil(H/2) * ceil(W/2)`` entries, one per *pooled key cell*; maps of the keys are
drawn by giving each of the (up to) 2 x 2 grid cells under a pooled cell that cell's weight.

The ``*_cells`` functions give the same maps on the token grid itself (no interpolation), for drawing
one block per token over the face; their values are key weights, so uniform attention is
``1 / n_keys(aset, layer)`` everywhere (:func:`attention_spread` says how far a row is from that).
:func:`not_analysable` says why a face is too small or too flat to explain.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ferviz.data.preprocess import faces_to_tensor
from ferviz.errors import CheckpointError
from ferviz.model.checkpoint import LoadedModel, load_checkpoint, read_checkpoint
from ferviz.model.network import FERNet, ForwardTrace, ModelConfig
from ferviz.paths import MODELS_DIR

log = logging.getLogger(__name__)
FACE_SIZE = 64


@dataclass
class AttentionSet:
    """The attention of one face, every layer and group, as NumPy arrays.

    Attributes
    ----------
    grid : (int, int)
        (H, W) of the C3 map; N = H * W query tokens.
    key_grids : list of (int, int)
        Per layer, the (H_k, W_k) grid of the keys: (H, W), or (ceil(H/2), ceil(W/2)) after
        distillation.
    spatial : list of ndarray
        Per layer, (R_g, N, N_k) float; each row (one query) sums to 1 (Alg. 1 step 6).
    channel : list of ndarray
        Per layer, (G_w, CH_w, CH_w) float; each row sums to 1 (eq. 15).
    token_maps : dict of str to ndarray
        Name -> (H, W) map of the L2 norm over channels of each token: ``tokens`` (C3),
        ``bilstm`` (eq. 12, the directions summed), ``bilstm forward``, ``bilstm backward`` (when the
        recurrence is bidirectional), ``fused`` (ILM output, eq. 19).
    probs : (classes,) ndarray
        Softmax of the logits (eq. 20).
    distilled : bool
        True when the spatial keys are pooled (distillation on).
    notes : list of str
        Sentences for the reader (distillation, bypassed modules, ...).
    """

    grid: tuple[int, int]
    key_grids: list[tuple[int, int]]
    spatial: list[np.ndarray]
    channel: list[np.ndarray]
    token_maps: dict[str, np.ndarray]
    probs: np.ndarray
    distilled: bool
    notes: list[str] = field(default_factory=list)

    @property
    def n_layers(self) -> int:
        return max(len(self.spatial), len(self.channel))


def face_input(loaded: LoadedModel, crop: np.ndarray) -> torch.Tensor:
    """(64, 64) uint8 face crop -> (1, C, 64, 64) model input, per the checkpoint's preprocessing."""
    crop = np.asarray(crop)
    if crop.ndim != 2:
        raise ValueError(f"expected one (H, W) grayscale face crop, got shape {crop.shape}")
    return faces_to_tensor(crop, loaded.preprocessing)


MIN_FACE_SIDE = 16  # a face region smaller than this (in the picture's pixels) is only blur at 64x64


def not_analysable(crop: np.ndarray, region: tuple[int, int] | None = None) -> str | None:
    """Why a face cannot be explained, as a sentence for the reader; None when it can.

    Parameters
    ----------
    crop : (S, S) uint8 ndarray
        The face crop the model saw.
    region : (int, int), optional
        (width, height) of the face region in the picture, before it was resized to the crop: a region
        under :data:`MIN_FACE_SIDE` pixels on a side is an enlarged blur with nothing to explain.

    Returns
    -------
    str or None
    """
    crop = np.asarray(crop)
    if crop.ndim != 2 or min(crop.shape) < 1:
        return f"The face crop has shape {crop.shape}; a 2-D grayscale crop is needed."
    if region is not None and min(region) < MIN_FACE_SIDE:
        return (f"The face region is only {region[0]}x{region[1]} pixels; at least {MIN_FACE_SIDE}x"
                f"{MIN_FACE_SIDE} are needed for maps that mean anything. Choose a larger picture.")
    if int(crop.max()) == int(crop.min()):
        return "The face crop is one flat grey: it has no edges or shading to explain."
    return None


def _norm_map(tokens: torch.Tensor, grid: tuple[int, int]) -> np.ndarray:
    """(N, C) tokens -> (H, W) L2 norm over channels."""
    return tokens.norm(dim=-1).reshape(grid).float().numpy()


def attention_from_trace(trace: ForwardTrace, index: int = 0) -> AttentionSet:
    """Pick face ``index`` of a batch trace and convert it to an :class:`AttentionSet`."""
    grid = tuple(trace.grid)
    spatial = [a[index].float().numpy() for a in trace.spatial]  # (R_g, N, N_k)
    key_grids = []
    for a in spatial:
        n_k = a.shape[-1]
        pooled = (math.ceil(grid[0] / 2), math.ceil(grid[1] / 2))
        key_grids.append(grid if n_k == grid[0] * grid[1] else pooled)
    maps = {"tokens": _norm_map(trace.tokens[index], grid), "bilstm": _norm_map(trace.lstm[index], grid)}
    if trace.lstm_directions is not None:
        maps["bilstm forward"] = _norm_map(trace.lstm_directions[index, :, 0], grid)
        maps["bilstm backward"] = _norm_map(trace.lstm_directions[index, :, 1], grid)
    maps["fused"] = _norm_map(trace.fused[index], grid)
    distilled = any(kg != grid for kg in key_grids)
    notes = []
    if distilled:
        notes.append(f"Distillation pools the spatial keys to a {key_grids[0][0]}x{key_grids[0][1]} grid: "
                     f"each key covers up to 2x2 of the {grid[0]}x{grid[1]} query positions.")
    return AttentionSet(grid=grid, key_grids=key_grids, spatial=spatial,
                        channel=[a[index].float().numpy() for a in trace.channel], token_maps=maps,
                        probs=torch.softmax(trace.logits[index], dim=-1).float().numpy(),
                        distilled=distilled, notes=notes)


def model_attention(model: FERNet, x: torch.Tensor) -> AttentionSet:
    """Attention of one preprocessed face ``x`` (1, C, 64, 64); the model is only read (no hooks)."""
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(f"expected one face as a (1, C, 64, 64) tensor, got shape {tuple(x.shape)}")
    return attention_from_trace(model.forward_with_attention(x))


def face_attention(loaded: LoadedModel, crop: np.ndarray) -> AttentionSet:
    """Attention of a (64, 64) uint8 face crop under a loaded checkpoint."""
    return model_attention(loaded.model, face_input(loaded, crop))


# --------------------------------------------------------------------------------------------------
# From token weights to pictures
# --------------------------------------------------------------------------------------------------


def expand_keys(key_map: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """(H_k, W_k) weights of (possibly pooled) keys -> (H, W): every grid cell gets its key's weight."""
    key_map = np.asarray(key_map)
    if key_map.shape == tuple(grid):
        return key_map
    fy, fx = math.ceil(grid[0] / key_map.shape[0]), math.ceil(grid[1] / key_map.shape[1])
    return np.repeat(np.repeat(key_map, fy, axis=0), fx, axis=1)[: grid[0], : grid[1]]


def upsample(grid_map: np.ndarray, size: int = FACE_SIZE) -> np.ndarray:
    """(H, W) or (K, H, W) map on the C3 grid -> (size, size) or (K, size, size), bilinear.

    Bilinear weights are convex, so a non-negative map stays non-negative.
    """
    arr = torch.as_tensor(np.asarray(grid_map, dtype=np.float32))
    batch = arr if arr.ndim == 3 else arr[None]
    out = F.interpolate(batch[:, None], size=(size, size), mode="bilinear", align_corners=False)[:, 0]
    return (out if arr.ndim == 3 else out[0]).numpy()


def grid_to_pixel(grid: tuple[int, int], row: int, col: int, size: int = FACE_SIZE) -> tuple[float, float]:
    """Centre (x, y) of grid cell (row, col) on the face, in pixel-index units (pixel i centred at i)."""
    return (col + 0.5) * size / grid[1] - 0.5, (row + 0.5) * size / grid[0] - 0.5


def _spatial(aset: AttentionSet, layer: int) -> np.ndarray:
    if not aset.spatial:
        raise ValueError("this model has no spatial attention branch (attention='channel' or 'none')")
    if not 0 <= layer < len(aset.spatial):
        raise ValueError(f"layer {layer} out of range: the model has {len(aset.spatial)} attention layers")
    return aset.spatial[layer]


def _pick_group(a: np.ndarray, group: int | None) -> np.ndarray:
    """(G, ...) -> (...) for one group, or the mean over groups when ``group`` is None."""
    if group is None:
        return a.mean(axis=0)
    if not 0 <= group < a.shape[0]:
        raise ValueError(f"group {group} out of range: there are {a.shape[0]} groups")
    return a[group]


def received_weights(aset: AttentionSet, layer: int, group: int | None = None) -> np.ndarray:
    """(H_k, W_k) attention each key received, averaged over all N queries; sums to 1."""
    a = _pick_group(_spatial(aset, layer), group)  # (N, N_k)
    return a.mean(axis=0).reshape(aset.key_grids[layer])


def query_weights(aset: AttentionSet, layer: int, row: int, col: int, group: int | None = None) -> np.ndarray:
    """(H_k, W_k) where the query at grid cell (row, col) attends; sums to 1 (one softmax row)."""
    h, w = aset.grid
    if not (0 <= row < h and 0 <= col < w):
        raise ValueError(f"query ({row}, {col}) is outside the {h}x{w} grid")
    a = _pick_group(_spatial(aset, layer), group)  # (N, N_k)
    return a[row * w + col].reshape(aset.key_grids[layer])


def received_map(aset: AttentionSet, layer: int, group: int | None = None) -> np.ndarray:
    """(64, 64) non-negative map of the attention received, on the face (see :func:`received_weights`)."""
    return upsample(expand_keys(received_weights(aset, layer, group), aset.grid))


def query_map(aset: AttentionSet, layer: int, row: int, col: int, group: int | None = None) -> np.ndarray:
    """(64, 64) map of where query (row, col) attends, on the face (see :func:`query_weights`)."""
    return upsample(expand_keys(query_weights(aset, layer, row, col, group), aset.grid))


def group_maps(aset: AttentionSet, layer: int, query: tuple[int, int] | None = None) -> np.ndarray:
    """(R_g, 64, 64): per group, the received map, or where ``query`` = (row, col) attends."""
    groups = range(_spatial(aset, layer).shape[0])
    if query is None:
        return np.stack([received_map(aset, layer, g) for g in groups])
    return np.stack([query_map(aset, layer, query[0], query[1], g) for g in groups])


def channel_matrix(aset: AttentionSet, layer: int, group: int | None = None) -> np.ndarray:
    """(CH_w, CH_w) channel attention of one group (or the group mean); row i: how channel i mixes others."""
    if not 0 <= layer < len(aset.channel):
        raise ValueError(f"layer {layer} out of range: "
                         f"the model has {len(aset.channel)} channel-attention layers")
    return _pick_group(aset.channel[layer], group)


def n_keys(aset: AttentionSet, layer: int) -> int:
    """N_k, the number of keys each query of ``layer`` spreads its weight over (uniform: 1/N_k each)."""
    return int(_spatial(aset, layer).shape[-1])


def received_cells(aset: AttentionSet, layer: int, group: int | None = None) -> np.ndarray:
    """(H, W) attention received, on the token grid: every token under a pooled key shows that key's weight.

    The values are key weights, so the uniform level is ``1 / n_keys(aset, layer)``.
    """
    return expand_keys(received_weights(aset, layer, group), aset.grid)


def query_cells(aset: AttentionSet, layer: int, row: int, col: int, group: int | None = None) -> np.ndarray:
    """(H, W) where query (row, col) attends, on the token grid (see :func:`received_cells`)."""
    return expand_keys(query_weights(aset, layer, row, col, group), aset.grid)


def group_cells(aset: AttentionSet, layer: int, query: tuple[int, int] | None = None) -> np.ndarray:
    """(R_g, H, W): per group, the received attention or where ``query`` = (row, col) attends, on the grid."""
    groups = range(_spatial(aset, layer).shape[0])
    if query is None:
        return np.stack([received_cells(aset, layer, g) for g in groups])
    return np.stack([query_cells(aset, layer, query[0], query[1], g) for g in groups])


def attention_spread(weights: np.ndarray) -> tuple[float, float]:
    """How far a set of attention weights (summing to 1) is from uniform.

    Returns
    -------
    peak : float
        The largest weight divided by the uniform weight 1/N: 1 for uniform attention, N when all the
        weight is on one entry.
    entropy : float
        Shannon entropy divided by log N, in [0, 1]: 1 for uniform attention, 0 for a single entry.
    """
    w = np.asarray(weights, dtype=np.float64).ravel()
    if w.size < 2:
        return 1.0, 1.0
    w = w / w.sum()
    nz = w[w > 0]
    return float(w.max() * w.size), float(-(nz * np.log(nz)).sum() / np.log(w.size))


def attention_shift(a: np.ndarray, b: np.ndarray) -> float:
    """The share of attention that sits elsewhere in ``b`` than in ``a``: total variation distance, in [0, 1].

    Both maps (any shape, non-negative, e.g. :func:`received_cells` on the token grid) are normalised to
    sum to 1; the result is ``0.5 * sum |a - b|``: 0 for the same map, 1 when they share no place.
    """
    p = np.asarray(a, dtype=np.float64).ravel()
    q = np.asarray(b, dtype=np.float64).ravel()
    if p.shape != q.shape:
        raise ValueError(f"maps of {p.size} and {q.size} cells cannot be compared")
    p, q = p / max(p.sum(), 1e-12), q / max(q.sum(), 1e-12)
    return float(0.5 * np.abs(p - q).sum())


def token_map(aset: AttentionSet, name: str) -> np.ndarray:
    """(64, 64) upsampled token-norm map; ``name`` is a key of ``aset.token_maps``."""
    if name not in aset.token_maps:
        raise KeyError(f"no token map {name!r}; available: {', '.join(aset.token_maps)}")
    return upsample(aset.token_maps[name])


# --------------------------------------------------------------------------------------------------
# Ablations: the same face through the model with cross-fusion or distillation switched off
# --------------------------------------------------------------------------------------------------


@dataclass
class AblationView:
    """One model of the side-by-side comparison.

    Attributes
    ----------
    name : str
        'full', 'no_cross_fusion' or 'no_distill'.
    title : str
        For display.
    source : str
        How its weights were obtained ('the loaded checkpoint', 'same weights', 'same weights,
        distillation modules bypassed', or 'trained checkpoint <file>').
    attention : AttentionSet
        Its attention for the face.
    """

    name: str
    title: str
    source: str
    attention: AttentionSet


@dataclass
class Ablations:
    """Every applicable view (the full model first) and why any ablation was left out."""

    views: list[AblationView]
    skipped: list[str] = field(default_factory=list)


def _trained_variant(loaded: LoadedModel, cfg: ModelConfig, models_dir: Path) -> LoadedModel | None:
    """A checkpoint in ``models_dir`` with config exactly ``cfg`` and the same labels and preprocessing."""
    for path in sorted(Path(models_dir).glob("*.pt")):
        if path.resolve() == Path(loaded.path).resolve():
            continue
        try:
            data = read_checkpoint(path)
            if (ModelConfig.from_dict(data["config"]) == cfg and list(data["labels"]) == loaded.labels
                    and data["preprocessing"] == loaded.preprocessing.to_dict()):
                return load_checkpoint(path)
        except (CheckpointError, ValueError, TypeError) as exc:
            log.warning("skipping %s while looking for a trained ablation: %s", path.name, exc)
    return None


def _same_weights(model: FERNet, cfg: ModelConfig) -> tuple[FERNet, list[str]]:
    """A fresh eval-mode model for ``cfg`` holding ``model``'s weights; returns the keys it had no use for."""
    twin = FERNet(cfg)
    result = twin.load_state_dict(model.state_dict(), strict=False)
    if result.missing_keys:
        raise ValueError(f"the ablated model needs weights the checkpoint lacks: {result.missing_keys[:3]}")
    return twin.eval(), list(result.unexpected_keys)


def ablation_views(loaded: LoadedModel, crop: np.ndarray, *, models_dir: str | Path | None = None,
                   prefer_trained: bool = True) -> Ablations:
    """The face's attention under the loaded model and under its cross-fusion / distillation ablations.

    Cross-fusion (eq. 16) only chooses which key projection each branch uses, so 'no_cross_fusion' runs
    the very same weights.

    Parameters
    ----------
    loaded : LoadedModel
        The (shared, read-only) model; the ablated models are new objects, never the shared one.
    crop : (64, 64) uint8 ndarray
        The face crop.
    models_dir : str or Path, optional
        Where to look for a separately trained ``no_distill`` checkpoint (default ``models/``).
    prefer_trained : bool
        Use such a checkpoint when one matches; otherwise the distillation modules of the loaded
        weights are *bypassed* (loaded with ``strict=False``: K and V skip the distillation
        convolutions and the V residual of eq. 18 is gone), which shows what those modules contribute
        to this model, not what a model trained without them would do.

    Returns
    -------
    Ablations
        The full model's view first, then each applicable ablation; ``skipped`` says why any is missing.
    """
    cfg, x = loaded.model.cfg, face_input(loaded, crop)
    views = [AblationView("full", "as trained", "the loaded checkpoint", model_attention(loaded.model, x))]
    skipped = []
    if cfg.attention == "dual" and cfg.n_layers >= 2 and cfg.cross_fusion:
        twin, _ = _same_weights(loaded.model, replace(cfg, cross_fusion=False))
        views.append(AblationView("no_cross_fusion", "without cross-fusion", "same weights",
                                  model_attention(twin, x)))
    else:
        skipped.append("no cross-fusion: the model has no cross-fusion to switch off "
                       "(it needs dual attention with at least 2 layers)")
    if cfg.attention != "none" and cfg.distill:
        ablated = replace(cfg, distill=False)
        trained = _trained_variant(loaded, ablated, models_dir or MODELS_DIR) if prefer_trained else None
        if trained is not None:
            aset = model_attention(trained.model, x)
            source = f"trained checkpoint {trained.path.name}"
        else:
            twin, unused = _same_weights(loaded.model, ablated)
            aset = model_attention(twin, x)
            source = "same weights, distillation modules bypassed"
            aset.notes.append(f"The checkpoint's {len(unused)} distillation weight tensors are left out and "
                              "every other weight is used unchanged; no model was trained this way.")
        views.append(AblationView("no_distill", "without distillation", source, aset))
    else:
        skipped.append("no distillation: the model has no distillation to switch off")
    return Ablations(views, skipped)
