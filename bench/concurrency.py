"""Concurrent visitors on one server process: upload -> label latency with 1 and with N at once.

Each simulated visitor runs :func:`ferviz.pipeline.inference.predict_image` (decode, detect, crop, model) on the
astronaut photo as JPEG bytes in its own thread, as Streamlit runs every browser session's script in its
own thread of one process. For each thread budget (torch, ONNX Runtime and OpenCV threads per request,
``ferviz.serve.jobs.apply_threads``), it measures the median latency of one visitor alone and of ``--users``
visitors sending at the same moment, and prints their ratio. No browser runs, so no client's CPU is in
the measurement: it isolates what the server's thread choice does.

    OMP_NUM_THREADS=... python bench/concurrency.py --users 4 --rounds 30 --json docs/bench/concurrency.json
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import threading
import time

import common
import cv2
import numpy as np
import torch
from PIL import Image

from ferviz.data.samples import load_sample
from ferviz.model.checkpoint import load_checkpoint
from ferviz.paths import DEFAULT_MODEL
from ferviz.pipeline import fastpath
from ferviz.pipeline.inference import predict_image


def jpeg(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def latencies(loaded, data: bytes, users: int, rounds: int) -> list[float]:
    """Seconds per request, ``users`` requests released together per round."""
    out: list[float] = []
    lock = threading.Lock()
    for _ in range(rounds):
        gate = threading.Barrier(users)

        def visitor(gate: threading.Barrier = gate):
            gate.wait()
            start = time.perf_counter()
            predict_image(loaded, data)
            with lock:
                out.append(time.perf_counter() - start)

        threads = [threading.Thread(target=visitor) for _ in range(users)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = common.add_common_args(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--model", default=str(DEFAULT_MODEL), help="checkpoint (default: the shipped model)")
    parser.add_argument("--users", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--budgets", default=None,
                        help="comma-separated threads per request to compare (default: 1 and the core count)")
    args = parser.parse_args(argv)
    machine = common.start(args, f"Concurrency: {args.users} visitors at once against one, per thread budget")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    budgets = [int(b) for b in args.budgets.split(",")] if args.budgets else sorted({1, cores})
    loaded = load_checkpoint(args.model)
    data = jpeg(load_sample("astronaut (NASA, public domain)"))
    rows, before = [], (torch.get_num_threads(), cv2.getNumThreads())
    for threads in budgets:
        torch.set_num_threads(threads)
        cv2.setNumThreads(threads)
        fastpath.clear()  # the ONNX Runtime session takes torch's thread count when it is built
        latencies(loaded, data, 1, 3)  # warm-up: session built, caches filled
        alone = statistics.median(latencies(loaded, data, 1, args.rounds))
        together = latencies(loaded, data, args.users, args.rounds)
        p50 = statistics.median(together)
        rows.append({"threads_per_request": threads, "p50_one_ms": alone * 1000,
                     f"p50_{args.users}_ms": p50 * 1000, "p90_ms": float(np.percentile(together, 90)) * 1000,
                     "ratio": p50 / alone})
    torch.set_num_threads(before[0])
    cv2.setNumThreads(before[1])
    fastpath.clear()
    common.print_table(rows, [("threads_per_request", "threads/request", "d"),
                              ("p50_one_ms", "p50 one", ".1f"),
                              (f"p50_{args.users}_ms", f"p50 {args.users} at once", ".1f"),
                              ("p90_ms", "p90", ".1f"), ("ratio", "ratio", ".2f")])
    common.finish(args, "concurrency", machine, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
