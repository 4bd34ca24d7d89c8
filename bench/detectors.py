"""Face detectors: speed, faces found / missed / false, and what they do to the expression model.

(a) speed: ms per call of :func:`ferviz.pipeline.faces.find_faces` (detect + crop) on a 640x480 frame and on a
    2048-pixel photo, YuNet and Haar, timed in interleaved rounds; ratios against Haar, same run;
(b) detection: faces found, missed and false on composites with a known number of faces, built from
    public-domain photos (scikit-image's astronaut, matplotlib's Grace Hopper when matplotlib is
    installed, tiles and mirrors of them, a coffee cup and noise with no face), and on JAFFE's 213
    whole frames (one face each) when ``--jaffe`` points to the user's copy. Counts only: found =
    min(detected, true), missed = true - found, false = max(0, detected - true);
(c) the FER2013 model on JAFFE whole frames (cross-dataset accuracy and macro-F1), detector x
    eye alignment, and its labels on the two-person and four-face composites.

    python bench/detectors.py --threads 1 --jaffe ~/data/jaffe/jaffe.npz --json docs/bench/detectors.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import common
import cv2
import numpy as np
from skimage import data

from ferviz.data.datasets import load_dataset
from ferviz.data.samples import load_sample
from ferviz.model.checkpoint import load_checkpoint
from ferviz.paths import DEFAULT_MODEL
from ferviz.pipeline.faces import DETECTORS, FaceOptions, find_faces, resolve_detector
from ferviz.pipeline.inference import predict
from ferviz.results.evaluation import DATASET_FACE_OPTIONS, evaluate


def grace_hopper() -> np.ndarray | None:
    """Matplotlib's public-domain sample photo of Grace Hopper (RGB), or None without matplotlib."""
    try:
        import matplotlib.cbook as cbook
        from PIL import Image
    except ImportError:
        return None
    with cbook.get_sample_data("grace_hopper.jpg") as fh:
        return np.asarray(Image.open(fh).convert("RGB"))


def fit(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """``rgb`` scaled to fit inside ``width x height`` and centred on a grey canvas."""
    scale = min(width / rgb.shape[1], height / rgb.shape[0])
    size = (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale))
    small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    canvas = np.full((height, width, 3), 110, np.uint8)
    y, x = (height - small.shape[0]) // 2, (width - small.shape[1]) // 2
    canvas[y:y + small.shape[0], x:x + small.shape[1]] = small
    return canvas


def composites() -> dict[str, tuple[np.ndarray, int]]:
    """Name -> (RGB picture, number of faces in it)."""
    astro = load_sample("astronaut (NASA, public domain)")
    group = load_sample("group of four (tiled astronaut)")
    out = {"astronaut": (astro, 1), "group of four (tiled astronaut)": (group, 4),
           "coffee cup (no face)": (data.coffee(), 0),
           "noise (no face)": (np.random.default_rng(0).integers(0, 256, (480, 640, 3), np.uint8), 0)}
    head = astro[:300, 100:380]
    tiles = np.concatenate([np.concatenate([head, head[:, ::-1], head], 1)] * 2, 0)  # 2 x 3
    out["six tiles, 2x3"] = (tiles, 6)
    hopper = grace_hopper()
    if hopper is not None:
        out["Grace Hopper"] = (hopper, 1)
        pair = np.concatenate([fit(astro, 512, 600), fit(hopper, 512, 600)], axis=1)
        out["two people (astronaut + Grace Hopper)"] = (pair, 2)
    return out


def counts(detected: int, true: int) -> dict:
    found = min(detected, true)
    return {"found": found, "missed": true - found, "false": max(0, detected - true)}


def main(argv: list[str] | None = None) -> int:
    parser = common.add_common_args(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--jaffe", type=Path, help="your JAFFE copy (folder or .npz) for (b) and (c)")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    args = parser.parse_args(argv)
    machine = common.start(args, "Face detectors: YuNet vs Haar")
    detectors = [d for d in DETECTORS if resolve_detector(d) == d]
    rows: list[dict] = []

    frame = fit(load_sample("astronaut (NASA, public domain)"), 640, 480)
    pair = composites().get("two people (astronaut + Grace Hopper)", (frame, 1))[0]
    photo = cv2.resize(pair, (2048, round(2048 * pair.shape[0] / pair.shape[1])),
                       interpolation=cv2.INTER_CUBIC)
    calls = {(d, what): (lambda d=d, img=img: find_faces(img, detector=d))
             for d in detectors for what, img in (("640x480 frame", frame), ("2048-px photo", photo))}
    timings = common.time_interleaved(calls, repeats=args.repeats)
    print("(a) detect + crop, ms per call")
    speed = []
    for (d, what), t in timings.items():
        base = timings.get(("haar", what))
        speed.append({"part": "speed", "detector": d, "input": what, "ms": t.median * 1000,
                      "iqr_ms": (t.q3 - t.q1) * 1000, "vs_haar": base.median / t.median if base else None})
    common.print_table(speed, [("detector", "detector", ""), ("input", "input", ""), ("ms", "ms", ".1f"),
                               ("iqr_ms", "IQR", ".1f"), ("vs_haar", "speed vs haar", ".2f")])
    rows += speed

    print("\n(b) faces found / missed / false")
    found_rows = []
    jaffe = load_dataset("auto", args.jaffe) if args.jaffe else None
    for d in detectors:
        for name, (img, true) in composites().items():
            found_rows.append({"part": "detection", "detector": d, "set": name, "true": true,
                               **counts(len(find_faces(img, detector=d).faces), true)})
        if jaffe is not None:
            total = {"found": 0, "missed": 0, "false": 0}
            for image in jaffe.images:
                n = len(find_faces(np.repeat(image[..., None], 3, axis=2), detector=d).faces)
                for k, v in counts(n, 1).items():
                    total[k] += v
            found_rows.append({"part": "detection", "detector": d, "set": f"JAFFE ({len(jaffe)} frames)",
                               "true": len(jaffe), **total})
    common.print_table(found_rows, [("detector", "detector", ""), ("set", "set", ""), ("true", "faces", "d"),
                                    ("found", "found", "d"), ("missed", "missed", "d"),
                                    ("false", "false", "d")])
    rows += found_rows

    loaded = load_checkpoint(args.model)
    print(f"\n(c) {args.model.name} on whole frames: detector x alignment")
    model_rows = []
    for d in detectors:
        for align in ((False, True) if d == "yunet" else (False,)):
            options = FaceOptions(**{**DATASET_FACE_OPTIONS.kwargs(), "detector": d, "align": align})
            row = {"part": "model", "detector": d, "align": align}
            if jaffe is not None:
                report = evaluate(loaded, jaffe, split="all", face_options=options).report
                row.update(jaffe_accuracy=report.accuracy * 100, jaffe_macro_f1=report.macro["f1"] * 100,
                           jaffe_no_face=report.meta.get("n_no_face_detected"))
            for name in ("two people (astronaut + Grace Hopper)", "group of four (tiled astronaut)"):
                if name in composites():
                    options = FaceOptions(detector=d, align=align)
                    pred = predict(loaded, composites()[name][0], options=options)
                    row[name] = ", ".join(f"{f.label} {f.confidence:.0%}" for f in pred.faces) or "no face"
            model_rows.append(row)
    columns = [("detector", "detector", ""), ("align", "align", "")]
    if jaffe is not None:
        columns += [("jaffe_accuracy", "JAFFE acc %", ".2f"), ("jaffe_macro_f1", "macro-F1 %", ".2f"),
                    ("jaffe_no_face", "no face", "d")]
    common.print_table(model_rows, columns)
    for row in model_rows:
        for name in ("two people (astronaut + Grace Hopper)", "group of four (tiled astronaut)"):
            if name in row:
                print(f"  {row['detector']}{' aligned' if row['align'] else ''} · {name}: {row[name]}")
    rows += model_rows
    common.finish(args, "detectors", machine, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
