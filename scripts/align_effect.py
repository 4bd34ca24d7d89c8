"""Does alignment change the model's input much? FER2013 PublicTest faces, upscaled and found again.

Each PublicTest face (a seeded sample) is upscaled from 48x48 to ``--side`` pixels (bicubic) and searched by
YuNet (the most confident face). Three crops of it go to the shipped model: the face as the dataset gives
it (no detection: the model's usual input), the box crop around the re-detected face (margin of the
model's preprocessing) and the crop aligned on its landmarks (:func:`ferviz.pipeline.crop.align_face`).
Accuracy is over the faces YuNet found again.

Usage::

    python scripts/align_effect.py --data /work/shared/data/fer2013/fer2013_trainval.npz --n 150

Measured with that command (shipped fer2013_dcnn_bilstm_dam.pt, 150 PublicTest faces, 148 found again):
accuracy 72.97 % on the faces as given, 68.24 % on box crops, 69.59 % on aligned crops; mean absolute pixel
gap to the face as given 30.5 (aligned) and 33.2 (box crop) gray levels. A small sample (the shared machine
was loaded): read the two crop numbers as "alignment is a little closer to the training input than the
box crop", not as a precise gain.
"""

from __future__ import annotations

import argparse
import json
import time

import cv2
import numpy as np

from ferviz.data.labels import ALL_LABELS
from ferviz.data.preprocess import resize_square
from ferviz.model.checkpoint import load_checkpoint
from ferviz.paths import DEFAULT_MODEL
from ferviz.pipeline.crop import align_face, crop_face
from ferviz.pipeline.faces import find_faces
from ferviz.pipeline.inference import classify_crops


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="fer2013_trainval.npz")
    p.add_argument("--model", default=str(DEFAULT_MODEL), help="checkpoint (default: the shipped model)")
    p.add_argument("--n", type=int, default=600, help="PublicTest faces sampled (seed 0); 0 = all 3,589")
    p.add_argument("--side", type=int, default=192, help="upscale each 48x48 face to this many pixels")
    p.add_argument("--json", help="also write the numbers here")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    loaded = load_checkpoint(args.model)
    data = np.load(args.data)
    test = data["usage"] == "PublicTest"
    images, labels = data["images"][test], data["labels"][test]
    if args.n and args.n < len(images):
        pick = np.sort(np.random.default_rng(0).choice(len(images), args.n, replace=False))
        images, labels = images[pick], labels[pick]
    size, margin = loaded.preprocessing.size, loaded.preprocessing.face_margin
    kept, as_given, box_crops, aligned = [], [], [], []
    for i, image in enumerate(images):
        up = cv2.resize(image, (args.side, args.side), interpolation=cv2.INTER_CUBIC)
        search = find_faces(up, detector="yunet", max_faces=1, align=False, min_confidence=0.5)
        if not search.faces:
            continue
        box = search.faces[0].box
        kept.append(i)
        as_given.append(resize_square(image, size))
        box_crops.append(crop_face(up, box, size, margin))
        aligned.append(align_face(up, box.landmarks, size))
    y = labels[kept]
    out = {"model": loaded.path.name, "n_faces": len(images), "n_found": len(kept), "side": args.side}
    for name, crops in (("as_given", as_given), ("box_crop", box_crops), ("aligned", aligned)):
        pred = np.asarray(loaded.labels)[classify_crops(loaded, np.stack(crops)).argmax(1)]
        out[f"accuracy_{name}"] = round(float((pred == np.asarray(ALL_LABELS)[y]).mean()), 4)
    pixels = np.abs(np.stack(aligned).astype(float) - np.stack(as_given)).mean()
    out["mean_abs_pixel_gap_aligned_vs_given"] = round(float(pixels), 2)
    out["mean_abs_pixel_gap_box_vs_given"] = round(float(np.abs(np.stack(box_crops).astype(float)
                                                                - np.stack(as_given)).mean()), 2)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as fh:
            fh.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
