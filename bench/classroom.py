"""A classroom server under load: 1, 4, 8 and 16 users against 1 replica and against 2 behind nginx.

Each setup is started with :func:`ferviz.serve.deploy.start` (Streamlit replicas in shared mode behind nginx on
127.0.0.1, the same as ``ferviz serve``); for each number of users, that many Chromium browser contexts
(headless, the system Chromium driven by Playwright, nothing downloaded) open the Predict page, upload a
public-domain photo and wait for "face(s) found", over and over for ``--seconds``. Per row: upload ->
label p50 / p95, rounds, errors (rounds that timed out or failed), throughput, and the resident memory of
each replica after the phase. The ratio column is each p50 over the 1-user, 1-replica p50 of the same
run.

The browsers run on the same machine as the server and take CPU from it: on a 2-core machine the numbers
are an upper bound on what the server alone would show (see bench/README.md for how to read them).

    python bench/classroom.py --users 1 4 8 16 --seconds 60 --json docs/bench/classroom.json
    python bench/classroom.py --soak 1800 --users 4 --replicas 2 --json docs/bench/classroom_soak.json

Faults (``--chaos`` / ``--roll``): the users upload back to back against 2 supervised replicas while a random
replica is killed with SIGKILL every ``--kill-every`` seconds (as the OOM killer would), or while the
replicas are restarted one at a time (what SIGHUP to ``ferviz serve`` does, to roll out a new model). A user
whose upload shows no label within ``--give-up`` seconds counts a failed upload and starts again by opening
the page anew (a reload); "longest gap" is the longest time a user went without a label. ``--http-users``
adds browser-less users (plain requests for the page and its health/config endpoints, keeping nginx's
cookie): what the proxy itself does with a dead replica, without the browsers' CPU.

    python bench/classroom.py --chaos 600 --kill-every 60 --users 4 --http-users 4 \
        --json docs/bench/classroom_chaos.json
    python bench/classroom.py --roll 180 --users 4 --http-users 4 --json docs/bench/classroom_roll.json
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import sys
import tempfile
import time
from pathlib import Path

import common
from app_load import cpu_seconds, drive, machine_busy_seconds, percentiles, rss_mb
from PIL import Image
from skimage import data

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from ferviz.serve.deploy import find_nginx, free_ports, start  # noqa: E402
from tests.browser import CHROMIUM_FLAGS, chromium_path  # noqa: E402


def p95(samples: list[float]) -> float | None:
    if not samples:
        return None
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def phase(url: str, photo: Path, users: int, seconds: float, max_rounds: int, pids: list[int] = ()) -> dict:
    """One load phase; with the replicas' ``pids``, also the CPU the server and everything else used.

    ``server_cpu_s_per_round`` is the CPU time of the replicas' processes (Streamlit, its model, detector
    and ONNX Runtime threads) per finished round (a round opens the Predict page in a new session, which
    shows the default sample's result, switches to uploads and uploads the photo: 3 script runs, 2
    predictions); ``server_cpu_share`` is their part of all the CPU time the machine was busy for during
    the phase, the rest being the browsers, nginx and anything else.
    """
    server0, busy0 = sum(cpu_seconds(p) for p in pids), machine_busy_seconds()
    latencies, failures, wall = asyncio.run(drive(url, photo, users, seconds, max_rounds))
    server, busy = sum(cpu_seconds(p) for p in pids) - server0, machine_busy_seconds() - busy0
    stats = percentiles(latencies)
    return {"users": users, "rounds": len(latencies), "errors": failures, "p50": stats["p50"],
            "p95": p95(latencies), "mean": stats["mean"],
            "throughput_per_min": 60 * len(latencies) / wall if wall else None,
            "server_cpu_s_per_round": server / len(latencies) if pids and latencies else None,
            "server_cpu_share": server / busy if pids and busy > 0 else None}


def soak(url: str, photo: Path, users: int, seconds: float, pids: list[int], every: float) -> list[dict]:
    """``users`` users for ``seconds`` in windows of ``every`` seconds: latency, errors, memory per window."""
    rows, t0 = [], time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        window = min(every, seconds - (time.perf_counter() - t0))
        row = phase(url, photo, users, window, 10_000, pids)
        row.update(minute=round((time.perf_counter() - t0) / 60, 2),
                   rss_mb=[round(rss_mb(p), 1) for p in pids])
        print(row, flush=True)
        rows.append(row)
    return rows


async def faulty_user(browser, url: str, photo: Path, t0: float, seconds: float, give_up: float) -> dict:
    """One user uploading back to back for ``seconds``: when each label came (seconds since ``t0``) and how
    many uploads failed (no label within ``give_up`` seconds, or an error); after a failure the user opens
    the page anew, as a person would reload it."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    done, failed, errors = [], 0, []
    try:
        while time.perf_counter() - t0 < seconds:
            try:
                await page.goto(f"{url}/Predict", wait_until="domcontentloaded", timeout=give_up * 1000)
                await page.get_by_text("upload photos").first.click(timeout=give_up * 1000)
                await page.locator("input[type=file]").first.set_input_files(str(photo), timeout=give_up * 1000)
                await page.get_by_text("face(s) found", exact=False).first.wait_for(timeout=give_up * 1000)
                done.append(time.perf_counter() - t0)
            except Exception as exc:  # noqa: BLE001 - a failed upload is counted, the user reloads
                failed += 1
                errors.append(f"{time.perf_counter() - t0:.0f}s {type(exc).__name__}: {str(exc)[:120]}")
                await asyncio.sleep(1)
    finally:
        await context.close()
    return {"labels_at": done, "failed": failed, "errors": errors}


def http_user(url: str, t0: float, seconds: float, out: dict) -> None:
    """A browser-less user through the proxy for ``seconds``: the requests a page makes without its
    WebSocket (the page, ``/_stcore/health``, ``/_stcore/host-config``) back to back, keeping the replica
    cookie nginx gives it like a browser; fills ``out`` with request counts, failures and the longest time
    between two answered requests."""
    import http.cookiejar
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    ok, failed, last, gap, paths = 0, 0, 0.0, 0.0, ("/Predict", "/_stcore/health", "/_stcore/host-config")
    k = 0
    while time.perf_counter() - t0 < seconds:
        try:
            with opener.open(url + paths[k % len(paths)], timeout=10) as r:
                r.read()
            ok += 1
            now = time.perf_counter() - t0
            gap, last = max(gap, now - last), now
        except OSError:
            failed += 1
        k += 1
        time.sleep(0.1)
    out.update(requests=ok + failed, failed=failed, longest_gap_s=round(max(gap, time.perf_counter() - t0 - last), 2))


async def chaos(dep, photo: Path, users: int, seconds: float, kill_every: float, roll_at: float | None,
                give_up: float, seed: int, http_users: int = 0) -> dict:
    """Drive ``users`` users for ``seconds`` while killing a random up replica every ``kill_every`` seconds
    (``kill_every`` 0: never) or rolling a restart at ``roll_at`` seconds; returns what every user saw."""
    from playwright.async_api import async_playwright

    rng, kills = random.Random(seed), []

    async def killer(t0: float) -> None:
        if roll_at is not None:
            await asyncio.sleep(roll_at)
            dep.rolling_restart()
            kills.append({"at_s": round(time.perf_counter() - t0, 1), "what": "rolling restart"})
            return
        while kill_every and time.perf_counter() - t0 + kill_every < seconds:
            await asyncio.sleep(kill_every)
            up = [c for c in dep.status()["children"] if c["role"] == "replica" and c["state"] == "up"]
            if not up:
                continue
            victim = rng.choice(up)
            os.kill(victim["pid"], signal.SIGKILL)
            kills.append({"at_s": round(time.perf_counter() - t0, 1), "replica": victim["name"],
                          "pid": victim["pid"]})
            print(f"  {kills[-1]['at_s']:.0f} s: killed {victim['name']} (pid {victim['pid']})", flush=True)

    import threading

    http_results = [{} for _ in range(http_users)]
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        try:
            t0 = time.perf_counter()
            threads = [threading.Thread(target=http_user, args=(dep.url, t0, seconds, out), daemon=True)
                       for out in http_results]
            for thread in threads:
                thread.start()
            results = await asyncio.gather(killer(t0), *(faulty_user(browser, dep.url, photo, t0, seconds, give_up)
                                                           for _ in range(users)))
            wall = time.perf_counter() - t0
            for thread in threads:
                thread.join()
        finally:
            await browser.close()
    per_user = results[1:]
    gaps = [max(b - a for a, b in zip([0.0, *u["labels_at"]], [*u["labels_at"], wall], strict=True))
            for u in per_user]
    return {"users": users, "seconds": round(wall, 1), "uploads": sum(len(u["labels_at"]) for u in per_user),
            "failed_uploads": sum(u["failed"] for u in per_user), "longest_gap_s": round(max(gaps), 1),
            "longest_gap_per_user_s": [round(g, 1) for g in gaps], "faults": kills,
            "http_users": http_users, "http_requests": sum(h["requests"] for h in http_results),
            "http_failed": sum(h["failed"] for h in http_results),
            "http_longest_gap_s": max((h["longest_gap_s"] for h in http_results), default=None),
            "errors": [e for u in per_user for e in u["errors"]]}


def fault_run(args, photo: Path, machine: dict) -> int:
    """``--chaos`` or ``--roll``: one run against 2 supervised replicas; prints and records one row."""
    seconds = args.chaos or args.roll
    with start(2, port=free_ports(1)[0], run_dir=args.run_dir) as dep:
        phase(dep.url, photo, 2, 1e9, 1)  # warm both replicas' caches (model, detector) first
        row = asyncio.run(chaos(dep, photo, args.users[0], seconds, args.kill_every if args.chaos else 0,
                                args.roll_at if args.roll else None, args.give_up, args.seed, args.http_users))
        time.sleep(35)  # the last killed replica's restart, before reading the supervisor's counts
        status = dep.status()["children"]
    row.update(mode="chaos" if args.chaos else "rolling restart", replicas=2,
               restarts={c["name"]: c["restarts"] for c in status},
               states={c["name"]: c["state"] for c in status},
               last_exit={c["name"]: c["last_exit"] for c in status},
               labels_per_min=round(60 * row["uploads"] / row["seconds"], 1))
    for key in ("mode", "uploads", "failed_uploads", "longest_gap_s", "longest_gap_per_user_s", "restarts",
                "states", "faults", "http_requests", "http_failed", "http_longest_gap_s"):
        print(f"{key}: {row[key]}")
    for line in row["errors"]:
        print(f"  failed: {line}")
    common.finish(args, "classroom_chaos" if args.chaos else "classroom_roll", machine, [row])
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = common.add_common_args(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--users", type=int, nargs="+", default=[1, 4, 8, 16],
                        help="simulated users per phase")
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2],
                        help="setups: replicas behind nginx")
    parser.add_argument("--seconds", type=float, default=60, help="length of each phase")
    parser.add_argument("--max-rounds", type=int, default=1000, help="uploads per user per phase at most")
    parser.add_argument("--soak", type=float, default=0,
                        help="instead: run --users[0] users for this many seconds against --replicas[0] "
                             "replicas, reporting every --window seconds")
    parser.add_argument("--window", type=float, default=120, help="soak: seconds per report")
    parser.add_argument("--chaos", type=float, default=0,
                        help="instead: --users[0] users for this many seconds against 2 replicas, one killed "
                             "(SIGKILL) every --kill-every seconds")
    parser.add_argument("--kill-every", type=float, default=60, help="chaos: seconds between kills")
    parser.add_argument("--roll", type=float, default=0,
                        help="instead: --users[0] users for this many seconds, a rolling restart at --roll-at")
    parser.add_argument("--roll-at", type=float, default=30, help="roll: when to start the rolling restart")
    parser.add_argument("--give-up", type=float, default=30,
                        help="chaos/roll: seconds a user waits for a label before reloading (a failed upload)")
    parser.add_argument("--http-users", type=int, default=0,
                        help="chaos/roll: also this many browser-less users (plain HTTP requests, no WebSocket)")
    parser.add_argument("--run-dir", help="chaos/roll: keep the proxy's and replicas' logs here")
    parser.add_argument("--seed", type=int, default=0, help="chaos: which replica is killed when")
    args = parser.parse_args(argv)
    if chromium_path() is None or find_nginx() is None:
        sys.exit("needs the system Chromium and nginx: apt-get install -y chromium chromium-driver nginx")
    machine = common.start(args, "ferviz classroom server (replicas behind nginx, Chromium, loopback)")
    photo = Path(tempfile.mkdtemp()) / "astronaut.jpg"
    Image.fromarray(data.astronaut()).save(photo, quality=92)
    rows: list[dict] = []
    if args.chaos or args.roll:
        return fault_run(args, photo, machine)
    if args.soak:
        with start(args.replicas[0], port=free_ports(1)[0]) as dep:
            pids = dep.replica_pids()
            rows = soak(dep.url, photo, args.users[0], args.soak, pids, args.window)
            for row in rows:
                row["replicas"] = args.replicas[0]
        common.finish(args, "classroom_soak", machine, rows)
        return 0
    for replicas in args.replicas:
        with start(replicas, port=free_ports(1)[0]) as dep:
            pids = dep.replica_pids()
            phase(dep.url, photo, 2 * replicas, 1e9, 1)  # warm the replicas' caches (model, detector) first
            for users in args.users:
                measured = phase(dep.url, photo, users, args.seconds, args.max_rounds, pids)
                row = {"replicas": replicas, **measured, "rss_mb": [round(rss_mb(p), 1) for p in pids]}
                print(row, flush=True)
                rows.append(row)
    base = next((r["p50"] for r in rows if r["replicas"] == args.replicas[0] and r["users"] == args.users[0]),
                None)
    for row in rows:
        row["ratio_p50"] = row["p50"] / base if base and row["p50"] else None
    common.print_table(rows, [("replicas", "replicas", "d"), ("users", "users", "d"),
                              ("rounds", "rounds", "d"), ("errors", "errors", "d"), ("p50", "p50 s", ".2f"),
                              ("p95", "p95 s", ".2f"),
                              ("ratio_p50", "p50 ratio", ".2f"),
                              ("throughput_per_min", "labels/min", ".1f"),
                              ("server_cpu_s_per_round", "server CPU s/round", ".3f"),
                              ("server_cpu_share", "server share of CPU", ".2f")])
    common.finish(args, "classroom", machine, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
