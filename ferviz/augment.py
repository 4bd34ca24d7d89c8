"""Batch data augmentation on normalised tensors (METHOD.md §6), seeded through an explicit generator.

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
    return (out - mean) * contrast + mean + bright
