"""The room survives faults: a killed replica, a killed nginx, a replica crashing in a loop and a rolling
restart, with 2 supervised replicas behind nginx on loopback (and a real browser for the reload)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest
from PIL import Image
from skimage import data

from ferviz.paths import DEFAULT_MODEL
from ferviz.serve.deploy import MOVED_COOKIE, STICKY_COOKIE, find_nginx, free_ports, replica_command, start
from ferviz.serve.supervisor import Backoff
from tests.browser import ROOT, browser_page, chromium_path

pytestmark = [pytest.mark.slow, pytest.mark.skipif(find_nginx() is None, reason="no nginx (apt-get install nginx)")]
LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def get(url: str, cookie: str | None = None, timeout: float = 10) -> tuple[int, list[str]]:
    """Status and Set-Cookie headers of a GET (an HTTP error's status, not an exception)."""
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return r.status, r.headers.get_all("Set-Cookie") or []
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get_all("Set-Cookie") or []


def status(url: str) -> dict:
    """The supervisor's view of each process, by name, from ``/ferviz-status`` through the proxy."""
    with urllib.request.urlopen(f"{url}/ferviz-status", timeout=5) as r:
        return {c["name"]: c for c in json.load(r)["children"]}


def wait_for(predicate, timeout: float, what: str) -> float:
    """Seconds until ``predicate()`` holds; fails the test after ``timeout``."""
    t0 = time.monotonic()
    while not predicate():
        assert time.monotonic() - t0 < timeout, f"{what} not within {timeout} s"
        time.sleep(0.2)
    return time.monotonic() - t0


class Load:
    """A thread GETting ``path`` through the proxy back to back (with the cookie of replica r0) until stopped."""

    def __init__(self, url: str, cookie: str = f"{STICKY_COOKIE}=r0") -> None:
        self.url, self.cookie, self.codes, self.stop = url, cookie, [], threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.codes.append(get(self.url, self.cookie, timeout=20)[0])
            except OSError as exc:
                self.codes.append(str(exc))
            time.sleep(0.05)

    def __enter__(self) -> Load:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()


def test_a_killed_replica_is_routed_around_and_restarted_and_so_is_nginx(tmp_path):
    with start(2, port=free_ports(1)[0], run_dir=tmp_path / "serve") as dep:
        before = status(dep.url)
        assert [before[n]["state"] for n in ("r0", "r1", "nginx")] == ["up", "up", "up"]
        with Load(f"{dep.url}/_stcore/health") as load:
            time.sleep(1)
            os.kill(before["r0"]["pid"], signal.SIGKILL)  # as the OOM killer would
            # a browser of r0 is sent to r1 and its cookie re-pointed there (and told it moved)
            wait_for(lambda: status(dep.url)["r0"]["state"] != "up", 5, "the supervisor seeing the kill")
            code, cookies = get(f"{dep.url}/_stcore/health", f"{STICKY_COOKIE}=r0")
            if status(dep.url)["r0"]["state"] != "up":
                assert code == 200
                assert any(c.startswith(f"{STICKY_COOKIE}=r1;") for c in cookies), cookies
                assert any(c.startswith(f"{MOVED_COOKIE}=r0;") for c in cookies), cookies
            back = wait_for(lambda: status(dep.url)["r0"]["state"] == "up", 30, "r0 back")
            time.sleep(1)
        assert load.codes and all(c == 200 for c in load.codes), [c for c in load.codes if c != 200][:5]
        after = status(dep.url)["r0"]
        assert after["restarts"] == 1 and after["last_exit"] == -signal.SIGKILL and after["pid"] != before["r0"]["pid"]
        assert back < 30
        # once r0 is back, a browser that r1 answered stays there (its session lives there)
        code, cookies = get(f"{dep.url}/_stcore/health", f"{STICKY_COOKIE}=r1")
        assert code == 200 and any(c.startswith(f"{STICKY_COOKIE}=r1;") for c in cookies)
        assert not any(c.startswith(MOVED_COOKIE) for c in cookies)
        # nginx itself: killed, restarted (its orphaned worker ended so the port is free again)
        os.kill(status(dep.url)["nginx"]["pid"], signal.SIGKILL)
        wait_for(lambda: dep.supervisor.children[-1].restarts == 1 and dep.supervisor.children[-1].state == "up",
                 15, "nginx back")
        assert get(f"{dep.url}/nginx-health")[0] == 200 and get(f"{dep.url}/_stcore/health")[0] == 200


def crashing_second_replica(k: int, port: int) -> list[str]:
    if k == 1:
        return [sys.executable, "-c", "import sys, time; time.sleep(0.3); sys.exit(3)"]
    return replica_command(port)


def test_a_replica_crashing_in_a_loop_is_given_up_on_while_the_other_serves(tmp_path, caplog):
    backoff = Backoff(first=0.2, factor=2, longest=1, give_up_after=4, window=60)
    with caplog.at_level("ERROR", logger="ferviz.serve.supervisor"):
        dep = start(2, port=free_ports(1)[0], run_dir=tmp_path / "serve", backoff=backoff,
                    replica_cmd=crashing_second_replica)
    with dep:
        now = status(dep.url)
        assert now["r1"]["state"] == "down" and now["r1"]["last_exit"] == 3 and now["r1"]["restarts"] == 3
        assert now["r0"]["state"] == "up" and now["nginx"]["state"] == "up"
        assert "r1 CRASHED 4 TIMES" in caplog.text
        for cookie in (None, f"{STICKY_COOKIE}=r0", f"{STICKY_COOKIE}=r1"):  # every browser lands on r0
            code, cookies = get(f"{dep.url}/_stcore/health", cookie)
            assert code == 200 and any(c.startswith(f"{STICKY_COOKIE}=r0;") for c in cookies)
        time.sleep(2)
        assert status(dep.url)["r1"]["restarts"] == 3  # left down


def test_a_rolling_restart_under_load_fails_no_request(tmp_path):
    with start(2, port=free_ports(1)[0], run_dir=tmp_path / "serve") as dep:
        old = {n: c["pid"] for n, c in status(dep.url).items()}
        with Load(f"{dep.url}/_stcore/health") as load:
            time.sleep(0.5)
            assert dep.rolling_restart()
            wait_for(dep.supervisor.rolling_done, 90, "the rolling restart")
            time.sleep(0.5)
        now = status(dep.url)
        assert now["r0"]["pid"] != old["r0"] and now["r1"]["pid"] != old["r1"] and now["nginx"]["pid"] == old["nginx"]
        assert all(now[n]["state"] == "up" and now[n]["recent_crashes"] == 0 for n in ("r0", "r1"))
        assert len(load.codes) > 20 and all(c == 200 for c in load.codes), [c for c in load.codes if c != 200][:5]


def upload_and_label(page, url: str, photo, note: str | None = None) -> str:
    page.goto(f"{url}/Predict", wait_until="domcontentloaded")
    if note:
        page.get_by_text(note).first.wait_for(timeout=60_000)
    page.get_by_text("upload photos").first.click(timeout=60_000)
    page.locator("input[type=file]").first.set_input_files(str(photo), timeout=60_000)
    page.get_by_text("face(s) found", exact=False).first.wait_for(timeout=90_000)
    page.wait_for_selector(".js-plotly-plot", timeout=90_000)
    return page.inner_text("body")


def cookie(page) -> str | None:
    """The browser's ``ferviz_replica`` cookie (the replica the proxy sends it to)."""
    return next((c["value"] for c in page.context.cookies() if c["name"] == STICKY_COOKIE), None)


@pytest.mark.browser
@pytest.mark.skipif(chromium_path() is None, reason="no system Chromium (apt-get install chromium)")
@pytest.mark.skipif(not DEFAULT_MODEL.is_file(), reason="no shipped default model in models/")
def test_a_browser_whose_replica_died_is_told_and_gets_a_label_again_after_a_reload(tmp_path):
    photo = tmp_path / "astronaut.jpg"
    Image.fromarray(data.astronaut()).save(photo, quality=92)
    with start(2, port=free_ports(1)[0], run_dir=tmp_path / "serve") as dep, browser_page() as page:
        body = upload_and_label(page, dep.url, photo)
        assert any(label in body for label in LABELS)
        mine, note = cookie(page), "The server that held your session stopped"
        os.kill(status(dep.url)[mine]["pid"], signal.SIGKILL)
        try:  # the page reconnects by itself, to the other replica, which the cookie then names
            wait_for(lambda: cookie(page) != mine, 30, "the browser moved to the live replica")
            body = upload_and_label(page, dep.url, photo, note)  # a reload, and the photo once more
        finally:
            (ROOT / "artifacts").mkdir(exist_ok=True)
            page.screenshot(path=str(ROOT / "artifacts" / "browser_after_replica_killed.png"))
        assert note in body  # the page says why the photo is gone
        assert "Traceback" not in body and any(label in body for label in LABELS)
        assert cookie(page) != mine  # on the live replica, and kept there
        wait_for(lambda: status(dep.url)[mine]["state"] == "up", 30, "the killed replica back")


def test_ferviz_serve_outlives_a_killed_replica_rolls_on_sighup_and_stops_on_sigterm(tmp_path):
    port, run_dir = free_ports(1)[0], tmp_path / "serve"
    proc = subprocess.Popen([sys.executable, "-m", "ferviz", "serve", "--replicas", "2", "--port", str(port),
                             "--run-dir", str(run_dir)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(url), 120, "ferviz serve up")
        first = status(url)
        os.kill(first["r1"]["pid"], signal.SIGKILL)
        wait_for(lambda: status(url)["r1"]["restarts"] == 1 and status(url)["r1"]["state"] == "up", 30, "r1 back")
        assert proc.poll() is None  # the room is still served
        proc.send_signal(signal.SIGHUP)  # a new model: the replicas one at a time
        wait_for(lambda: all(status(url)[n]["restarts"] == want for n, want in (("r0", 1), ("r1", 2))), 90,
                 "the rolling restart")
        assert get(f"{url}/_stcore/health")[0] == 200
        pids = [c["pid"] for c in status(url).values()]
    finally:
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=30)[0]
    assert proc.returncode == 0, out[-2000:]
    assert "r1 exited with code -9" in out and "rolling restart of r0, r1" in out
    for pid in pids:  # every replica and nginx ended with it
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def _answers(url: str) -> bool:
    try:
        return get(f"{url}/ferviz-status", timeout=2)[0] == 200
    except OSError:
        return False
