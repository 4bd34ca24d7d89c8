"""Speed of the PCP activation (docs/DESIGN.md §5, eq. 19) against ReLU, GELU and leaky ReLU.

Forward (no autograd) and forward + backward on one large random tensor, by default (64, 81, 128):
a batch of 64, 81 tokens, 128 channels, which is what each ILM gate of the default model sees.
PCP is :func:`ferviz.model.network.pcp` with the model's defaults (knot a = 1, alpha = 0.1), leaky ReLU uses
the same slope 0.1. All eight calls are timed in interleaved rounds; ratios are against ReLU,
measured in the same run.

    python bench/pcp_speed.py --json /tmp/pcp_speed.json
    python bench/pcp_speed.py --shape 64,256,128 --dtype bfloat16 --threads 1
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import common
import torch
import torch.nn.functional as F

from ferviz.model.network import FULL, pcp

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": F.relu,  # the baseline
    "gelu": F.gelu,
    "leaky_relu": lambda x: F.leaky_relu(x, FULL.pcp_alpha),
    "pcp": lambda x: pcp(x, FULL.pcp_knot, FULL.pcp_alpha),
}
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def forward_call(act, x: torch.Tensor) -> Callable[[], object]:
    def step():
        with torch.no_grad():
            return act(x)

    return step


def backward_call(act, x: torch.Tensor) -> Callable[[], object]:
    """Forward then backward with a fixed upstream gradient (no reduction cost in the timing)."""
    leaf = x.detach().clone().requires_grad_(True)
    upstream = torch.ones_like(x)

    def step():
        leaf.grad = None
        act(leaf).backward(upstream)

    return step


def run(args: argparse.Namespace) -> list[dict]:
    x = torch.randn(*args.shape, generator=torch.Generator().manual_seed(0)).to(DTYPES[args.dtype])
    calls = {(name, "forward"): forward_call(act, x) for name, act in ACTIVATIONS.items()}
    calls |= {(name, "fwd_bwd"): backward_call(act, x) for name, act in ACTIVATIONS.items()}
    t = common.time_interleaved(calls, repeats=args.repeats, warmup=args.warmup)
    relu_fwd, relu_both = t[("relu", "forward")].median, t[("relu", "fwd_bwd")].median
    rows = []
    for name in ACTIVATIONS:
        fwd, both = t[(name, "forward")], t[(name, "fwd_bwd")]
        rows.append({"activation": name, "forward_ms": 1e3 * fwd.median, "forward_iqr_ms": 1e3 * fwd.iqr,
                     "forward_vs_relu": fwd.median / relu_fwd, "fwd_bwd_ms": 1e3 * both.median,
                     "fwd_bwd_iqr_ms": 1e3 * both.iqr, "fwd_bwd_vs_relu": both.median / relu_both,
                     "forward": fwd.to_dict(), "fwd_bwd": both.to_dict()})
    return rows


def parse_shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError("expected comma-separated sizes such as 64,81,128, "
                                         f"got {text!r}") from None
    if not shape or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"every size must be at least 1, got {text!r}")
    return shape


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shape", type=parse_shape, default=(64, 81, 128), help="tensor shape, e.g. 64,81,128")
    p.add_argument("--dtype", choices=list(DTYPES), default="float32")
    p.add_argument("--repeats", type=int, default=50, help="timed calls per measurement")
    p.add_argument("--warmup", type=int, default=5, help="untimed calls before timing")
    return common.add_common_args(p).parse_args(argv)


COLUMNS = [("activation", "activation", "s"), ("forward_ms", "forward ms", ".3f"),
           ("forward_iqr_ms", "IQR", ".3f"), ("forward_vs_relu", "vs ReLU", ".2f"),
           ("fwd_bwd_ms", "fwd+bwd ms", ".3f"), ("fwd_bwd_iqr_ms", "IQR", ".3f"),
           ("fwd_bwd_vs_relu", "vs ReLU", ".2f")]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    shape = "x".join(map(str, args.shape))
    machine = common.start(args, f"Activation speed on a {shape} {args.dtype} tensor, median of "
                                 f"{args.repeats} calls after {args.warmup} warm-up")
    rows = run(args)
    common.print_table(rows, COLUMNS)
    common.finish(args, "pcp_speed", machine, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
