"""Video files: is a 640x480 clip processed at least at real-time speed?

Builds a clip the script writes itself (no dataset image): scikit-image's public-domain astronaut photo,
her head and shoulders moving along a slow figure-eight over a 640x480 background, ``--seconds`` long
at 30 fps, written as mp4 (``mp4v``). Then runs :func:`ferviz.pipeline.video.predict_video` (the same call as
``ferviz predict clip.mp4``: decode, detect, track, classify, smooth) on it with every frame, every 2nd
and every 3rd frame processed (faces searched on a 480-pixel copy, the default), every 2nd frame with
faces searched at 320 pixels and at full size, and a decode-only pass as the floor. Each row gives the
wall time, the real-time factor (video seconds per processing second; >= 1 is real time) and the ratio
against the every-frame baseline measured in the same run.

    python bench/video_clip.py --threads 1 --json docs/bench/video_clip.json
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import common
import cv2
import numpy as np
from skimage import data

from ferviz.model.checkpoint import load_checkpoint
from ferviz.paths import DEFAULT_MODEL
from ferviz.pipeline.video import DETECT_SIDE, predict_video

SIZE, FPS = (640, 480), 30.0


def write_clip(path: Path, seconds: float) -> int:
    """Write the test clip; returns the number of frames."""
    face = cv2.cvtColor(data.astronaut()[20:300, 100:360], cv2.COLOR_RGB2BGR)  # head and shoulders
    face = cv2.resize(face, (182, 196), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(0)
    background = cv2.GaussianBlur(rng.integers(60, 200, (SIZE[1], SIZE[0], 3), dtype=np.uint8), (0, 0), 9)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE)
    if not writer.isOpened():
        raise RuntimeError("OpenCV cannot write mp4 (mp4v) here")
    frames = int(round(seconds * FPS))
    h, w = face.shape[:2]
    for i in range(frames):
        t = i / FPS
        x = int((SIZE[0] - w) / 2 * (1 + 0.8 * np.sin(2 * np.pi * t / 12)))
        y = int((SIZE[1] - h) / 2 * (1 + 0.6 * np.sin(4 * np.pi * t / 12)))
        frame = background.copy()
        frame[y:y + h, x:x + w] = face
        writer.write(frame)
    writer.release()
    return frames


def decode_only(path: Path) -> int:
    """Read every frame and do nothing else (the floor under any processing)."""
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


def main(argv: list[str] | None = None) -> int:
    parser = common.add_common_args(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--model", default=str(DEFAULT_MODEL), help="checkpoint (default: the shipped model)")
    parser.add_argument("--seconds", type=float, default=60.0, help="clip length (default 60)")
    parser.add_argument("--every", type=int, nargs="+", default=[1, 2, 3],
                        help="frame strides to time; 1 (the baseline) is always included")
    parser.add_argument("--sides", type=int, nargs="+", default=[320, 0],
                        help="also time every 2nd frame with faces searched at these sizes (0 = full frame); "
                             f"the strides use the default, {DETECT_SIDE}")
    args = parser.parse_args(argv)
    machine = common.start(args, f"Video file, {SIZE[0]}x{SIZE[1]} at {FPS:g} fps, {args.seconds:g} s")
    loaded = load_checkpoint(args.model)
    strides = sorted({1, *args.every})
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "clip.mp4"
        frames = write_clip(clip, args.seconds)
        duration = frames / FPS
        t0 = time.perf_counter()
        decode_only(clip)
        rows.append({"run": "decode only", "every": None, "seconds": time.perf_counter() - t0,
                     "frames_processed": 0, "labelled_frames": 0})
        runs = [(every, DETECT_SIDE) for every in strides] + [(2, side) for side in args.sides]
        for every, side in runs:
            result = predict_video(loaded, clip, every=every, detect_side=side or None)
            labelled = {r["frame"] for r in result.rows if r.get("label")}
            rows.append({"run": f"every {every}, faces searched at {side or 'full size'}", "every": every,
                         "detect_side": side or None, "seconds": result.seconds,
                         "frames_processed": result.frames_processed, "labelled_frames": len(labelled)})
    base = next(r["seconds"] for r in rows if r["every"] == 1)  # every frame, default search size
    for row in rows:
        row.update(video_seconds=duration, realtime_factor=duration / row["seconds"],
                   speedup_vs_every_1=base / row["seconds"], real_time=duration / row["seconds"] >= 1)
    common.print_table(rows, [("run", "run", "s"), ("seconds", "wall s", ".1f"),
                              ("realtime_factor", "x real time", ".2f"),
                              ("speedup_vs_every_1", "vs every 1", ".2f"),
                              ("frames_processed", "processed", "d"), ("labelled_frames", "labelled", "d")])
    common.finish(args, "video_clip", machine, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
