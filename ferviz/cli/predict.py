"""``ferviz predict``: every face in photos, videos and folders, as text, JSON or CSV."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ferviz.cli.common import add_tta
from ferviz.errors import FervizError


def _face_options(args):
    from ferviz.pipeline.faces import FaceOptions

    return FaceOptions(detector=args.detector, min_confidence=args.min_confidence, fallback=args.fallback,
                       align=args.align, max_faces=args.max_faces)


def cmd_predict(args) -> int:
    from tqdm import tqdm

    from ferviz import load_model, predict
    from ferviz.pipeline.batch import collect_inputs, csv_bytes, predict_path
    from ferviz.pipeline.video import is_video
    from ferviz.train.engine import dist_info
    from ferviz.train.sharding import gather_to_rank0, shard_bounds

    loaded = load_model(args.model)
    options = _face_options(args)
    files, problems = collect_inputs(args.images)
    rank, world = dist_info()
    start, stop = shard_bounds(len(files), rank, world)  # under torchrun: this rank's files
    quiet = args.quiet or world > 1
    results = []  # per file: (rows, text lines, error or None)
    many = tqdm(files[start:stop], unit="file", desc="files", disable=stop - start < 2 or quiet,
                file=sys.stderr)
    for path in many:
        try:
            if is_video(path):
                bar = tqdm(unit="frame", desc=path.name[:30], leave=False, file=sys.stderr, disable=quiet)

                def progress(done, total, bar=bar):
                    bar.total = total
                    bar.update(done - bar.n)

                found, messages = predict_path(loaded, path, options=options, every=args.every,
                                               smoothing=args.smoothing, annotate_dir=args.annotate,
                                               detect_side=args.detect_side or None, progress=progress,
                                               tta=args.tta)
                bar.close()
                results.append((found, _video_lines(found, messages), None))
            else:
                pred = predict(loaded, path, name=str(path), options=options, tta=args.tta)
                results.append((pred.rows(), _prediction_lines(pred), None))
        except FervizError as exc:
            results.append(([], [], str(exc)))
    parts = gather_to_rank0(results)
    if parts is None:  # a torchrun rank other than 0: rank 0 prints and writes everything, in order
        return 0
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    failures, rows = len(problems), []
    for found, lines, error in (item for part in parts for item in part):
        if error is not None:
            print(f"error: {error}", file=sys.stderr)
            failures += 1
            continue
        rows.extend(found)
        if not (args.json or args.quiet):
            print("\n".join(lines))
    if args.csv:
        Path(args.csv).write_bytes(csv_bytes(_frame(rows)))
        print(f"{len(rows)} row(s) written to {args.csv}", file=sys.stderr)
    if args.json:
        print(json.dumps(rows, indent=2))
    return 1 if failures else 0


def _frame(rows):
    import pandas as pd

    return pd.DataFrame(rows)


def _video_lines(rows: list[dict], messages: list[str]) -> list[str]:
    """What ``ferviz predict`` prints for a video: the summary, notes, and each face's usual label."""
    lines = [messages[0], *(f"  note: {m}" for m in messages[1:])]
    tracks: dict[int, list[str]] = {}
    for row in rows:
        if row["track"] is not None:
            tracks.setdefault(row["track"], []).append(row["label"])
    if not tracks:
        lines.append("  no face found in the processed frames; no expression label")
    for track, labels in tracks.items():
        top = max(set(labels), key=labels.count)
        lines.append(f"  face #{track}: in {len(labels)} processed frame(s), "
                     f"mostly {top} ({labels.count(top)})")
    return lines


def _prediction_lines(pred) -> list[str]:
    """What ``ferviz predict`` prints for a photo: one line, then one per face."""
    if not pred.faces:
        return [f"{pred.name}: no face found ({pred.message}); no expression label"]
    faces = sum(not f.fallback for f in pred.faces)
    note = f" ({pred.message})" if pred.message else ""
    tta = "" if pred.tta == "none" else f", probabilities averaged over {pred.tta} test-time augmentation"
    ms = pred.seconds * 1000
    lines = [f"{pred.name}: {faces} face(s) found by {pred.detector} in {ms:.0f} ms{tta}{note}"]
    for f in pred.faces:
        top = sorted(f.probs.items(), key=lambda kv: -kv[1])[:3]
        others = ", ".join(f"{k} {v:.2f}" for k, v in top[1:])
        what = "centre crop (not a detected face)" if f.fallback else f"face {f.index}"
        detected = f", detector {f.box.confidence_text}" if f.box.confidence_text else ""
        lines.append(f"  {what} at x={f.box.x} y={f.box.y} w={f.box.w} h={f.box.h}{detected}: "
                     f"{f.label} {f.confidence:.2f} ({others})")
    return lines


def add_faces(p) -> None:
    from ferviz.pipeline.faces import DETECTORS, FALLBACKS, MIN_CONFIDENCE

    p.add_argument("--detector", choices=list(DETECTORS),
                   help="face detector (default yunet; haar where the yuface package is missing)")
    p.add_argument("--min-confidence", type=float, default=MIN_CONFIDENCE,
                   help=f"YuNet detections scoring below this are not faces (default {MIN_CONFIDENCE})")
    p.add_argument("--fallback", choices=FALLBACKS, default="none",
                   help="no face found: no label (none, default) or classify the centre square, "
                        "marked as such")
    p.add_argument("--align", action="store_true", help="level the eyes before cropping (YuNet landmarks)")
    p.add_argument("--max-faces", type=int, default=20, help="keep the largest N faces per image")


def add_predict(sub) -> None:
    p = sub.add_parser("predict", help="every face in photos, videos and folders: box, label, probabilities")
    p.add_argument("images", nargs="+", metavar="PATH",
                   help="photos, videos (mp4, webm, avi, mov, mkv) or folders of them (searched recursively)")
    p.add_argument("--model", help="checkpoint (default: the shipped model)")
    p.add_argument("--json", action="store_true", help="print JSON rows instead of text")
    p.add_argument("--csv", help="also write every row (all files) to this CSV file")
    p.add_argument("--every", type=int, default=1, help="videos: process every Nth frame (default 1)")
    p.add_argument("--detect-side", type=int, default=480,
                   help="videos: search faces on a copy of each frame at most this many pixels on its longer "
                        "side (default 480; 0 = full size: slower, finds smaller faces)")
    p.add_argument("--smoothing", type=float, default=0.6,
                   help="videos: EMA strength of each face's probabilities over time, 0 = off (default 0.6)")
    p.add_argument("--annotate", type=Path, help="videos: write NAME.annotated.mp4 copies into this folder")
    p.add_argument("--quiet", action="store_true", help="no progress bars and no text output")
    add_tta(p, "every row then has a tta column")
    add_faces(p)
    p.set_defaults(func=cmd_predict)
