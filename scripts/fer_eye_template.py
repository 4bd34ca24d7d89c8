"""Measure where YuNet puts the five landmarks in FER2013's 48x48 faces: the alignment template.

Each Training face (a seeded random sample) is upscaled to ``--side`` pixels (bicubic), searched by YuNet
(:func:`ferviz.pipeline.faces.find_faces`, the most confident face), and its landmarks are divided by the
side, so they are in normalised crop coordinates (0 = left/top edge, 1 = right/bottom edge). The medians
are the template of :mod:`ferviz.pipeline.crop` (``FER_TEMPLATE``).

Usage::

    python scripts/fer_eye_template.py --data /work/shared/data/fer2013/fer2013_trainval.npz --n 3000
"""

from __future__ import annotations

import argparse
import json
import time

import cv2
import numpy as np

from ferviz.pipeline.faces import find_faces

NAMES = ("eye_left", "eye_right", "nose", "mouth_left", "mouth_right")  # image left / right


def measure(images: np.ndarray, side: int = 192, min_confidence: float = 0.5) -> tuple[np.ndarray, int]:
    """(M, 5, 2) normalised landmarks of the faces YuNet found among ``images`` (N, 48, 48), and N."""
    found = []
    for image in images:
        up = cv2.resize(image, (side, side), interpolation=cv2.INTER_CUBIC)
        search = find_faces(np.repeat(up[..., None], 3, axis=2), detector="yunet", max_faces=1,
                            min_confidence=min_confidence)
        if search.faces and search.faces[0].box.landmarks:
            found.append(np.asarray(search.faces[0].box.landmarks, np.float64) / side)
    return np.asarray(found).reshape(-1, 5, 2), len(images)


def summarise(points: np.ndarray, n: int) -> dict:
    """Medians (and quartiles of the distances) of (M, 5, 2) normalised landmarks."""
    left, right = points[:, 0], points[:, 1]
    mouth = (points[:, 3] + points[:, 4]) / 2
    iod = np.linalg.norm(right - left, axis=1)
    eye_mouth = np.linalg.norm(mouth - (left + right) / 2, axis=1)
    angle = np.degrees(np.arctan2(right[:, 1] - left[:, 1], right[:, 0] - left[:, 0]))
    out = {"n_searched": n, "n_found": len(points)}
    out.update({name: np.round(np.median(points[:, k], axis=0), 4).tolist() for k, name in enumerate(NAMES)})
    for name, values in (("inter_ocular", iod), ("eye_mouth", eye_mouth), ("eye_angle_deg", angle)):
        out[name] = round(float(np.median(values)), 4)
        out[name + "_iqr"] = np.round(np.percentile(values, [25, 75]), 4).tolist()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="fer2013_trainval.npz (images, labels, usage)")
    p.add_argument("--n", type=int, default=3000, help="Training faces sampled (seed 0)")
    p.add_argument("--side", type=int, default=192, help="upscale each 48x48 face to this many pixels")
    p.add_argument("--json", help="also write the summary here")
    args = p.parse_args(argv)
    data = np.load(args.data)
    train = data["images"][data["usage"] == "Training"]
    pick = np.random.default_rng(0).choice(len(train), min(args.n, len(train)), replace=False)
    t0 = time.perf_counter()
    points, n = measure(train[np.sort(pick)], args.side)
    summary = summarise(points, n) | {"side": args.side, "seconds": round(time.perf_counter() - t0, 1)}
    text = json.dumps(summary, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as fh:
            fh.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
