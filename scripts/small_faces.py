"""Measure how often YuNet finds a face in small, tight face crops, with and without the enlarged search copy.

A photo that is already a face crop (a web thumbnail, a dataset's 100x100 aligned face) has the face filling
the frame. YuNet misses many such faces at native size when the crop is small, so images whose shorter
side is below ``ferviz.pipeline.detect._YUNET_MIN_SEARCH_SIDE`` are searched on an enlarged copy. This
script measures both policies on a seeded sample of FER2013 faces (48x48 gray, tight), each resized to
the sizes asked for, and counts detections on pictures with no face (scikit-image's sample images that
show none, and uniform noise) at the same sizes, so the gain is not bought with false faces.

Usage::

    python scripts/small_faces.py --data /work/shared/data/fer2013/fer2013_trainval.npz --n 300
"""

from __future__ import annotations

import argparse
import json

import cv2
import numpy as np

import ferviz.pipeline.detect as detect
from ferviz.pipeline.faces import find_faces

#: scikit-image sample images with no human face in them.
NO_FACE_IMAGES = ("coffee", "chelsea", "rocket", "coins", "moon", "page", "text", "horse",
                  "hubble_deep_field", "brick", "grass", "gravel", "cat", "logo", "retina", "checkerboard")


def _rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = (image * 255 if image.max() <= 1 else image).astype(np.uint8)
    return np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image[..., :3]


def _resized(image: np.ndarray, side: int) -> np.ndarray:
    """``image`` with its shorter side ``side`` (area for shrinking, cubic for enlarging)."""
    scale = side / min(image.shape[:2])
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)


def found_share(images: list[np.ndarray], side: int, enlarge: bool) -> float:
    """Share of ``images`` (resized to shorter side ``side``) in which YuNet finds at least one face."""
    kept = detect._YUNET_MIN_SEARCH_SIDE
    detect._YUNET_MIN_SEARCH_SIDE = kept if enlarge else 0
    try:
        hits = [bool(find_faces(_resized(im, side), detector="yunet", max_faces=1).faces) for im in images]
    finally:
        detect._YUNET_MIN_SEARCH_SIDE = kept
    return float(np.mean(hits))


def no_face_pictures(seed: int = 0) -> list[np.ndarray]:
    """scikit-image's face-free sample images and four uniform-noise images."""
    from skimage import data

    rng = np.random.default_rng(seed)
    pictures = [_rgb(getattr(data, name)()) for name in NO_FACE_IMAGES]
    return pictures + [rng.integers(0, 256, (120, 160, 3), dtype=np.uint8) for _ in range(4)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="fer2013_trainval.npz (images, labels, usage)")
    p.add_argument("--n", type=int, default=300, help="faces sampled from the whole archive (seed 1)")
    p.add_argument("--sizes", default="48,64,100,150", help="shorter sides tried, comma-separated")
    p.add_argument("--json", help="also write the table here")
    args = p.parse_args(argv)
    with np.load(args.data, allow_pickle=False) as archive:
        images = archive["images"]
    rng = np.random.default_rng(1)
    faces = [_rgb(images[i]) for i in rng.choice(len(images), size=min(args.n, len(images)), replace=False)]
    others = no_face_pictures()
    rows = []
    print(f"{'side':>5} {'faces found, native':>20} {'enlarged':>9} {'no-face pictures with a face':>30}")
    for side in (int(s) for s in args.sizes.split(",")):
        row = {"side": side, "native": found_share(faces, side, False), "enlarged": found_share(faces, side, True),
               "false_native": found_share(others, side, False), "false_enlarged": found_share(others, side, True)}
        rows.append(row)
        print(f"{side:>5} {row['native']:>20.1%} {row['enlarged']:>9.1%} "
              f"{row['false_native']:>14.1%} -> {row['false_enlarged']:.1%}", flush=True)
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"n_faces": len(faces), "n_no_face": len(others), "rows": rows}, out, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
