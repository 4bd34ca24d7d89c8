"""How fast can the model be on this core? Its FLOPs per face against the core's measured matmul rate.

For the default checkpoint (and, with ``--widths``, randomly initialised copies of the same architecture
with narrower conv channels) this counts the floating-point operations of one face's forward pass
(``torch.utils.flop_counter`` for convolutions and matrix products, the LSTM counted by hand because the
counter does not see it; 2 FLOPs per multiply-add, element-wise work left out), times the network on
ONNX Runtime (the app's fast path) and plain torch at batch 1, and times a large square matrix product
**in the same interleaved rounds** in fp32 (torch, NumPy's BLAS and ONNX Runtime; the fastest of the
three is the fp32 rate) and bf16 (torch): a large matrix product is the most a core does per second
with these libraries, so FLOPs / that rate is a floor under the time per face that no engine of that
precision beats.

    python bench/roofline.py --threads 1 --json docs/bench/roofline.json
    python bench/roofline.py --threads 1 --widths 32,64,128 16,32,64 8,16,32
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import common
import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from ferviz.model.checkpoint import load_checkpoint
from ferviz.model.network import build_model
from ferviz.paths import DEFAULT_MODEL
from ferviz.pipeline.fastpath import export_onnx


def lstm_flops(lstm: torch.nn.LSTM, steps: int) -> int:
    """FLOPs of one sequence of ``steps`` through ``lstm`` (gates' matrix products only, 2 per MAC)."""
    directions = 2 if lstm.bidirectional else 1
    total, width = 0, lstm.input_size
    for _ in range(lstm.num_layers):
        total += directions * steps * 2 * 4 * lstm.hidden_size * (width + lstm.hidden_size)
        width = lstm.hidden_size * directions
    return total


def model_flops(model: torch.nn.Module, x: torch.Tensor) -> dict[str, int]:
    """FLOPs of ``model(x)`` for one face (``x`` has batch 1), by kind: conv, matmul, lstm and total."""
    if x.shape[0] != 1:
        raise ValueError(f"count FLOPs for one face: batch 1, got {x.shape[0]}")
    steps: list[tuple[torch.nn.LSTM, int]] = []
    hooks = [m.register_forward_hook(lambda mod, args, out: steps.append((mod, args[0].shape[1])))
             for m in model.modules() if isinstance(m, torch.nn.LSTM)]  # a local model, never the app's
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(x)
    finally:
        for hook in hooks:
            hook.remove()
    by_op = {str(op): n for op, n in counter.get_flop_counts()["Global"].items()}
    conv = sum(n for op, n in by_op.items() if "convolution" in op)
    matmul = sum(n for op, n in by_op.items() if "convolution" not in op)
    lstm = sum(lstm_flops(mod, n) for mod, n in steps)
    return {"conv": conv, "matmul": matmul, "lstm": lstm, "total": conv + matmul + lstm}


def onnx_session(model: torch.nn.Module, channels: int, size: int, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads, options.log_severity_level = threads, 1, 3
    graph = export_onnx(model, channels, size)
    return ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])


def matmul_session(n: int, threads: int):
    """ONNX Runtime session of one (n, n) @ (n, n) fp32 product (the weight a constant, like a layer's)."""

    class Product(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.randn(n, n))

        def forward(self, a):
            return a @ self.w

    import io

    import onnxruntime as ort

    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the exporter's deprecation notes
        torch.onnx.export(Product().eval(), torch.zeros(n, n), buf, input_names=["x"], opset_version=17,
                          dynamo=False)
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads, options.log_severity_level = threads, 1, 3
    return ort.InferenceSession(buf.getvalue(), options, providers=["CPUExecutionProvider"])


def _widths(text: str) -> tuple[int, int, int]:
    parts = tuple(int(v) for v in text.split(","))
    if len(parts) != 3 or min(parts) < 1:
        raise argparse.ArgumentTypeError(f"--widths wants 3 positive channel counts (16,32,64), got {text}")
    return parts  # type: ignore[return-value]


def main(argv: list[str] | None = None) -> int:
    parser = common.add_common_args(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--widths", type=_widths, nargs="*", default=[],
                        help="also time untrained copies with these conv channels (C1,C2,C3), e.g. 16,32,64")
    parser.add_argument("--matmul", type=int, default=1024, help="side of the square matrices (default 1024)")
    parser.add_argument("--target-ms", type=float, default=1.0, help="the per-face target to compare with")
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args(argv)
    machine = common.start(args, "Roofline: FLOPs per face against this core's measured matmul rate")
    threads = torch.get_num_threads()
    loaded = load_checkpoint(args.model)
    cfg, prep = loaded.config, loaded.preprocessing
    x = torch.randn(1, cfg.in_channels, prep.size, prep.size)
    nets = {f"{args.model.stem} (shipped, channels {','.join(map(str, cfg.channels))})": loaded.model.eval()}
    for widths in args.widths:
        torch.manual_seed(0)
        nets[f"same architecture, channels {','.join(map(str, widths))} (untrained)"] = build_model(
            loaded.variant, channels=widths, input_mode=cfg.input_mode).eval()
    flops = {name: model_flops(net, x) for name, net in nets.items()}
    sessions = {name: onnx_session(net, cfg.in_channels, prep.size, threads) for name, net in nets.items()}
    n = args.matmul
    a32, b32 = torch.randn(n, n), torch.randn(n, n)
    a16, b16 = a32.bfloat16(), b32.bfloat16()
    n32, m32 = a32.numpy(), b32.numpy()
    product = matmul_session(n, threads)
    feed = np.ascontiguousarray(x.numpy(), dtype=np.float32)
    calls = {"matmul fp32 torch": lambda: torch.mm(a32, b32), "matmul fp32 numpy": lambda: n32 @ m32,
             "matmul fp32 ONNX Runtime": lambda: product.run(None, {"x": n32}),
             "matmul bf16 torch": lambda: torch.mm(a16, b16)}
    first = next(iter(nets))
    calls[("torch", first)] = lambda: nets[first](x)
    for name, session in sessions.items():
        calls[("onnx", name)] = lambda s=session: s.run(None, {"x": feed})
    with torch.no_grad():
        timed = common.time_interleaved(calls, repeats=args.repeats, warmup=3)
    matmul_flops = 2 * n ** 3
    rates = {key: matmul_flops / t.median for key, t in timed.items() if isinstance(key, str)}  # FLOP/s
    peak = {"fp32": max(r for key, r in rates.items() if "fp32" in key), "bf16": rates["matmul bf16 torch"]}
    rows = [{"what": f"{key} {n}x{n}", "mflops_per_face": None, "ms_per_face": None, "gflops": r / 1e9,
             "pct_of_fp32_peak": 100 * r / peak["fp32"], "floor_ms": None, "target_needs_x_peak": None}
            for key, r in rates.items()]
    for (engine, name), t in ((key, t) for key, t in timed.items() if isinstance(key, tuple)):
        f = flops[name]["total"]
        rows.append({"what": f"{name}: {'ONNX Runtime' if engine == 'onnx' else 'plain torch'}",
                     "engine": engine, "mflops_per_face": f / 1e6, "ms_per_face": t.median * 1000,
                     "iqr_ms": t.iqr * 1000, "gflops": f / t.median / 1e9,
                     "pct_of_fp32_peak": 100 * f / t.median / peak["fp32"],
                     "floor_ms": 1000 * f / peak["fp32"], "floor_bf16_ms": 1000 * f / peak["bf16"],
                     "target_needs_x_peak": f / (args.target_ms / 1000) / peak["fp32"],
                     "flops": flops[name]})
    print(f"batch 1, one face; FLOPs = 2 per multiply-add; fp32 peak = the fastest fp32 matmul "
          f"({peak['fp32'] / 1e9:.1f} GFLOP/s); floor = FLOPs / that peak; 'x peak' = the rate "
          f"{args.target_ms:g} ms per face needs, over that peak\n")
    common.print_table(rows, [("what", "what", ""), ("mflops_per_face", "MFLOP/face", ".1f"),
                              ("ms_per_face", "ms/face", ".2f"), ("gflops", "GFLOP/s", ".1f"),
                              ("pct_of_fp32_peak", "% fp32 peak", ".0f"), ("floor_ms", "floor ms", ".2f"),
                              ("target_needs_x_peak", "x peak", ".2f")])
    shipped = flops[first]
    print(f"\n{first}: conv {shipped['conv'] / 1e6:.1f}, matmul {shipped['matmul'] / 1e6:.1f}, "
          f"LSTM {shipped['lstm'] / 1e6:.1f} MFLOP per face")
    common.finish(args, "roofline", machine, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
