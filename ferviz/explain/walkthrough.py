"""One face through every stage of the model, with the tensor shape at each step (docs/DESIGN.md §1-5).

:func:`walkthrough` returns a list of :class:`Stage`; each carries the true shape of the tensor at that
point (batch of 1 included), a small array to draw, a one-sentence summary, a caption naming the paper's
equation, the part of the model it belongs to and the unit of its values. Maps on the token grid
(kind 'grid') are meant to be drawn over the face they come from. The model is only read: every value
comes from :meth:`FERNet.forward_with_attention` (no hooks).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ferviz.explain.attention import attention_from_trace, face_input, received_cells
from ferviz.model.checkpoint import LoadedModel

KINDS = ("image", "maps", "grid", "channels", "matrix", "vector")
PARTS = ("Input and convolutions", "Tokens and BiLSTM", "Dual attention", "Fusion and classifier")
N_MAPS = 6  # feature maps shown per convolution stage


@dataclass(frozen=True)
class Stage:
    """One step of the forward pass.

    Attributes
    ----------
    name : str
        Short title.
    shape : tuple of int
        The tensor's shape, batch first.
    kind : str
        How to draw ``array``: 'image' (C, h, w) input planes in gray, 'maps' (K, h, w) small
        heatmaps, 'grid' (K, H, W) maps on the token grid (to be drawn over the face), 'channels'
        (G, CH, CH) channel attention matrices, 'matrix' (r, c) heatmap, 'vector' (n,) bars.
    array : ndarray
        What to draw.
    caption : str
        What happens here, with the equation.
    titles : tuple of str
        One per map (kinds 'image', 'maps', 'grid', 'channels') or per bar (kind 'vector', e.g. class
        names); may be empty.
    summary : str
        One sentence: what this stage does.
    part : str
        One of :data:`PARTS`.
    unit : str
        What a value of ``array`` is (colour bar or axis title).
    n_uniform : int or None
        For attention weights over N entries: N (uniform attention gives 1/N to each).
    """

    name: str
    shape: tuple[int, ...]
    kind: str
    array: np.ndarray
    caption: str
    titles: tuple[str, ...] = ()
    summary: str = ""
    part: str = PARTS[0]
    unit: str = ""
    n_uniform: int | None = None


def _strongest(maps: torch.Tensor, k: int = N_MAPS) -> tuple[np.ndarray, tuple[str, ...]]:
    """(C, h, w) -> the k channels with the largest mean activation, and their titles."""
    idx = maps.mean(dim=(1, 2)).argsort(descending=True)[:k]
    return maps[idx].numpy(), tuple(f"channel {int(i)}" for i in idx)


def _conv_stages(trace, x, input_mode: str) -> list[Stage]:
    planes = x[0].numpy()
    names = {"gray": ("gray",), "hog": ("HOG image",), "gray+hog": ("gray", "HOG image")}.get(input_mode, ())
    plane_titles = (names if len(names) == planes.shape[0]
                    else tuple(f"plane {i}" for i in range(planes.shape[0])))
    stages = [Stage("input", tuple(x.shape), "image", planes,
                    f"The face detected, cropped to 64x64 and made into the '{input_mode}' input "
                    "(§1; HOG: eqs. 1-8), normalised as (x/255 - mean)/std.", plane_titles,
                    "The face becomes the network's input: 64x64 grey levels, centred and scaled.",
                    PARTS[0], "normalised grey level")]
    texts = {"C1": "conv 5x5 -> BN -> ReLU (eqs. 9-11); S1 then max-pools 2x2.",
             "C2": "S1 output -> conv 5x5 -> BN -> ReLU (eqs. 9-11); S2 then max-pools 2x2.",
             "C3": "S2 output -> conv 5x5 -> BN -> ReLU, the last feature map (eqs. 9-11); "
                   "its grid is the token grid."}
    summaries = {"C1": "{c} filters of 5x5 pixels each respond to a simple pattern (edges, spots).",
                 "C2": "{c} filters combine the pooled C1 maps into larger parts.",
                 "C3": "{c} filters describe regions of the face; each cell of this {h}x{w} grid becomes "
                       "one token."}
    for name, m in zip(texts, (trace.conv1, trace.conv2, trace.conv3), strict=True):
        arr, titles = _strongest(m[0])
        summary = summaries[name].format(c=m.shape[1], h=m.shape[2], w=m.shape[3])
        kind = "grid" if name == "C3" else "maps"  # C3's grid is the token grid: drawn over the face
        stages.append(Stage(name, tuple(m.shape), kind, arr,
                            f"{texts[name]} Shown: the {len(arr)} most active of {m.shape[1]} maps.", titles,
                            summary, PARTS[0], "activation (after ReLU)"))
    return stages


def _sequence_stages(trace, aset) -> list[Stage]:
    h, w = trace.grid
    n, c = trace.tokens.shape[1:]
    stages = [Stage("tokens", tuple(trace.tokens.shape), "matrix", trace.tokens[0].numpy(),
                    f"C3 read as a sequence of N = {h}x{w} = {n} tokens of C = {c} channels, raster order "
                    "(rows: tokens, columns: channels).", (),
                    f"The C3 map is read row by row as a sequence of {n} tokens of {c} numbers each.",
                    PARTS[1], "activation")]
    if trace.lstm_directions is not None:
        arr = np.stack([aset.token_maps["bilstm forward"], aset.token_maps["bilstm backward"],
                        aset.token_maps["bilstm"]])
        stages.append(Stage("BiLSTM", tuple(trace.lstm_directions.shape), "grid", arr,
                            "Forward and backward LSTMs over the tokens, hidden size C; their outputs are "
                            f"summed, PV = PV_fwd + PV_bwd (eq. 12), giving {tuple(trace.lstm.shape)}. "
                            "Shown: each token's L2 norm, over the part of the face the token comes from.",
                            ("forward", "backward", "sum"),
                            "Two LSTMs read the token sequence in both directions, so every token carries "
                            "context from the whole face.", PARTS[1], "L2 norm of the token"))
    elif trace.lstm is not trace.tokens:
        stages.append(Stage("LSTM", tuple(trace.lstm.shape), "grid", aset.token_maps["bilstm"][None],
                            "A unidirectional LSTM over the tokens (no eq. 12 sum). Shown: token norms.",
                            ("LSTM",), "One LSTM reads the token sequence from first to last.", PARTS[1],
                            "L2 norm of the token"))
    return stages


def _spatial_stage(aset, layer: int, s_attn: torch.Tensor) -> Stage:
    maps = np.stack([received_cells(aset, layer, g) for g in range(s_attn.shape[1])])
    kh, kw = aset.key_grids[layer]
    pooled = (f" Keys are distilled and pooled to {kh}x{kw} (eqs. 17-18): the tokens under one key show "
              "its weight." if aset.distilled else "")
    cross = " Keys come from the channel branch (cross-fusion, eq. 16)." if layer > 0 else ""
    return Stage(f"layer {layer + 1}: spatial attention", tuple(s_attn.shape), "grid", maps,
                 "softmax(Q K^T / sqrt(d)) per group over all positions (Alg. 1, eqs. 13-14). "
                 f"Shown: attention each key received, averaged over queries.{pooled}{cross}",
                 tuple(f"group {g}" for g in range(len(maps))),
                 f"Each of the {s_attn.shape[2]} positions shares its attention among "
                 f"{s_attn.shape[3]} keys, separately in each group, to draw on other parts of the face.",
                 PARTS[2],
                 "attention weight", int(s_attn.shape[3]))


def _channel_stage(layer: int, c_attn: torch.Tensor) -> Stage:
    cross = " Keys come from the spatial branch (cross-fusion, eq. 16)." if layer > 0 else ""
    g, ch = c_attn.shape[1], c_attn.shape[2]
    return Stage(f"layer {layer + 1}: channel attention", tuple(c_attn.shape), "channels", c_attn[0].numpy(),
                 f"softmax(Q^T K / sqrt(N)) between the channels of each group (Alg. 2, eq. 15).{cross}",
                 tuple(f"group {k}: channels {k * ch}–{k * ch + ch - 1}" for k in range(g)),
                 f"Within each of {g} groups of {ch} channels, every channel mixes in the others, "
                 "weighted by how alike they are over the whole face.", PARTS[2], "attention weight", ch)


def _attention_stages(trace, aset) -> list[Stage]:
    """Both branches of every layer, layer by layer (they run in parallel on the same tokens)."""
    stages = []
    for layer in range(aset.n_layers):
        if layer < len(trace.spatial):
            stages.append(_spatial_stage(aset, layer, trace.spatial[layer]))
        if layer < len(trace.channel):
            stages.append(_channel_stage(layer, trace.channel[layer]))
    return stages


def _head_stages(trace, aset, labels) -> list[Stage]:
    probs = torch.softmax(trace.logits[0], dim=-1).numpy()
    names = tuple(labels)
    part = PARTS[3]
    return [
        Stage("fused", tuple(trace.fused.shape), "grid", aset.token_maps["fused"][None],
              "Interactive learning: ILM(S, C) = S * PCP(W_C C + b) + C * PCP(W_S S + b) (eq. 19). "
              "Shown: each fused token's norm, over the part of the face it comes from.", ("fused",),
              "Each branch gates the other (PCP gates), merging the spatial and channel views of "
              "every token.",
              part, "L2 norm of the token"),
        Stage("GAP", tuple(trace.pooled.shape), "vector", trace.pooled[0].numpy(),
              "Global average pooling over the tokens: one value per channel.", (),
              f"Averaging over all {trace.fused.shape[1]} tokens leaves one number per channel.", part,
              "mean over tokens"),
        Stage("FC hidden", tuple(trace.hidden.shape), "vector", trace.hidden[0].numpy(),
              f"Fully connected layer of {trace.hidden.shape[1]} cells with ReLU (Table 2); "
              "dropout is off at test time.", (),
              f"A fully connected layer of {trace.hidden.shape[1]} cells combines the channels.", part,
              "activation (after ReLU)"),
        Stage("logits", tuple(trace.logits.shape), "vector", trace.logits[0].numpy(),
              "The linear classifier's scores, one per class.", names,
              "A linear layer gives one score per expression.", part, "logit"),
        Stage("softmax", tuple(trace.logits.shape), "vector", probs,
              "Probabilities p_k = exp(z_k) / sum_j exp(z_j) (eq. 20); "
              f"prediction: {names[int(probs.argmax())]}.",
              names, "Softmax turns the scores into probabilities that sum to 1.", part, "probability"),
    ]


def walkthrough(loaded: LoadedModel, crop: np.ndarray) -> list[Stage]:
    """Every stage of one (64, 64) uint8 face crop's forward pass, in data-flow order."""
    x = face_input(loaded, crop)  # (1, C, 64, 64)
    trace = loaded.model.forward_with_attention(x)
    aset = attention_from_trace(trace)
    return (_conv_stages(trace, x, loaded.preprocessing.input_mode) + _sequence_stages(trace, aset)
            + _attention_stages(trace, aset) + _head_stages(trace, aset, loaded.labels))
