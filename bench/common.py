"""Shared helpers for the benchmark scripts: machine description, timing, tables, JSON output.

Every script prints ratios against a baseline measured in the same run (so a busy or slow machine
shifts both sides alike) and can write its results, with the machine they ran on, to ``--json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import time
from collections.abc import Callable, Hashable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import torch

BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # /proc/cpuinfo flags that make CPU bf16 autocast fast


# ----------------------------------------------------------------------------------------------- machine


def _cpuinfo() -> tuple[str, set[str]]:
    """(CPU model name, set of flags) from /proc/cpuinfo; ('unknown', {}) where there is none."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown", set()
    model, flags = "unknown", set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and model == "unknown":
            model = value.strip()
        elif key.strip() == "flags" and not flags:
            flags = set(value.split())
    return model, flags


def machine_info() -> dict:
    """What the numbers depend on: CPU, cores, load, torch version and threads, bf16 support."""
    model, flags = _cpuinfo()
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu_model": model,
        "logical_cores": os.cpu_count(),
        "cores_available": affinity,  # fewer than logical_cores under taskset / a cgroup cpuset
        "load_avg_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "bf16_flags": sorted(flags.intersection(BF16_FLAGS)),  # empty: bf16 autocast is emulated (slow)
    }


def describe_machine(info: dict) -> str:
    """One line for the top of a benchmark's output."""
    bf16 = ", ".join(info["bf16_flags"]) or "no bf16 instructions"
    return (f"{info['cpu_model']}: {info['cores_available']}/{info['logical_cores']} cores available, "
            f"load {info['load_avg_1min']}, torch {info['torch']} (threads: {info['torch_threads']}), "
            f"{info['cpu_capability']} ({bf16})")


# ----------------------------------------------------------------------------------------------- timing


@dataclass(frozen=True)
class Timing:
    """Seconds per call over ``repeats`` timed calls: median and inter-quartile range."""

    median: float
    q1: float
    q3: float
    repeats: int

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1

    def to_dict(self) -> dict:
        return {**asdict(self), "iqr": self.iqr}


def summarize(samples: list[float]) -> Timing:
    """Median and quartiles of a list of seconds."""
    if len(samples) == 1:
        return Timing(samples[0], samples[0], samples[0], 1)
    q1, median, q3 = statistics.quantiles(samples, n=4, method="inclusive")
    return Timing(median, q1, q3, len(samples))


def time_interleaved(calls: dict[Hashable, Callable[[], object]], *, repeats: int, warmup: int = 1,
                     seed: int = 0) -> dict[Hashable, Timing]:
    """Time several calls in rounds, each call once per round in a freshly shuffled order (seeded).

    The shuffling makes a background load that comes and goes hit every call alike, and no call always
    pays for the one before it (e.g. memory a large call just gave back). Each call first runs
    ``warmup`` times untimed, then once per round for ``repeats`` rounds.

    Returns
    -------
    dict
        Each call's :class:`Timing`, under the key it had in ``calls``.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    for fn in calls.values():
        for _ in range(warmup):
            fn()
    names = list(calls)
    samples: dict[Hashable, list[float]] = {name: [] for name in names}
    order = random.Random(seed)
    for _ in range(repeats):
        for name in order.sample(names, len(names)):
            start = time.perf_counter()
            calls[name]()
            samples[name].append(time.perf_counter() - start)
    return {name: summarize(s) for name, s in samples.items()}


def time_call(fn: Callable[[], object], *, repeats: int, warmup: int = 1) -> Timing:
    """Call ``fn`` ``warmup`` times untimed, then ``repeats`` times timed."""
    return time_interleaved({"call": fn}, repeats=repeats, warmup=warmup)["call"]


# ----------------------------------------------------------------------------------------------- output


def print_table(rows: list[dict], columns: list[tuple[str, str, str]]) -> None:
    """Print ``rows`` as an aligned text table; ``columns`` are (key, header, format spec)."""
    cells = [[header for _, header, _ in columns]]
    for row in rows:
        cells.append([format(row[key], spec) if row.get(key) is not None else "-"
                      for key, _, spec in columns])
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    for n, line in enumerate(cells):
        first = line[0].ljust(widths[0])
        print("  ".join([first, *(c.rjust(w) for c, w in zip(line[1:], widths[1:], strict=True))]))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def write_json(path: str | Path, benchmark: str, settings: dict, machine: dict, rows: list[dict]) -> Path:
    """Write one run (settings, machine, result rows) as JSON, so docs can be regenerated from it.

    Paths are written repository-relative (:func:`ferviz.paths.portable_tree`): the file is committed and read
    on other machines.
    """
    from ferviz.paths import portable_tree

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"benchmark": benchmark, "when": datetime.now(UTC).isoformat(timespec="seconds"),
              "settings": settings, "machine": machine, "results": rows}
    path.write_text(json.dumps(portable_tree(record), indent=2) + "\n")
    return path


# ----------------------------------------------------------------------------------------------- command line


def add_common_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (default: torch's own choice, usually the core count)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    return parser


def start(args: argparse.Namespace, title: str) -> dict:
    """Apply ``--threads``, print the title and the machine line; return the machine description."""
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    info = machine_info()
    print(f"{title}\n{describe_machine(info)}")
    load, cores = info["load_avg_1min"], info["logical_cores"]
    if load is not None and load >= 0.75 * cores:
        print(f"note: the machine is busy (load {load} on {cores} cores); the numbers are lower and noisier "
              "than on an idle one, and more threads than free cores can make them far worse "
              "(try --threads 1)")
    print()
    return info


def finish(args: argparse.Namespace, benchmark: str, machine: dict, rows: list[dict]) -> None:
    """Write ``--json`` if it was given (settings are the parsed command line)."""
    if args.json is None:
        return
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    print(f"\nwrote {write_json(args.json, benchmark, settings, machine, rows)}")
