"""Test helpers: tiny model settings and synthetic data (no dataset image is ever committed)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TINY = dict(channels=(4, 8, 16), fc_hidden=12, spatial_groups=2, channel_groups=2, distill_ratio=2)


def synthetic_faces(n: int, seed: int = 0, side: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """(n, side, side) uint8 images whose class (0-6) is a bright blob at one of 7 positions, plus noise."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 7
    yy, xx = np.mgrid[0:side, 0:side]
    images = rng.normal(90, 20, (n, side, side))
    for i, k in enumerate(labels):
        cy, cx = side * (0.25 + 0.5 * (k // 4)), side * (0.15 + 0.23 * (k % 4))
        images[i] += 120 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * (side / 10) ** 2))
    return np.clip(images, 0, 255).astype(np.uint8), labels.astype(np.int64)


def write_npz(path, n_train: int = 56, n_val: int = 28, seed: int = 0):
    x, y = synthetic_faces(n_train + n_val, seed)
    usage = np.array(["Training"] * n_train + ["PublicTest"] * n_val)
    np.savez_compressed(path, images=x, labels=y, usage=usage)
    return path


@dataclass
class CliRun:
    """What one ``ferviz`` command did: the exit code and what it printed."""

    returncode: int
    stdout: str
    stderr: str


def run_cli(capsys, *argv) -> CliRun:
    """``ferviz ARGV`` in this process, through the same ``main`` as ``python -m ferviz`` (without starting an
    interpreter and importing torch again for each command): a usage error's exit code is kept too, and an
    error the CLI does not turn into a message fails the test with its traceback."""
    from ferviz.cli import main

    capsys.readouterr()
    try:
        code = main([str(word) for word in argv])
    except SystemExit as stop:  # argparse: --help, or a usage error
        code = stop.code if isinstance(stop.code, int) else 1
    out, err = capsys.readouterr()
    return CliRun(code, out, err)
