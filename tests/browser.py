"""Start ``streamlit run app.py`` on 127.0.0.1 and drive the system Chromium with Playwright.

Nothing is downloaded.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"  # the browser tests' screenshots, to look at after a run
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def browser_marks() -> list:
    """The marks of every browser test module: browser and slow, skipped without Chromium or the shipped model."""
    import pytest

    from ferviz.paths import DEFAULT_MODEL

    return [pytest.mark.browser, pytest.mark.slow,
            pytest.mark.skipif(chromium_path() is None, reason="no system Chromium (apt-get install chromium)"),
            pytest.mark.skipif(not DEFAULT_MODEL.is_file(), reason="no shipped default model in models/")]


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    pid: int


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float, output) -> None:
    """Wait for ``/_stcore/health`` to answer 200; RuntimeError with ``output()`` if it never does."""
    deadline = time.time() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            raise RuntimeError(f"streamlit did not become healthy:\n{output()[-2000:]}")
        time.sleep(0.5)


def stop_process(proc: subprocess.Popen) -> None:
    """End a server process: SIGTERM, then SIGKILL if it is still there after 10 s."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@contextmanager
def streamlit_server(timeout: float = 90.0):
    """Yield a fresh ``streamlit run app.py`` (its base URL and pid) once ``/_stcore/health`` answers."""
    port = free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.address", "127.0.0.1",
           "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, timeout,
                     lambda: proc.stdout.read().decode(errors="replace") if proc.stdout else "")
        yield Server(url, proc.pid)
    finally:
        stop_process(proc)


@contextmanager
def browser_page(width: int = 1280, height: int = 900):
    """A page in a fresh headless Chromium, under :func:`offline_guard`: when the ``with`` body ends without an
    error, the test fails if the page asked any host but this machine (first paint included)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            outside = offline_guard(page)
            yield page
            assert_offline(outside)
        finally:
            browser.close()


#: The hosts a page of the app may ask: this machine (the app, or nginx in front of its replicas), any port.
LOCAL_HOSTS = ("127.0.0.1", "localhost")


def offline_guard(page) -> list[str]:
    """Record every http(s) or websocket request ``page`` makes from now on to a host not in
    :data:`LOCAL_HOSTS`: a tab icon, a font or a script from a CDN. Returns the list it fills."""
    from urllib.parse import urlparse

    outside: list[str] = []

    def record(request):
        where = urlparse(request.url)
        if where.scheme in ("http", "https", "ws", "wss") and where.hostname not in LOCAL_HOSTS:
            outside.append(request.url)

    page.on("request", record)
    return outside


def assert_offline(outside: list[str]) -> None:
    """Offline means offline: fail naming what a page guarded by :func:`offline_guard` asked elsewhere."""
    assert outside == [], f"the page asked a host beyond this machine (offline means offline): {outside}"


@contextmanager
def app_server():
    """A :func:`streamlit_server` whose first page has been Home (a deep link as a server's first request can
    hang), with the screenshot folder :data:`ARTIFACTS` made."""
    ARTIFACTS.mkdir(exist_ok=True)
    with streamlit_server() as running:
        with browser_page() as page:
            page.goto(running.url, wait_until="domcontentloaded")
            page.get_by_text("Where next").first.wait_for(timeout=60_000)
        yield running
