"""Attributions for a new face: seconds per Captum method, and the Attributions page's work for one face.

For the public-domain astronaut's face and the shipped default model (torch, as the explain pages use):

1. each method alone (``ferviz.explain.attributions.timed_attribution``: private copy + Captum), in
   interleaved rounds; the baseline is Saliency (one backward pass);
2. what the Attributions page computes for a new face with its default selection (Integrated
   Gradients, Saliency, Grad-CAM): each map, its deletion/insertion curves against the shared random
   order, its sanity check with randomised weights, and the attention map's curves, in the order the
   page runs them. Nothing is cached between rounds (a new face each time, as far as the work goes).

    python bench/attributions.py --threads 1 --json docs/bench/attributions.json
"""

from __future__ import annotations

import argparse
import sys

import common

import ferviz.explain.attention as att
from ferviz.data.samples import SAMPLES, load_sample
from ferviz.explain.attributions import METHODS, timed_attribution
from ferviz.explain.faithfulness import deletion_insertion, random_curves, sanity_check
from ferviz.model.checkpoint import load_checkpoint
from ferviz.paths import DEFAULT_MODEL
from ferviz.pipeline.inference import predict

PAGE_DEFAULT = ("integrated_gradients", "saliency", "grad_cam")  # pages/4_Attributions.py's selection


def page_work(loaded, crop, methods=PAGE_DEFAULT, baseline: str = "blur") -> None:
    """The Attributions page's computations for one new face (ferviz.ui.explain.attribution_results)."""
    x = att.face_input(loaded, crop)
    aset = att.face_attention(loaded, crop)  # probabilities and maps (the page shows both)
    target = int(aset.probs.argmax())
    random = random_curves(loaded, x, target, baseline=baseline)
    for method in methods:
        a = timed_attribution(loaded, x, method, target)
        deletion_insertion(loaded, x, a.heat, target, baseline=baseline, random=random)
        sanity_check(loaded, x, method, target, trained=a.heat)
    if aset.spatial:
        heat = att.received_map(aset, len(aset.spatial) - 1)
        deletion_insertion(loaded, x, heat, target, baseline=baseline, random=random)


def main(argv: list[str] | None = None) -> int:
    parser = common.add_common_args(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--model", default=str(DEFAULT_MODEL), help="checkpoint (default: the shipped model)")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds")
    args = parser.parse_args(argv)
    machine = common.start(args, "Attributions for one new face (torch model, as on the explain pages)")
    loaded = load_checkpoint(args.model)
    crop = predict(loaded, load_sample(next(iter(SAMPLES)))).faces[0].crop
    x = att.face_input(loaded, crop)
    calls = {m: (lambda m=m: timed_attribution(loaded, x, m)) for m in METHODS}
    calls["page: default selection, new face"] = lambda: page_work(loaded, crop)
    timings = common.time_interleaved(calls, repeats=args.repeats, warmup=1)
    base = timings["saliency"].median
    rows = [{"what": METHODS[k].title if k in METHODS else k, "key": k, **t.to_dict(),
             "ratio_vs_saliency": t.median / base,
             "target_s": 2.0 if k not in METHODS else 0.5} for k, t in timings.items()]
    for row in rows:
        row["meets_target"] = row["median"] <= row["target_s"]
    common.print_table(rows, [("what", "what", "s"), ("median", "median s", ".3f"), ("iqr", "IQR s", ".3f"),
                              ("ratio_vs_saliency", "vs Saliency", ".1f"), ("target_s", "target s", ".1f")])
    common.finish(args, "attributions", machine, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
