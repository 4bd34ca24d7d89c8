"""Batch data augmentation on normalised tensors (docs/DESIGN.md §6), seeded through an explicit generator.

One random affine per image (rotation, scale, shift, horizontal flip) applied with
``affine_grid``/``grid_sample`` on the whole batch, then brightness/contrast jitter. Working on the
batch keeps it cheap on CPU and makes a run reproducible from (seed, epoch, step).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentConfig:
    rotate_deg: float = 10.0  # uniform in [-r, r]
    scale: float = 0.1  # zoom uniform in [1 - s, 1 + s]
    shift: float = 0.1  # translation, fraction of the side, uniform in [-t, t]
    flip: float = 0.5  # probability of a horizontal flip (expressions are left-right symmetric)
    brightness: float = 0.2  # additive, in normalised units, uniform in [-b, b]
    contrast: float = 0.2  # multiplicative around the image mean, uniform in [1 - c, 1 + c]
    erase: float = 0.0  # probability of random erasing: one rectangle (2-25 % of the area) set to noise

    def to_dict(self) -> dict:
        return asdict(self)


def _uniform(n: int, span: float, gen: torch.Generator) -> torch.Tensor:
    return (torch.rand(n, generator=gen) * 2 - 1) * span


def augment_batch(x: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    """x (B, C, H, W) float -> augmented (B, C, H, W); border pixels are replicated."""
    b = x.shape[0]
    angle = _uniform(b, math.radians(cfg.rotate_deg), gen)
    zoom = 1.0 + _uniform(b, cfg.scale, gen)
    flip = torch.where(torch.rand(b, generator=gen) < cfg.flip, -1.0, 1.0)
    tx, ty = _uniform(b, 2 * cfg.shift, gen), _uniform(b, 2 * cfg.shift, gen)  # grid units span 2
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([torch.stack([cos * flip, -sin, tx], 1), torch.stack([sin * flip, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)  # (B, H, W, 2)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    mean = out.mean(dim=(1, 2, 3), keepdim=True)
    contrast = (1.0 + _uniform(b, cfg.contrast, gen)).view(b, 1, 1, 1)
    bright = _uniform(b, cfg.brightness, gen).view(b, 1, 1, 1)
    out = (out - mean) * contrast + mean + bright
    return random_erase(out, cfg.erase, gen) if cfg.erase > 0 else out


def random_erase(x: torch.Tensor, p: float, gen: torch.Generator) -> torch.Tensor:
    """With probability ``p`` per image, replace one rectangle by standard-normal noise (in place on a copy).

    The rectangle covers 2-25 % of the image with aspect ratio in [0.3, 3.3] (log-uniform).
    """
    b, _, h, w = x.shape
    out = x.clone()
    hit = torch.rand(b, generator=gen) < p
    area = (0.02 + torch.rand(b, generator=gen) * 0.23) * h * w
    aspect = torch.exp((torch.rand(b, generator=gen) * 2 - 1) * math.log(3.3))
    eh = (area * aspect).sqrt().round().clamp(1, h).long()
    ew = (area / aspect).sqrt().round().clamp(1, w).long()
    top = (torch.rand(b, generator=gen) * (h - eh + 1)).long()
    left = (torch.rand(b, generator=gen) * (w - ew + 1)).long()
    for i in torch.nonzero(hit).flatten().tolist():
        t, l_, hh, ww = int(top[i]), int(left[i]), int(eh[i]), int(ew[i])
        out[i, :, t:t + hh, l_:l_ + ww] = torch.randn((x.shape[1], hh, ww), generator=gen)
    return out


def mixup_batch(x: torch.Tensor, y: torch.Tensor, soft: torch.Tensor | None, alpha: float, n_classes: int,
                gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Mixup: each image blended with a partner from the same batch, lam ~ Beta(alpha, alpha), lam >= 0.5.

    Returns the mixed images, the mixed one-hot targets (B, n_classes) and the mixed soft targets.
    """
    b = x.shape[0]
    lam = _beta(b, alpha, gen)  # torch.distributions takes no generator; draw it from ours (reproducible)
    lam = torch.maximum(lam, 1 - lam)  # the first image dominates, so its label stays the main one
    partner = torch.randperm(b, generator=gen)
    lw = lam.view(b, 1, 1, 1)
    mixed = lw * x + (1 - lw) * x[partner]
    onehot = y.float() if y.ndim == 2 else F.one_hot(y, n_classes).float()  # y: indices or distributions
    lt = lam.view(b, 1)
    target = lt * onehot + (1 - lt) * onehot[partner]
    soft_mixed = lt * soft + (1 - lt) * soft[partner] if soft is not None else None
    return mixed, target, soft_mixed


def _beta(n: int, alpha: float, gen: torch.Generator) -> torch.Tensor:
    """n draws of Beta(alpha, alpha) from ``gen``: the ratio of two Gamma(alpha) draws (Marsaglia-Tsang)."""
    g1, g2 = _gamma(n, alpha, gen), _gamma(n, alpha, gen)
    return g1 / (g1 + g2)


def _gamma(n: int, alpha: float, gen: torch.Generator) -> torch.Tensor:
    """n draws of Gamma(alpha, 1) by Marsaglia-Tsang rejection (alpha < 1 through the u^(1/alpha) boost)."""
    boost = alpha < 1
    a = alpha + 1 if boost else alpha
    d = a - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    out = torch.empty(n)
    filled = 0
    while filled < n:
        z = torch.randn(2 * n, generator=gen)
        u = torch.rand(2 * n, generator=gen)
        v = (1 + c * z) ** 3
        log_v = torch.log(v.clamp_min(1e-12))
        ok = (v > 0) & (torch.log(u.clamp_min(1e-12)) < 0.5 * z * z + d - d * v + d * log_v)
        got = (d * v)[ok][: n - filled]
        out[filled:filled + len(got)] = got
        filled += len(got)
    if boost:
        out = out * torch.rand(n, generator=gen).clamp_min(1e-12) ** (1.0 / alpha)
    return out
