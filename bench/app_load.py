"""The app under load, in a real browser: cold start, upload-to-prediction latency, concurrent users.

Starts ``streamlit run app.py`` on 127.0.0.1 (the same launcher as the browser test), then drives the
system Chromium with Playwright (nothing downloaded; all traffic stays on the loopback address):

1. cold start: seconds from launching the server to ``/_stcore/health`` answering, and to the home
   page showing the model card in the browser;
2. upload-to-prediction: one user uploads a public-domain photo on the Predict page, repeatedly;
   the time from setting the file to "face(s) found" being shown;
3. concurrent users: N browser contexts do the same at once for a bounded time; latency percentiles
   (p50/p90/p99), throughput, failures, and the server's resident memory before and after (growth).

The ratio column compares each phase's median with the single-user median measured in the same run.

    python bench/app_load.py --users 4 --seconds 60 --json docs/bench/app_load.json
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import common
from PIL import Image
from skimage import data

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.browser import CHROMIUM_FLAGS, chromium_path, streamlit_server  # noqa: E402  (shared launcher)


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (the Streamlit server), in MiB."""
    total = 0
    for proc in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{proc}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process and its children have used so far, in seconds (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for proc in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{proc}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return total / tick


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine has spent busy since boot (/proc/stat: all but idle, iowait)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(k) for k in kids]


def percentiles(samples: list[float]) -> dict:
    if not samples:
        return {"n": 0, "p50": None, "p90": None, "p99": None, "mean": None}
    qs = statistics.quantiles(samples, n=100, method="inclusive") if len(samples) > 1 else [samples[0]] * 99
    return {"n": len(samples), "p50": qs[49], "p90": qs[89], "p99": qs[98], "mean": statistics.fmean(samples)}


async def one_upload(page, url: str, photo: Path) -> float:
    """Open the Predict page, upload ``photo`` and wait for the result; seconds from upload to result."""
    await page.goto(f"{url}/Predict", wait_until="domcontentloaded")
    await page.get_by_text("upload photos").first.click(timeout=60_000)
    start = time.perf_counter()
    await page.locator("input[type=file]").first.set_input_files(str(photo), timeout=60_000)
    await page.get_by_text("face(s) found", exact=False).first.wait_for(timeout=120_000)
    return time.perf_counter() - start


async def user_loop(browser, url: str, photo: Path, deadline: float,
                    max_rounds: int) -> tuple[list[float], int]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    latencies, failures = [], 0
    try:
        while time.perf_counter() < deadline and len(latencies) + failures < max_rounds:
            try:
                latencies.append(await one_upload(page, url, photo))
            except Exception:  # noqa: BLE001 - a timed-out round is counted, the user goes on
                failures += 1
    finally:
        await context.close()
    return latencies, failures


async def drive(url: str, photo: Path, users: int, seconds: float, max_rounds: int):
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        try:
            deadline = time.perf_counter() + seconds
            start = time.perf_counter()
            results = await asyncio.gather(*(user_loop(browser, url, photo, deadline, max_rounds)
                                             for _ in range(users)))
            wall = time.perf_counter() - start
        finally:
            await browser.close()
    latencies = [x for lat, _ in results for x in lat]
    return latencies, sum(f for _, f in results), wall


async def first_render(url: str) -> float:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        page = await browser.new_page()
        start = time.perf_counter()
        await page.goto(url, wait_until="domcontentloaded")
        await page.get_by_text("sha256", exact=False).first.wait_for(timeout=120_000)
        elapsed = time.perf_counter() - start
        await browser.close()
    return elapsed


def main(argv: list[str] | None = None) -> list[dict]:
    parser = common.add_common_args(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--users", type=int, default=4, help="concurrent simulated users")
    parser.add_argument("--seconds", type=float, default=60, help="bound on the concurrent phase")
    parser.add_argument("--single-rounds", type=int, default=5, help="uploads in the single-user phase")
    parser.add_argument("--max-rounds", type=int, default=50, help="uploads per user at most")
    args = parser.parse_args(argv)
    if chromium_path() is None:
        sys.exit("no system Chromium: apt-get install -y chromium chromium-driver")
    machine = common.start(args, "ferviz app under load (streamlit run + headless Chromium, 127.0.0.1)")
    photo = Path(tempfile.mkdtemp()) / "astronaut.jpg"
    Image.fromarray(data.astronaut()).save(photo, quality=92)
    launched = time.perf_counter()
    with streamlit_server() as server:
        url, pid = server.url, server.pid
        healthy = time.perf_counter() - launched
        render = asyncio.run(first_render(url))
        single, _, _ = asyncio.run(drive(url, photo, 1, 600, args.single_rounds))
        before = rss_mb(pid) if pid else None
        many, failures, wall = asyncio.run(drive(url, photo, args.users, args.seconds, args.max_rounds))
        after = rss_mb(pid) if pid else None
    base = percentiles(single)["p50"]
    rows = [
        {"phase": "cold start: server healthy", "seconds": healthy},
        {"phase": "cold start: home page rendered", "seconds": render},
        {"phase": "1 user: upload -> prediction", **percentiles(single), "ratio": 1.0},
        {"phase": f"{args.users} users: upload -> prediction", **percentiles(many), "failures": failures,
         "throughput_per_min": 60 * len(many) / wall if wall else None,
         "ratio": percentiles(many)["p50"] / base if base and many else None,
         "rss_before_mb": before, "rss_after_mb": after},
    ]
    for row in rows:
        print({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()})
    common.finish(args, "app_load", machine, rows)
    return rows


if __name__ == "__main__":
    main()
