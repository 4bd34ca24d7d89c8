"""Per-face inference latency: the model alone, the whole photo-to-labels path, and where the time goes.

(a) the model alone on random normalised input, batch 1 and batch 16 (per face);
(b) :func:`ferviz.pipeline.inference.predict_image` on a public-domain sample photo encoded as JPEG bytes
    (decode + detect + crop + preprocess + model + softmax), per face found;
(c) the same path stage by stage: decode, detect (+ crop), preprocess, model (+ softmax) on one view.
For a model with its own test-time views (``ferviz adjust --tta flip``), (b) is also timed with one view only.
All calls are timed in interleaved rounds; ratios are against (a) at batch 1, measured in the same
run. No dataset image is used.

    python bench/inference_latency.py --json /tmp/inference_latency.json
    python bench/inference_latency.py --sample "group of four (tiled astronaut)" --threads 1
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import common
import numpy as np
import torch
from PIL import Image

from ferviz.data.imageio import decode_image
from ferviz.data.preprocess import faces_to_tensor
from ferviz.data.samples import SAMPLES, load_sample
from ferviz.model.checkpoint import LoadedModel, load_checkpoint
from ferviz.paths import DEFAULT_MODEL
from ferviz.pipeline.faces import find_faces
from ferviz.pipeline.inference import predict_image

DEFAULT_SAMPLE = "astronaut (NASA, public domain)"


def jpeg_bytes(rgb: np.ndarray, quality: int = 90) -> bytes:
    """(H, W, 3) uint8 RGB -> JPEG file bytes, as a browser upload would deliver them."""
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def row(stage: str, timing: common.Timing, faces: int, base: float) -> dict:
    per_face = timing.median / faces
    return {"stage": stage, "ms": 1e3 * timing.median, "iqr_ms": 1e3 * timing.iqr, "faces": faces,
            "ms_per_face": 1e3 * per_face, "ratio_vs_model_b1": per_face / base,
            "timing": timing.to_dict()}


def model_call(loaded: LoadedModel, batch: int) -> Callable[[], torch.Tensor]:
    """The network alone on a random normalised (batch, C, S, S) input, in eval mode."""
    prep = loaded.preprocessing
    x = torch.randn(batch, loaded.config.in_channels, prep.size, prep.size)
    return torch.no_grad()(lambda: loaded.model(x))


def stage_calls(loaded: LoadedModel, data: bytes) -> dict[str, Callable[[], object]]:
    """Each stage of :func:`predict_image` on its own, fed with the previous stage's output."""
    prep = loaded.preprocessing
    image = decode_image(data, name="sample.jpg")
    crops = np.stack([f.crop64 for f in find_faces(image.rgb, size=prep.size, margin=prep.face_margin).faces])
    x = faces_to_tensor(crops, prep)
    return {"(c) decode": lambda: decode_image(data, name="sample.jpg"),
            "(c) detect + crop": lambda: find_faces(image.rgb, size=prep.size, margin=prep.face_margin),
            "(c) preprocess": lambda: faces_to_tensor(crops, prep),
            "(c) model + softmax": torch.no_grad()(lambda: torch.softmax(loaded.model(x), dim=1))}


def run(args: argparse.Namespace) -> list[dict]:
    loaded = load_checkpoint(args.model)
    data = jpeg_bytes(load_sample(args.sample))
    n_faces = len(predict_image(loaded, data, name="sample.jpg").faces)
    one_view = replace(loaded, preprocessing=replace(loaded.preprocessing, tta="none"))
    calls = {"(a) model, batch 1": model_call(loaded, 1), "(a) model, batch 16": model_call(loaded, 16),
             "(b) predict_image, all stages": lambda: predict_image(loaded, data, name="sample.jpg"),
             **stage_calls(loaded, data)}
    if loaded.preprocessing.tta != "none":  # what the model's own test-time views cost end to end
        calls["(b) predict_image, one view only"] = lambda: predict_image(one_view, data, name="sample.jpg")
    timings = common.time_interleaved(calls, repeats=args.repeats, warmup=args.warmup)
    faces = {"(a) model, batch 1": 1, "(a) model, batch 16": 16}
    base = timings["(a) model, batch 1"].median
    return [row(name, t, faces.get(name, n_faces), base) for name, t in timings.items()]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL,
                   help="checkpoint (default: the shipped model)")
    p.add_argument("--sample", choices=list(SAMPLES), default=DEFAULT_SAMPLE, help="built-in sample photo")
    p.add_argument("--repeats", type=int, default=20, help="timed calls per measurement")
    p.add_argument("--warmup", type=int, default=3, help="untimed calls before timing")
    return common.add_common_args(p).parse_args(argv)


COLUMNS = [("stage", "stage", "s"), ("ms", "ms/call", ".2f"), ("iqr_ms", "IQR ms", ".2f"),
           ("faces", "faces", "d"), ("ms_per_face", "ms/face", ".2f"),
           ("ratio_vs_model_b1", "vs model batch 1", ".2f")]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    machine = common.start(args, f"Inference latency: {args.model.name} on {args.sample!r} as JPEG, "
                                 f"median of {args.repeats} calls after {args.warmup} warm-up")
    rows = run(args)
    common.print_table(rows, COLUMNS)
    common.finish(args, "inference_latency", machine, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
