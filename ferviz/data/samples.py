"""Built-in sample pictures, legal to ship: scikit-image's public-domain photos and images made from them.

``skimage.data.astronaut()`` is NASA's portrait of Eileen Collins (public domain). The others are
derived from it (mirrored, tiled into a group) or contain no face at all (``coffee``), so a demo can
show the multi-face and no-face paths without any dataset image.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from skimage import data


def _astronaut() -> np.ndarray:
    return data.astronaut()  # (512, 512, 3) uint8


def _group() -> np.ndarray:
    face = _astronaut()[:300, 100:380]  # head and shoulders
    row = np.concatenate([face, face[:, ::-1]], axis=1)
    return np.concatenate([row, row[:, ::-1]], axis=0)  # 2x2 group of four faces


SAMPLES: dict[str, Callable[[], np.ndarray]] = {
    "astronaut (NASA, public domain)": _astronaut,
    "astronaut, mirrored": lambda: _astronaut()[:, ::-1].copy(),
    "group of four (tiled astronaut)": _group,
    "no face (coffee cup)": data.coffee,
}


def load_sample(name: str) -> np.ndarray:
    """(H, W, 3) uint8 RGB for a key of :data:`SAMPLES`."""
    if name not in SAMPLES:
        raise KeyError(f"unknown sample {name!r}; choose one of {', '.join(SAMPLES)}")
    return np.ascontiguousarray(SAMPLES[name]())
