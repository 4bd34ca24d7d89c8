"""Training throughput (images/s) of every model variant, fp32 vs bf16 autocast, on random 64x64 inputs.

One timed call is one real training step of :class:`ferviz.train.engine.Trainer` (uint8 planes -> tensor,
augmentation, forward under autocast, loss, backward, Adam step) on a one-batch random dataset, so
the numbers include everything an epoch costs except the end-of-epoch evaluation. All pairs are
timed in interleaved rounds (one step of each, then again), so a background load that comes and goes
hits them alike; ratios are against ``cnn_bilstm`` in fp32, always measured in the same run.

    python bench/train_throughput.py --json /tmp/train_throughput.json
    python bench/train_throughput.py --variants dcnn_bilstm_dam,cnn_lstm --steps 5 --threads 2
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable

import common
import numpy as np

from ferviz.data.labels import EMOTIONS
from ferviz.data.preprocess import Preprocessing
from ferviz.model.network import VARIANTS
from ferviz.train.engine import ArrayData, TrainConfig, Trainer

BASELINE = ("cnn_bilstm", "fp32")
FER2013_TRAIN = 28_709  # images in FER2013's Training split


def random_batch(in_channels: int, batch: int, size: int = 64, seed: int = 0) -> ArrayData:
    """One batch of random uint8 planes (batch, in_channels, size, size) and labels (no dataset image)."""
    rng = np.random.default_rng(seed)
    planes = rng.integers(0, 256, (batch, in_channels, size, size), dtype=np.uint8)
    labels = rng.integers(0, len(EMOTIONS), batch).astype(np.int64)
    return ArrayData(planes, labels)


def make_step(variant: str, precision: str, args: argparse.Namespace, out_dir: str) -> Callable[[], dict]:
    """One training step of ``variant`` in ``precision`` on one random batch, as a call to time."""
    cfg = VARIANTS[variant]
    train_cfg = TrainConfig(batch_size=args.batch, bf16=precision == "bf16", augment=not args.no_augment)
    trainer = Trainer(cfg, train_cfg, Preprocessing(input_mode=cfg.input_mode), list(EMOTIONS), out_dir,
                      variant=variant)
    data = random_batch(cfg.in_channels, args.batch)
    return lambda: trainer.train_epoch(data, 0)  # a one-batch "epoch" is exactly one step


def to_row(variant: str, precision: str, timing: common.Timing, batch: int) -> dict:
    images_per_s = batch / timing.median
    return {"variant": variant, "precision": precision, "ms_per_step": 1e3 * timing.median,
            "iqr_ms": 1e3 * timing.iqr, "images_per_s": images_per_s,
            "min_per_fer2013_epoch": FER2013_TRAIN / images_per_s / 60, "timing": timing.to_dict()}


def plan(variants: list[str], precisions: list[str]) -> list[tuple[str, str]]:
    """The (variant, precision) pairs to run, the baseline first and never twice."""
    pairs = [(v, p) for v in variants for p in precisions]
    return [BASELINE, *(pair for pair in pairs if pair != BASELINE)]


def run(args: argparse.Namespace) -> list[dict]:
    pairs = plan(args.variants, args.precisions)
    print(f"timing {len(pairs)} (variant, precision) pairs in {args.steps} interleaved rounds ...",
          flush=True)
    with tempfile.TemporaryDirectory() as out_dir:  # Trainer wants a run folder; train_epoch writes nothing
        calls = {pair: make_step(*pair, args, out_dir) for pair in pairs}
        timings = common.time_interleaved(calls, repeats=args.steps, warmup=args.warmup)
    rows = [to_row(v, p, timings[(v, p)], args.batch) for v, p in pairs]
    base = rows[0]["images_per_s"]
    for row in rows:
        row["ratio_vs_baseline"] = row["images_per_s"] / base
    return rows


def parse_list(text: str, allowed) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [t for t in items if t not in allowed]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown {', '.join(unknown)}; choose from {', '.join(allowed)}")
    return items


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--variants", type=lambda s: parse_list(s, VARIANTS), default=list(VARIANTS),
                   help="comma-separated variant names (default: all of ferviz.model.network.VARIANTS)")
    p.add_argument("--precisions", type=lambda s: parse_list(s, ("fp32", "bf16")), default=["fp32", "bf16"],
                   help="comma-separated: fp32, bf16 (CPU autocast)")
    p.add_argument("--batch", type=int, default=64, help="images per step")
    p.add_argument("--steps", type=int, default=3,
                   help="timed steps (interleaved rounds) per (variant, precision)")
    p.add_argument("--warmup", type=int, default=2,
                   help="untimed steps per (variant, precision) before timing")
    p.add_argument("--no-augment", action="store_true", help="leave out the batch augmentation")
    return common.add_common_args(p).parse_args(argv)


COLUMNS = [("variant", "variant", "s"), ("precision", "precision", "s"), ("ms_per_step", "ms/step", ".0f"),
           ("iqr_ms", "IQR ms", ".0f"), ("images_per_s", "images/s", ".1f"),
           ("ratio_vs_baseline", "vs cnn_bilstm fp32", ".2f"), ("min_per_fer2013_epoch", "min/epoch", ".1f")]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    machine = common.start(args, f"Training throughput, batch {args.batch}, {args.steps} timed steps "
                                 f"after {args.warmup} warm-up (min/epoch: {FER2013_TRAIN:,} FER2013 images)")
    rows = run(args)
    common.print_table(rows, COLUMNS)
    common.finish(args, "train_throughput", machine, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
