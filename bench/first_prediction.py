"""The first prediction of a fresh process, with and without the background warm-up of ferviz.ui.cache.

Each case runs in its own new Python process: load the default model, (warm up and wait for it, as the app
does while a visitor picks a picture,) then time three predictions of the same photo. Without the warm-up
the first one pays the detector's set-up and torch's first-call work; with it the first one costs what the
later ones do. The ratio is first / median of the later two, measured in the same process.

    python bench/first_prediction.py
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHILD = r"""
import io, json, sys, time
from PIL import Image
from skimage import data
from ferviz.model.checkpoint import load_checkpoint
from ferviz.paths import DEFAULT_MODEL
from ferviz.pipeline.inference import predict
buf = io.BytesIO(); Image.fromarray(data.astronaut()).save(buf, "JPEG"); photo = buf.getvalue()
loaded = load_checkpoint(DEFAULT_MODEL)
if sys.argv[1] == "warm":
    from ferviz.ui.cache import warm_up
    warm_up(loaded).join()
times = []
for _ in range(3):
    t = time.perf_counter(); predict(loaded, photo); times.append(time.perf_counter() - t)
print(json.dumps(times))
"""


def run(case: str) -> list[float]:
    out = subprocess.run([sys.executable, "-c", CHILD, case], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    for case in ("cold", "warm"):
        first, *later = run(case)
        rest = sorted(later)[len(later) // 2]
        print(f"{case}: first prediction {first:.2f} s, later {rest:.2f} s, ratio {first / rest:.1f}x")


if __name__ == "__main__":
    main()
