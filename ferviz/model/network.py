"""The DCNN-BiLSTM model with dual (spatial + channel) attention, in data-flow order.

Jayaraman & Mahendran, Sci. Rep. 2025, made concrete by ``docs/DESIGN.md`` (§2-5):

    image (B, in_ch, 64, 64)
      -> DCNN: C1 5x5@32 -> BN -> act -> S1 pool -> C2 5x5@64 -> BN -> act -> S2 pool
               -> C3 5x5@128 -> BN -> act
      -> tokens X (B, N, C), N = H*W (81 for `valid`, 256 for `same` padding)
      -> BiLSTM, forward + backward outputs summed (eq. 12)           (B, N, C)
      -> L dual-attention layers: spatial (R_g groups, N x N or N x N/4) || channel (G_w groups, CH_w x CH_w),
         keys crossed between the branches from layer 2 on (eq. 16), K/V self-distillation (eqs. 17-18)
      -> interactive learning ILM(S, C) = S * PCP(W_C C + b) + C * PCP(W_S S + b)   (eq. 19)
      -> GAP -> FC(300) -> dropout -> 7 logits (softmax gives eq. 20)

``forward(x)`` returns logits only (Captum needs that); ``forward_with_attention(x)`` returns every
intermediate as a :class:`ForwardTrace` without hooks, so the shared cached model is never mutated.
Variants (the full model, the comparison models and the ablations of docs/DESIGN.md §9) are plain
:class:`ModelConfig` values in :data:`VARIANTS`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace

import torch
import torch.nn.functional as F
from torch import nn

# --------------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------------

INPUT_MODES: dict[str, int] = {"gray": 1, "hog": 1, "gray+hog": 2}  # input mode -> channels


@dataclass(frozen=True)
class ModelConfig:
    """Every architectural choice, as data (saved in each checkpoint)."""

    input_mode: str = "gray"  # 'gray' | 'hog' (rendered HOG image, the paper's input) | 'gray+hog'
    image_size: int = 64  # the paper reconstructs faces to 64x64
    channels: tuple[int, int, int] = (32, 64, 128)  # C1, C2, C3 maps (Table 2)
    kernel_size: int = 5  # 5x5 kernels (Table 2)
    padding: str = "valid"  # 'valid' -> 9x9x128 (81 tokens, ~2.5x faster on CPU) | 'same' -> 16x16x128
    separable: bool = False  # depthwise + pointwise C2/C3 (the paper's FLOP reduction)
    conv_dropout: float = 0.1  # dropout after C3 (the paper's "dropout" in the DCNN)
    recurrent: str = "bilstm"  # 'bilstm' (eq. 12, directions summed) | 'lstm' (unidirectional) | 'none'
    scan: str = "raster"  # 'raster': one sequence of H*W tokens | 'rows': the LSTM runs along each row
    attention: str = "dual"  # 'dual' | 'spatial' | 'channel' | 'none'
    n_layers: int = 2  # stacked dual-attention layers; cross-fusion needs >= 2
    spatial_groups: int = 4  # R_g heads of the spatial branch
    channel_groups: int = 4  # G_w groups of CH_w = C / G_w channels
    cross_fusion: bool = True  # eq. 16: layer l+1 swaps keys between the branches
    distill: bool = True  # eqs. 17-18: K/V self-distillation with the V residual
    distill_ratio: int = 4  # r in conv3x3 (C -> C/r) -> conv3x3 (C/r -> C)
    gate_activation: str = "pcp"  # ILM gate: 'pcp' (eq. 19) | 'relu' | 'gelu' (ablations)
    pcp_knot: float = 1.0  # a: PCP is linear outside [-a, a]
    pcp_alpha: float = 0.1  # left slope (leaky part); > 0 means no dead zone
    pcp_learnable_scale: bool = True  # PCP's third degree of freedom: a per-channel output scale
    fc_hidden: int = 300  # Table 2: 300 fully connected cells
    dropout: float = 0.5  # before the classifier
    num_classes: int = 7

    def __post_init__(self) -> None:
        checks = {
            "input_mode": (self.input_mode in INPUT_MODES, f"one of {sorted(INPUT_MODES)}"),
            "padding": (self.padding in ("valid", "same"), "'valid' or 'same'"),
            "recurrent": (self.recurrent in ("bilstm", "lstm", "none"), "'bilstm', 'lstm' or 'none'"),
            "scan": (self.scan in ("raster", "rows"), "'raster' or 'rows'"),
            "attention": (self.attention in ("dual", "spatial", "channel", "none"),
                          "dual/spatial/channel/none"),
            "gate_activation": (self.gate_activation in ACTIVATIONS, f"one of {sorted(ACTIVATIONS)}"),
            "channels": (self.channels[2] % self.spatial_groups == 0
                         and self.channels[2] % self.channel_groups == 0,
                         "C3 divisible by spatial_groups and channel_groups"),
            "n_layers": (self.n_layers >= 1, ">= 1"),
        }
        for name, (ok, expected) in checks.items():
            if not ok:
                raise ValueError(f"ModelConfig.{name}={getattr(self, name)!r} is invalid: "
                                 f"expected {expected}")

    @property
    def in_channels(self) -> int:
        return INPUT_MODES[self.input_mode]

    @property
    def grid_size(self) -> int:
        """Side of the C3 feature map: 16 for 'same', 9 for 'valid' (64 -> 60 -> 30 -> 26 -> 13 -> 9)."""
        side = self.image_size
        shrink = 0 if self.padding == "same" else self.kernel_size - 1
        side = (side - shrink) // 2
        side = (side - shrink) // 2
        return side - shrink

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown ModelConfig fields {sorted(unknown)}; known: {sorted(known)}")
        values = dict(data)
        if "channels" in values:
            values["channels"] = tuple(values["channels"])
        return cls(**values)


# --------------------------------------------------------------------------------------------------
# PCP: the piecewise cubic polynomial activation (docs/DESIGN.md §5, eq. 19)
# --------------------------------------------------------------------------------------------------


class _PCPFunction(torch.autograd.Function):
    """PCP with its closed-form derivative, so backward is one fused expression instead of a chain."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, a: float, alpha: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.a, ctx.alpha = a, alpha
        xc = x.clamp(-a, a)
        cubic = ((xc + a).pow(3) - 2 * torch.relu(xc).pow(3)) / (6 * a * a)
        return alpha * x + (1.0 - alpha) * (cubic + torch.relu(x - a))

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (x,) = ctx.saved_tensors
        a, alpha = ctx.a, ctx.alpha
        xc = x.clamp(-a, a)  # written with differentiable ops: double backward (PCP'') works
        slope = ((xc + a).pow(2) - 2 * torch.relu(xc).pow(2)) / (2 * a * a)  # h': 0 left of -a, 1 right of a
        return grad * (alpha + (1.0 - alpha) * slope), None, None


def pcp(x: torch.Tensor, knot: float = 1.0, alpha: float = 0.1) -> torch.Tensor:
    """C2-continuous piecewise cubic activation: leaky ReLU smoothed by a cubic spline (docs/DESIGN.md §5).

    ``alpha * x`` for ``x <= -a``, ``x`` for ``x >= a``; in between, PCP'' is the hat function rising
    linearly from 0 at -a to ``(1 - alpha) / a`` at 0 and back to 0 at a, so PCP, PCP' and PCP'' are
    continuous everywhere. Written as ``alpha * x + (1 - alpha) * h(x)`` with the smoothed ReLU

        h(x) = ((xc + a)^3 - 2 relu(xc)^3) / (6 a^2) + relu(x - a),   xc = clamp(x, -a, a)

    (the truncated-power form of the cubic B-spline, evaluated on the clamped input so that large |x|
    never cancels cubes in float32), and its closed-form derivative
    ``alpha + (1 - alpha) * ((xc + a)^2 - 2 relu(xc)^2) / (2 a^2)`` in backward. No
    exponentials, no branches; PCP(0) = (1 - alpha) * a / 6 and PCP'(0) = (1 + alpha) / 2.
    """
    return _PCPFunction.apply(x, float(knot), float(alpha))


class PCP(nn.Module):
    """PCP as a module, with the optional learnable per-channel output scale (last dimension)."""

    def __init__(self, channels: int, knot: float = 1.0, alpha: float = 0.1, learnable_scale: bool = True):
        super().__init__()
        self.knot, self.alpha = knot, alpha
        self.scale = nn.Parameter(torch.ones(channels)) if learnable_scale else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = pcp(x, self.knot, self.alpha)
        return y * self.scale if self.scale is not None else y


ACTIVATIONS = {"pcp": PCP, "relu": None, "gelu": None}  # names accepted by ModelConfig.gate_activation


def make_gate_activation(cfg: ModelConfig, channels: int) -> nn.Module:
    if cfg.gate_activation == "pcp":
        return PCP(channels, cfg.pcp_knot, cfg.pcp_alpha, cfg.pcp_learnable_scale)
    return nn.ReLU() if cfg.gate_activation == "relu" else nn.GELU()


# --------------------------------------------------------------------------------------------------
# DCNN (Table 2, eqs. 9-11)
# --------------------------------------------------------------------------------------------------


def conv_block(c_in: int, c_out: int, k: int, padding: str, separable: bool) -> nn.Sequential:
    """conv k x k (or depthwise k x k + pointwise 1x1) -> BN -> ReLU."""
    pad = k // 2 if padding == "same" else 0
    if separable and c_in > 1:
        conv = [nn.Conv2d(c_in, c_in, k, padding=pad, groups=c_in, bias=False),
                nn.Conv2d(c_in, c_out, 1, bias=False)]
    else:
        conv = [nn.Conv2d(c_in, c_out, k, padding=pad, bias=False)]
    return nn.Sequential(*conv, nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class DCNN(nn.Module):
    """C1 -> S1 -> C2 -> S2 -> C3 with BN and dropout; returns the three maps for display."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        c1, c2, c3 = cfg.channels
        k = cfg.kernel_size
        self.c1 = conv_block(cfg.in_channels, c1, k, cfg.padding, separable=False)
        self.c2 = conv_block(c1, c2, k, cfg.padding, cfg.separable)
        self.c3 = conv_block(c2, c3, k, cfg.padding, cfg.separable)
        self.pool = nn.MaxPool2d(2)
        self.drop = nn.Dropout2d(cfg.conv_dropout)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        m1 = self.c1(x)  # (B, 32, 64|60, 64|60)
        m2 = self.c2(self.pool(m1))  # (B, 64, 32|26, 32|26)
        m3 = self.drop(self.c3(self.pool(m2)))  # (B, 128, 16|9, 16|9)
        return m1, m2, m3


# --------------------------------------------------------------------------------------------------
# BiLSTM over the tokens (eq. 12)
# --------------------------------------------------------------------------------------------------


class TokenLSTM(nn.Module):
    """(Bi)LSTM over the H*W tokens; hidden size C; the two directions' outputs are summed (eq. 12)."""

    def __init__(self, channels: int, bidirectional: bool, scan: str):
        super().__init__()
        self.scan = scan
        self.lstm = nn.LSTM(channels, channels, batch_first=True, bidirectional=bidirectional)

    def forward(self, tokens: torch.Tensor, hw: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """tokens (B, N, C) -> (summed (B, N, C), both directions (B, N, 2, C) or None)."""
        b, n, c = tokens.shape
        h, w = hw
        seq = tokens.reshape(b * h, w, c) if self.scan == "rows" else tokens  # rows: (B*H, W, C)
        out, _ = self.lstm(seq)  # (B', L, C * directions)
        out = out.reshape(b, n, -1)  # (B, N, C * directions)
        if not self.lstm.bidirectional:
            return out, None
        both = out.reshape(b, n, 2, c)  # (B, N, 2, C): [..., 0, :] forward, [..., 1, :] backward
        return both.sum(dim=2), both


# --------------------------------------------------------------------------------------------------
# Dual attention: spatial (Alg. 1) and channel (Alg. 2) branches, cross-fusion (eq. 16),
# self-attention distillation (Alg. 3, eqs. 17-18)
# --------------------------------------------------------------------------------------------------


def tokens_to_map(t: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    b, n, c = t.shape
    return t.transpose(1, 2).reshape(b, c, hw[0], hw[1])  # (B, N, C) -> (B, C, H, W)


def map_to_tokens(m: torch.Tensor) -> torch.Tensor:
    return m.flatten(2).transpose(1, 2)  # (B, C, H, W) -> (B, H*W, C)


class SpatialDistill(nn.Module):
    """K/V distillation of the spatial branch: conv3x3 C->C/r -> ReLU -> conv3x3 C/r->C -> 2x2 max-pool.

    The pool (ceil mode, so no border position is dropped) gives N/4 key/value tokens.
    """

    def __init__(self, c: int, r: int):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(c, c // r, 3, padding=1), nn.ReLU(inplace=True),
                                 nn.Conv2d(c // r, c, 3, padding=1), nn.MaxPool2d(2, ceil_mode=True))

    def forward(self, t: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        return map_to_tokens(self.net(tokens_to_map(t, hw)))  # (B, N, C) -> (B, ceil(H/2)*ceil(W/2), C)


class ChannelDistill(nn.Module):
    """K/V distillation of the channel branch: conv1x1 -> ReLU -> conv3x3, no pooling (N unchanged)."""

    def __init__(self, c: int):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(c, c, 1), nn.ReLU(inplace=True), nn.Conv2d(c, c, 3, padding=1))

    def forward(self, t: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        return map_to_tokens(self.net(tokens_to_map(t, hw)))  # (B, N, C) -> (B, N, C)


class Branch(nn.Module):
    """One attention branch of one layer: Q/K/V 1x1 projections, grouped attention, residuals, LayerNorm.

    ``kind='spatial'``: C is split into R_g heads of d = C/R_g; each head's attention is
    softmax(Q K^T / sqrt(d)), (N x N_k), applied to V (Alg. 1 steps 6-7), heads concatenated (eq. 14).
    ``kind='channel'``: C is split into G_w groups of CH_w channels; each group's attention is
    softmax(Q^T K / sqrt(N)), (CH_w x CH_w), mixing channels across all positions (eq. 15).
    With distillation the original V is added to the attention output (the closed loop of eq. 18),
    then the output projection, the residual with the branch input, and LayerNorm (steps 8-9).
    """

    def __init__(self, kind: str, c: int, groups: int, distill: bool, ratio: int):
        super().__init__()
        self.kind, self.groups = kind, groups
        self.q, self.k, self.v = nn.Linear(c, c), nn.Linear(c, c), nn.Linear(c, c)
        self.out = nn.Linear(c, c)
        self.norm = nn.LayerNorm(c)
        self.distill = None
        if distill:
            self.distill = SpatialDistill(c, ratio) if kind == "spatial" else ChannelDistill(c)

    def forward(self, x: torch.Tensor, k: torch.Tensor,
                hw: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Attend over one branch's tokens.

        Parameters
        ----------
        x : (B, N, C) tensor
            This branch's input tokens.
        k : (B, N, C) tensor
            The key tokens (the other branch's projection under cross-fusion).
        hw : (int, int)
            The (H, W) token grid, for the distillation convolutions.

        Returns
        -------
        output : (B, N, C) tensor
        attention : tensor
            (B, R_g, N, N_k) for the spatial branch, (B, G_w, CH_w, CH_w) for the channel branch.
        """
        q, v = self.q(x), self.v(x)
        kd, vd = (self.distill(k, hw), self.distill(v, hw)) if self.distill is not None else (k, v)
        attend = self._spatial if self.kind == "spatial" else self._channel
        y, attn = attend(q, kd, vd)
        if self.distill is not None:
            y = y + v  # the original V added back (distillation residual)
        return self.norm(x + self.out(y)), attn

    def _spatial(self, q, k, v):
        b, n, c = q.shape
        g, d = self.groups, c // self.groups
        qh = q.reshape(b, n, g, d).transpose(1, 2)  # (B, R_g, N, d)
        kh = k.reshape(b, k.shape[1], g, d).transpose(1, 2)  # (B, R_g, N_k, d)
        vh = v.reshape(b, v.shape[1], g, d).transpose(1, 2)  # (B, R_g, N_k, d)
        attn = torch.softmax(qh @ kh.transpose(-1, -2) / math.sqrt(d), dim=-1)  # (B, R_g, N, N_k)
        y = (attn @ vh).transpose(1, 2).reshape(b, n, c)  # (B, N, C): groups concatenated
        return y, attn

    def _channel(self, q, k, v):
        b, n, c = q.shape
        g, ch = self.groups, c // self.groups
        qg = q.reshape(b, n, g, ch).permute(0, 2, 3, 1)  # (B, G_w, CH_w, N)
        kg = k.reshape(b, n, g, ch).permute(0, 2, 3, 1)  # (B, G_w, CH_w, N)
        vg = v.reshape(b, n, g, ch).permute(0, 2, 3, 1)  # (B, G_w, CH_w, N)
        attn = torch.softmax(qg @ kg.transpose(-1, -2) / math.sqrt(n), dim=-1)  # (B, G_w, CH_w, CH_w)
        y = (attn @ vg).permute(0, 3, 1, 2).reshape(b, n, c)  # (B, N, C)
        return y, attn


class DualAttentionLayer(nn.Module):
    """Spatial and channel branches in parallel; keys optionally crossed (eq. 16)."""

    def __init__(self, cfg: ModelConfig, c: int, cross: bool):
        super().__init__()
        self.cross = cross
        use_s, use_c = cfg.attention in ("dual", "spatial"), cfg.attention in ("dual", "channel")
        self.spatial = (Branch("spatial", c, cfg.spatial_groups, cfg.distill, cfg.distill_ratio)
                        if use_s else None)
        self.channel = (Branch("channel", c, cfg.channel_groups, cfg.distill, cfg.distill_ratio)
                        if use_c else None)

    def forward(self, s: torch.Tensor, ch: torch.Tensor, hw: tuple[int, int]):
        """Run both branches on their inputs.

        Parameters
        ----------
        s, ch : (B, N, C) tensor
            The spatial and channel branch inputs.
        hw : (int, int)
            The (H, W) token grid.

        Returns
        -------
        tuple
            ``(s', ch', spatial attn, channel attn)``; a missing branch passes its input through and
            gives None as its attention.
        """
        s_attn = c_attn = None
        if self.cross:  # eq. 16: AM_S(Q_S, K_C, V_S) and AM_C(Q_C, K_S, V_C)
            k_for_s, k_for_c = self.channel.k(ch), self.spatial.k(s)
        else:
            k_for_s = self.spatial.k(s) if self.spatial is not None else None
            k_for_c = self.channel.k(ch) if self.channel is not None else None
        s_out, c_out = s, ch
        if self.spatial is not None:
            s_out, s_attn = self.spatial(s, k_for_s, hw)
        if self.channel is not None:
            c_out, c_attn = self.channel(ch, k_for_c, hw)
        return s_out, c_out, s_attn, c_attn


class InteractiveLearning(nn.Module):
    """ILM(S, C) = S * act(W_C C + b) + C * act(W_S S + b) (eq. 19): each branch gated by the other."""

    def __init__(self, cfg: ModelConfig, c: int):
        super().__init__()
        self.from_c, self.from_s = nn.Linear(c, c), nn.Linear(c, c)
        self.act_c, self.act_s = make_gate_activation(cfg, c), make_gate_activation(cfg, c)

    def forward(self, s: torch.Tensor, ch: torch.Tensor) -> torch.Tensor:
        return s * self.act_c(self.from_c(ch)) + ch * self.act_s(self.from_s(s))  # (B, N, C)


# --------------------------------------------------------------------------------------------------
# The whole model
# --------------------------------------------------------------------------------------------------


@dataclass
class ForwardTrace:
    """Every intermediate of one forward pass (all tensors detached only if the caller detaches).

    Shapes are for a batch of B, C = 128 channels and an H x W grid (N = H*W tokens).

    Attributes
    ----------
    grid : (int, int)
        (H, W) of the C3 map.
    conv1, conv2, conv3 : (B, C_i, H_i, W_i) tensor
        The DCNN's feature maps.
    tokens : (B, N, C) tensor
        C3 as a sequence.
    lstm : (B, N, C) tensor
        The recurrence's output (directions summed).
    lstm_directions : (B, N, 2, C) tensor or None
        Both directions of a BiLSTM.
    spatial : list of (B, R_g, N, N_k) tensor
        Per layer; N_k = N, or ceil(H/2)*ceil(W/2) after distillation.
    channel : list of (B, G_w, CH_w, CH_w) tensor
        Per layer.
    spatial_out, channel_out : list of (B, N, C) tensor
        Per layer, the branch outputs.
    fused : (B, N, C) tensor
    pooled : (B, C) tensor
    hidden : (B, 300) tensor
    logits : (B, classes) tensor
    """

    grid: tuple[int, int]
    conv1: torch.Tensor
    conv2: torch.Tensor
    conv3: torch.Tensor
    tokens: torch.Tensor
    lstm: torch.Tensor
    lstm_directions: torch.Tensor | None
    spatial: list[torch.Tensor] = field(default_factory=list)
    channel: list[torch.Tensor] = field(default_factory=list)
    spatial_out: list[torch.Tensor] = field(default_factory=list)
    channel_out: list[torch.Tensor] = field(default_factory=list)
    fused: torch.Tensor | None = None
    pooled: torch.Tensor | None = None
    hidden: torch.Tensor | None = None
    logits: torch.Tensor | None = None


class FERNet(nn.Module):
    """DCNN -> (Bi)LSTM -> dual attention x L -> ILM -> GAP -> FC(300) -> classes."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        c = cfg.channels[2]
        self.dcnn = DCNN(cfg)
        self.rnn = None
        if cfg.recurrent != "none":
            self.rnn = TokenLSTM(c, bidirectional=cfg.recurrent == "bilstm", scan=cfg.scan)
        self.layers = nn.ModuleList()
        if cfg.attention != "none":
            for i in range(cfg.n_layers):
                cross = cfg.cross_fusion and cfg.attention == "dual" and i > 0
                self.layers.append(DualAttentionLayer(cfg, c, cross))
        self.ilm = InteractiveLearning(cfg, c) if cfg.attention == "dual" else None
        self.fc = nn.Linear(c, cfg.fc_hidden)
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.fc_hidden, cfg.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, in_channels, 64, 64) normalised -> logits (B, num_classes)."""
        return self._run(x, trace=None)

    @torch.no_grad()
    def forward_with_attention(self, x: torch.Tensor) -> ForwardTrace:
        """Like ``forward`` but returns every intermediate (no gradients, no hooks)."""
        holder: list[ForwardTrace] = []
        self._run(x, trace=holder)
        return holder[0]

    def _run(self, x: torch.Tensor, trace: list | None) -> torch.Tensor:
        m1, m2, m3 = self.dcnn(x)
        hw = (m3.shape[2], m3.shape[3])
        tokens = map_to_tokens(m3)  # (B, 128, H, W) -> (B, N, 128), raster order
        seq, both = self.rnn(tokens, hw) if self.rnn is not None else (tokens, None)
        t = ForwardTrace(hw, m1, m2, m3, tokens, seq, both) if trace is not None else None
        s = ch = seq
        for layer in self.layers:
            s, ch, s_attn, c_attn = layer(s, ch, hw)
            if t is not None:
                t.spatial_out.append(s)
                t.channel_out.append(ch)
                if s_attn is not None:
                    t.spatial.append(s_attn)
                if c_attn is not None:
                    t.channel.append(c_attn)
        fused = self._fuse(seq, s, ch)  # (B, N, C)
        pooled = fused.mean(dim=1)  # GAP over tokens: (B, C)
        hidden = F.relu(self.fc(pooled))  # (B, 300)
        logits = self.head(self.drop(hidden))  # (B, classes)
        if t is not None:
            t.fused, t.pooled, t.hidden, t.logits = fused, pooled, hidden, logits
            trace.append(t)
        return logits

    def _fuse(self, seq, s, ch):
        if self.ilm is not None:
            return self.ilm(s, ch)
        if self.cfg.attention == "spatial":
            return s
        if self.cfg.attention == "channel":
            return ch
        return seq

    def last_conv(self) -> nn.Module:
        """The last convolution layer (the Grad-CAM target)."""
        return self.dcnn.c3


# --------------------------------------------------------------------------------------------------
# Variants: the names the CLI, the UI and the tests share (docs/DESIGN.md §9)
# --------------------------------------------------------------------------------------------------

FULL = ModelConfig()

VARIANTS: dict[str, ModelConfig] = {
    "dcnn_bilstm_dam": FULL,  # the paper's model (the shipped default)
    "cnn_lstm": replace(FULL, recurrent="lstm", attention="none"),  # HCNN-LSTM stand-in
    "cnn_bilstm": replace(FULL, attention="none"),  # ICNN-BiLSTM stand-in (also "no attention")
    "ngo_bilstm": replace(FULL, attention="none"),  # NGO-BiLSTM: lr / fc_hidden / dropout set by `ferviz ngo`
    "spatial_only": replace(FULL, attention="spatial"),
    "channel_only": replace(FULL, attention="channel"),
    "no_cross_fusion": replace(FULL, cross_fusion=False),
    "no_distill": replace(FULL, distill=False),
    "relu_gate": replace(FULL, gate_activation="relu"),
    "gelu_gate": replace(FULL, gate_activation="gelu"),
    "input_hog": replace(FULL, input_mode="hog"),
    "input_gray_hog": replace(FULL, input_mode="gray+hog"),
    "same_padding": replace(FULL, padding="same"),
}
DEFAULT_VARIANT = "dcnn_bilstm_dam"


def build_model(variant: str | ModelConfig = DEFAULT_VARIANT, **overrides) -> FERNet:
    """Build a model from a registered variant name (or a config), with field overrides."""
    if isinstance(variant, ModelConfig):
        cfg = variant
    else:
        if variant not in VARIANTS:
            raise KeyError(f"unknown model variant {variant!r}; choose one of {', '.join(VARIANTS)}")
        cfg = VARIANTS[variant]
    return FERNet(replace(cfg, **overrides) if overrides else cfg)
