"""The Live page in a real browser: Chromium's fake camera plays a clip of a public-domain face, the stream
runs to the server and back, the face's label appears as text, and the stream's threads end when it is
stopped or when its tab is closed mid-stream.

The clip is written here (the astronaut of scikit-image sliding slowly, YUV4MPEG2); nothing is
downloaded and the WebRTC connection has no STUN/TURN server (localhost only).

The server is ``streamlit run app.py`` started by :func:`live_server`, which adds one thing to the
shared launcher of ``tests/browser.py``: on SIGUSR1 the server writes the names of its Python threads
to a file. A stream's own threads have names (``ferviz-live-worker``, aiortc's ``video-decoder``,
streamlit-webrtc's ``ShutdownPolling_*``, ...), so the test checks that exactly those are gone and that
the count of the server's other threads, thread pools left out, returns to what it was.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from skimage import data

from ferviz.data.labels import EMOTIONS
from ferviz.pipeline.live import sliding_frames, write_y4m
from tests.browser import (
    ARTIFACTS,
    CHROMIUM_FLAGS,
    ROOT,
    assert_offline,
    browser_marks,
    chromium_path,
    free_port,
    offline_guard,
    stop_process,
    wait_healthy,
)

pytestmark = [*browser_marks(),
              pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="needs SIGUSR1 to list the server's threads")]
LABEL = re.compile(r"Face #(\d+): (\w+) (\d+)%")
FAKE_CAMERA = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
#: Threads that belong to one stream: ferviz's worker, streamlit-webrtc's and aiortc's.
STREAM_THREADS = ("ferviz-live", "video-decoder", "audio-decoder", "ShutdownPolling", "process_offer",
                  "async_media_processor")
#: Thread pools (asyncio's executor, AnyIO's workers): they grow and shrink on their own schedule.
POOLS = ("asyncio_", "ThreadPoolExecutor", "AnyIO worker")
#: Run in the server process: on SIGUSR1, write the names of every Python thread to $FERVIZ_THREADS_FILE.
SERVER = """
import json, os, signal, sys, threading
def dump(signum, frame):
    path = os.environ["FERVIZ_THREADS_FILE"]
    with open(path + ".tmp", "w") as fh:
        json.dump([t.name for t in threading.enumerate()], fh)
    os.replace(path + ".tmp", path)
signal.signal(signal.SIGUSR1, dump)
from streamlit.web.cli import main
sys.argv = ["streamlit", "run", *sys.argv[1:]]
main()
"""


@dataclass
class LiveServer:
    url: str
    pid: int
    threads_file: Path
    log: Path

    def thread_names(self) -> list[str]:
        """The names of the server's Python threads, now."""
        self.threads_file.unlink(missing_ok=True)
        os.kill(self.pid, signal.SIGUSR1)
        deadline = time.time() + 10
        while not self.threads_file.exists():
            assert time.time() < deadline, "the server did not list its threads"
            time.sleep(0.05)
        return json.loads(self.threads_file.read_text())

    def stream_threads(self) -> list[str]:
        return [n for n in self.thread_names() if n.startswith(STREAM_THREADS)]

    def steady_count(self) -> int:
        """Threads that are neither a stream's nor a pool's."""
        return sum(not n.startswith(STREAM_THREADS + POOLS) for n in self.thread_names())

    def idle_steady_count(self, timeout: float = 30.0) -> int:
        """The steady count at a moment when no script run is in flight (no ScriptRunner thread)."""
        deadline = time.time() + timeout
        names = self.thread_names()
        while any(n.startswith("ScriptRunner") for n in names):
            assert time.time() < deadline, f"a script run never ended: {names}"
            time.sleep(0.2)
            names = self.thread_names()
        return sum(not n.startswith(STREAM_THREADS + POOLS) for n in names)

    def wait_steady_count(self, target: int, timeout: float = 30.0) -> int:
        """The steady count once it is ``target`` or less (a script run may be finishing), or at timeout."""
        deadline = time.time() + timeout
        while (count := self.steady_count()) > target and time.time() < deadline:
            time.sleep(0.5)
        return count

    def wait_no_stream_threads(self, timeout: float, prefix: tuple[str, ...] = STREAM_THREADS) -> list[str]:
        deadline = time.time() + timeout
        while (left := [n for n in self.thread_names() if n.startswith(prefix)]) and time.time() < deadline:
            time.sleep(0.5)
        return left


@contextmanager
def live_server(tmp: Path, timeout: float = 90.0):
    """``streamlit run app.py`` on a free port of 127.0.0.1 that lists its threads on SIGUSR1."""
    port = free_port()
    cmd = [sys.executable, "-c", SERVER, str(ROOT / "app.py"), "--server.address", "127.0.0.1",
           "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    log = tmp / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONUNBUFFERED": "1",
                                     "FERVIZ_THREADS_FILE": str(tmp / "threads.json")})
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, timeout, log.read_text)
        yield LiveServer(url, proc.pid, tmp / "threads.json", log)
    finally:
        stop_process(proc)


@contextmanager
def fake_camera_browser(clip: Path):
    """Headless Chromium whose camera plays ``clip`` (looping), allowed without asking."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(),
                                    args=[*CHROMIUM_FLAGS, *FAKE_CAMERA,
                                          f"--use-file-for-fake-video-capture={clip}"])
        try:
            yield browser
        finally:
            browser.close()


def open_live(browser, url: str):
    """Live in a new tab, whose requests beyond this machine are recorded in ``page.outside``."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.outside = offline_guard(page)
    page.goto(f"{url}/Live", wait_until="domcontentloaded")
    page.get_by_text("Not streaming").first.wait_for(timeout=90_000)
    return page


def camera(page):
    return page.frame_locator("iframe[title*='webrtc']").first


def press_start(page, attempts: int = 3) -> None:
    """Press START until the stream starts (its STOP button shows): a click that lands while the component is
    still loading starts nothing (seen once in CI on a loaded machine), and a person would simply click again."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(attempts):
        start = camera(page).get_by_role("button", name="START")
        if attempt == 0 or start.is_visible():
            start.click(timeout=60_000)
        try:
            camera(page).get_by_role("button", name="STOP").wait_for(timeout=20_000)
            return
        except PlaywrightTimeout:
            continue
    # still not streaming: the label wait below fails with a screenshot and the server's log


def start_and_read_label(page, server_log: Path | None = None) -> re.Match:
    """Press START and wait for a face label; on a timeout, fail with what the page and server showed."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    press_start(page)
    try:
        page.get_by_text(LABEL).first.wait_for(timeout=90_000)
    except PlaywrightTimeout:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "browser_live_no_label.png"))
        log = server_log.read_text(errors="replace")[-3000:] if server_log and server_log.exists() else ""
        pytest.fail(f"no face label within 90 s of START (screenshot artifacts/browser_live_no_label.png)\n"
                    f"page: {page.inner_text('body')[-1500:]}\nserver log: {log}")
    match = LABEL.search(page.inner_text("body"))
    assert match is not None
    return match


def stop(page) -> None:
    camera(page).get_by_role("button", name="STOP").click(timeout=30_000)
    page.get_by_text("Not streaming").first.wait_for(timeout=60_000)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    frames = sliding_frames(data.astronaut(), width=640, height=480, n=30, travel=40)
    return write_y4m(tmp_path_factory.mktemp("camera") / "astronaut.y4m", frames, fps=30)


def test_live_stream_labels_the_face_and_leaves_no_thread_behind(clip, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    with live_server(tmp_path) as server, fake_camera_browser(clip) as browser:
        page = open_live(browser, server.url)
        assert server.stream_threads() == []
        before = server.idle_steady_count()
        match = start_and_read_label(page, server.log)
        assert match.group(2) in EMOTIONS and 0 <= int(match.group(3)) <= 100
        page.get_by_text(re.compile(r"processing \d+\.\d fps · video \d+\.\d fps")).first.wait_for(
            timeout=30_000)
        running = server.stream_threads()
        assert "ferviz-live-worker" in running and "video-decoder" in running
        page.wait_for_timeout(1000)
        body = page.inner_text("body")
        assert "Traceback" not in body and "Processing error" not in body
        page.screenshot(path=str(ARTIFACTS / "browser_live.png"))
        assert_offline(page.outside)  # first paint and a running stream ask nothing beyond this machine

        # the STOP button ends the stream's threads at once, and the thread count returns to at most what it
        # was (a server thread that was already there may have ended on its own schedule meanwhile)
        stop(page)
        assert server.wait_no_stream_threads(30) == []
        assert server.wait_steady_count(before) <= before, server.thread_names()

        # closing the tab mid-stream: no frame comes any more, so ferviz's worker ends within its idle
        # timeout (5 s); the connection's own threads end when its ICE consent expires (about 30 s)
        page = open_live(browser, server.url)
        start_and_read_label(page, server.log)
        assert "ferviz-live-worker" in server.stream_threads()
        page.close()
        assert server.wait_no_stream_threads(20, prefix=("ferviz-live",)) == []
        assert server.wait_no_stream_threads(120) == []
        assert server.wait_steady_count(before) <= before, server.thread_names()
