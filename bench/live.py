"""The Live page with Chromium's fake camera: video fps shown, label refreshes per second, memory over time.

Starts ``streamlit run app.py`` on 127.0.0.1 (the launcher of ``tests/pages/test_browser_live.py``, which can
list the server's threads), writes a clip of the public-domain astronaut sliding slowly (YUV4MPEG2),
opens the Live page in the system Chromium with that clip as its camera, presses START and then, every
``--sample-seconds`` for ``--minutes``, records:

- **video shown**: frames the page's ``<video>`` presented per second (``requestVideoFrameCallback``),
  i.e. the annotated stream as the viewer sees it, and frames decoded (``getVideoPlaybackQuality``);
- **labels refreshed**: analyses per second (new boxes and labels drawn on the video), from the
  counts the page shows (frames given minus frames skipped), and the processing fps the page shows;
- **text**: whether a ``Face #N: label P%`` line was on the page;
- **server memory**: resident set size of the server process (``/proc/PID/status``), and its threads.

At the end the stream is stopped and the stream's threads still alive are listed (none is the goal).
The memory trend is a least-squares slope over the samples after the first minute (warm-up: the model
export, codec start), in MiB per minute. There is no baseline to compare with: the targets are absolute
(video >= 15 fps, labels >= 5 per second, memory flat), so the script prints them beside the numbers.

    python bench/live.py --minutes 10 --json docs/bench/live.json
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import common
from skimage import data

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from app_load import rss_mb  # noqa: E402  (the same RSS reader as the load benchmark)

from ferviz.pipeline.live import sliding_frames, write_y4m  # noqa: E402
from tests.browser import chromium_path  # noqa: E402
from tests.pages.test_browser_live import LABEL, camera, fake_camera_browser, live_server, open_live  # noqa: E402

SPEED = re.compile(r"processing ([\d.]+) fps · video ([\d.]+) fps · (\d+) of (\d+) frames skipped")
COUNT_FRAMES = """() => {
  const v = document.querySelector('video');
  if (!v || window.__fervizFrames !== undefined) return !!v;
  window.__fervizFrames = 0;
  const tick = () => { window.__fervizFrames++; v.requestVideoFrameCallback(tick); };
  v.requestVideoFrameCallback(tick);
  return true;
}"""
READ_FRAMES = """() => {
  const v = document.querySelector('video');
  const q = v && v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality() : null;
  return [window.__fervizFrames || 0, q ? q.totalVideoFrames : 0, performance.now()];
}"""


def slope_per_minute(times: list[float], values: list[float]) -> float | None:
    """Least-squares slope of values against times (seconds), per minute; None with fewer than 2 points."""
    if len(times) < 2:
        return None
    mt, mv = statistics.fmean(times), statistics.fmean(values)
    den = sum((t - mt) ** 2 for t in times)
    return 60 * sum((t - mt) * (v - mv) for t, v in zip(times, values, strict=True)) / den if den else None


def video_frame(page):
    """The Playwright Frame of the camera component's iframe (where the <video> is)."""
    handle = page.locator("iframe[title*='webrtc']").first.element_handle(timeout=60_000)
    return handle.content_frame()


def measure(url: str, server, clip: Path, minutes: float, every: float) -> tuple[list[dict], dict]:
    rows: list[dict] = []
    with fake_camera_browser(clip) as browser:
        page = open_live(browser, url)
        camera(page).get_by_role("button", name="START").click(timeout=60_000)
        page.get_by_text(LABEL).first.wait_for(timeout=120_000)
        frame = video_frame(page)
        assert frame.evaluate(COUNT_FRAMES), "no <video> element in the camera component"
        start = time.perf_counter()
        last = None
        while time.perf_counter() - start < minutes * 60:
            presented, decoded, now_ms = frame.evaluate(READ_FRAMES)
            text = page.inner_text("body")
            speed = SPEED.search(text)
            given = int(speed.group(4)) if speed else None
            analysed = given - int(speed.group(3)) if speed else None
            row = {"t_s": round(time.perf_counter() - start, 1), "rss_mb": rss_mb(server.pid),
                   "threads": len(server.thread_names()), "label_shown": bool(LABEL.search(text)),
                   "processing_fps_page": float(speed.group(1)) if speed else None,
                   "video_fps_server": float(speed.group(2)) if speed else None}
            if last is not None:
                dt = (now_ms - last["now_ms"]) / 1000
                row["video_fps_shown"] = (presented - last["presented"]) / dt
                row["video_fps_decoded"] = (decoded - last["decoded"]) / dt
                if analysed is not None and last["analysed"] is not None:
                    row["labels_per_s"] = (analysed - last["analysed"]) / dt
                rows.append(row)
                print({k: round(v, 1) if isinstance(v, float) else v for k, v in row.items()}, flush=True)
            last = {"presented": presented, "decoded": decoded, "now_ms": now_ms, "analysed": analysed}
            time.sleep(every)
        page.screenshot(path=str(Path(tempfile.gettempdir()) / "ferviz_bench_live.png"))
        camera(page).get_by_role("button", name="STOP").click(timeout=30_000)
        page.get_by_text("Not streaming").first.wait_for(timeout=60_000)
        left = server.wait_no_stream_threads(30)
        end = {"stream_threads_left_after_stop": left, "rss_after_stop_mb": rss_mb(server.pid)}
    return rows, end


def summarise(rows: list[dict], end: dict, warmup_s: float) -> dict:
    def median(key: str) -> float | None:
        values = [r[key] for r in rows if r.get(key) is not None]
        return statistics.median(values) if values else None

    steady = [r for r in rows if r["t_s"] >= warmup_s] or rows
    rss = [r["rss_mb"] for r in steady]
    return {
        "samples": len(rows), "minutes": round(rows[-1]["t_s"] / 60, 2) if rows else 0,
        "video_fps_shown_median": median("video_fps_shown"),
        "video_fps_shown_min": min((r["video_fps_shown"] for r in rows), default=None),
        "video_fps_decoded_median": median("video_fps_decoded"),
        "labels_per_s_median": median("labels_per_s"),
        "labels_per_s_min": min((r["labels_per_s"] for r in rows if r.get("labels_per_s") is not None),
                                default=None),
        "label_text_shown_fraction": sum(r["label_shown"] for r in rows) / len(rows) if rows else None,
        "rss_mb_first": rss[0] if rss else None, "rss_mb_last": rss[-1] if rss else None,
        "rss_mb_max_minus_min": max(rss) - min(rss) if rss else None,
        "rss_slope_mb_per_min": slope_per_minute([r["t_s"] for r in steady], rss),
        **end,
    }


def main(argv: list[str] | None = None) -> list[dict]:
    parser = common.add_common_args(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--minutes", type=float, default=2.0, help="how long the stream runs")
    parser.add_argument("--sample-seconds", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--warmup-seconds", type=float, default=60.0,
                        help="samples before this are left out of the memory trend")
    parser.add_argument("--fps", type=int, default=30, help="frame rate of the fake camera's clip")
    args = parser.parse_args(argv)
    if chromium_path() is None:
        sys.exit("no system Chromium: apt-get install -y chromium chromium-driver")
    machine = common.start(args, "ferviz Live page: Chromium fake camera -> WebRTC -> server -> back "
                                 "(127.0.0.1, no STUN/TURN)")
    with tempfile.TemporaryDirectory(prefix="ferviz_bench_live_") as tmp:
        clip = write_y4m(Path(tmp) / "astronaut.y4m",
                         sliding_frames(data.astronaut(), width=640, height=480, n=args.fps, travel=40),
                         fps=args.fps)
        with live_server(Path(tmp)) as server:
            rows, end = measure(server.url, server, clip, args.minutes, args.sample_seconds)
    summary = summarise(rows, end, args.warmup_seconds)
    print("\nsummary (targets: video shown >= 15 fps, labels >= 5 per second, memory flat)")
    for key, value in summary.items():
        print(f"  {key}: {round(value, 2) if isinstance(value, float) else value}")
    common.finish(args, "live", machine, [*rows, {"summary": summary}])
    return rows


if __name__ == "__main__":
    main()
