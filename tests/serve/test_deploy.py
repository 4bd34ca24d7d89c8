"""Serving a room: the nginx configuration, 2 supervised replicas behind nginx surviving a killed replica,
a crash loop and a rolling restart, and a real browser through it all."""

from __future__ import annotations

import re
import subprocess
import urllib.request
from collections import defaultdict

import pytest
from PIL import Image
from skimage import data

from ferviz.cli import main
from ferviz.paths import DEFAULT_MODEL
from ferviz.serve.deploy import STICKY_COOKIE, DeployError, find_nginx, nginx_config, start
from tests.browser import ROOT, browser_page, chromium_path

needs_nginx = pytest.mark.skipif(find_nginx() is None, reason="no nginx (apt-get install nginx)")


def test_the_config_proxies_websockets_and_keeps_a_browser_on_one_replica(tmp_path):
    text = nginx_config(["127.0.0.1:8501", "10.0.0.2:8501"], "0.0.0.0:8080", prefix=tmp_path)
    assert "listen 0.0.0.0:8080;" in text
    assert "proxy_set_header Upgrade $http_upgrade;" in text
    assert "proxy_set_header Connection $connection_upgrade;" in text
    # one pool per replica: that replica first, the other as a backup; the cookie picks the pool
    blocks = dict(re.findall(r"upstream (\S+) \{\n(.*?)\n    \}", text, re.S))
    servers = {name: re.findall(r"server (\S+) (max_fails=\S+)[^;]*?( backup)?;", body)
               for name, body in blocks.items()}
    local, remote = "127.0.0.1:8501", "10.0.0.2:8501"
    assert servers == {"ferviz": [(local, "max_fails=1", ""), (remote, "max_fails=1", "")],
                       "ferviz_r0": [(local, "max_fails=1", ""), (remote, "max_fails=0", " backup")],
                       "ferviz_r1": [(remote, "max_fails=1", ""), (local, "max_fails=0", " backup")]}
    assert f"map $cookie_{STICKY_COOKIE} $ferviz_pool" in text and "proxy_pass http://$ferviz_pool;" in text
    assert "proxy_next_upstream error timeout" in text  # a refused connection goes to the next replica
    assert '"~(^|, )10\\.0\\.0\\.2:8501$" r1;' in text  # the replica that answered, named for the cookie
    assert f"{STICKY_COOKIE}=$ferviz_served; Path=/" in text and "Set-Cookie $ferviz_cookie always;" in text
    assert "error_page 502 503 504 = @ferviz_down;" in text and "http-equiv=refresh" in text
    assert "location = /ferviz-status" in text and "proxy_pass http://127.0.0.1:8500;" in text
    assert "client_max_body_size 210m;" in text  # the 200 MB dataset upload fits
    assert f"pid {tmp_path / 'nginx.pid'};" in text
    with pytest.raises(ValueError, match="at least one"):
        nginx_config([])
    with pytest.raises(ValueError, match="host:port"):
        nginx_config(["8501"])


@needs_nginx
def test_nginx_accepts_the_config(tmp_path):
    (tmp_path / "temp").mkdir()
    conf = tmp_path / "nginx.conf"
    conf.write_text(nginx_config(["127.0.0.1:8501", "127.0.0.1:8502"], "127.0.0.1:18080", prefix=tmp_path))
    result = subprocess.run([find_nginx(), "-t", "-p", str(tmp_path), "-c", str(conf)], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr


def test_the_committed_example_is_what_serve_prints(capsys):
    assert main(["serve", "--replicas", "2", "--print-config"]) == 0
    assert capsys.readouterr().out == (ROOT / "deploy" / "nginx.conf").read_text()


def test_nothing_to_serve_is_a_clear_error(monkeypatch):
    monkeypatch.setattr("ferviz.serve.deploy.find_nginx", lambda: None)
    with pytest.raises(DeployError, match="apt-get install nginx"):
        start(1)
    monkeypatch.setattr("ferviz.serve.deploy.find_nginx", lambda: "/usr/sbin/nginx")
    with pytest.raises(DeployError, match="nothing to serve"):
        start(0)


def upstream_per_route(access_log: str) -> dict[str, set[str]]:
    """From the proxy's access log: the replicas that served the requests of each cookie value ("-": none)."""
    seen = defaultdict(set)
    for line in access_log.splitlines():
        match = re.search(r"upstream=(.+?) route=(\S+)", line)
        if match and match.group(1) != "-":
            seen[match.group(2)].add(match.group(1))
    return seen


@pytest.mark.slow
@pytest.mark.browser
@needs_nginx
@pytest.mark.skipif(chromium_path() is None, reason="no system Chromium (apt-get install chromium)")
@pytest.mark.skipif(not DEFAULT_MODEL.is_file(), reason="no shipped default model in models/")
def test_two_replicas_behind_nginx_serve_a_prediction_and_keep_each_browser_on_one(tmp_path):
    photo = tmp_path / "astronaut.jpg"
    Image.fromarray(data.astronaut()).save(photo, quality=92)
    with start(2, port=free_port(), run_dir=tmp_path / "serve") as dep:
        assert len(dep.replicas) == 2
        (dep.run_dir / "access.log").write_text("")
        # 16 cookie-less clients: each gets its own key, and the keys spread over both replicas
        for _ in range(16):
            with urllib.request.urlopen(f"{dep.url}/_stcore/health", timeout=10) as r:
                assert r.status == 200 and any(STICKY_COOKIE in c for c in r.headers.get_all("Set-Cookie"))
        spread = upstream_per_route((dep.run_dir / "access.log").read_text())
        assert spread["-"] == set(dep.replicas)
        with browser_page() as page:  # a real browser through the proxy, to a prediction
            page.goto(f"{dep.url}/Predict", wait_until="domcontentloaded")
            page.get_by_text("upload photos").first.click(timeout=60_000)
            page.locator("input[type=file]").first.set_input_files(str(photo), timeout=60_000)
            try:
                page.get_by_text("face(s) found", exact=False).first.wait_for(timeout=90_000)
                page.wait_for_selector(".js-plotly-plot", timeout=90_000)
                page.wait_for_timeout(1500)
            finally:
                (ROOT / "artifacts").mkdir(exist_ok=True)
                page.screenshot(path=str(ROOT / "artifacts" / "browser_behind_nginx.png"))
            body = page.inner_text("body")
            cookie = next(c["value"] for c in page.context.cookies() if c["name"] == STICKY_COOKIE)
        assert "Traceback" not in body and "no face found" not in body.lower()
        assert any(label in body for label in ("angry", "disgust", "fear", "happy", "sad", "surprise",
                                               "neutral"))
        served = upstream_per_route((dep.run_dir / "access.log").read_text())[cookie]
        assert len(served) == 1  # the page, its WebSocket and its upload all went to one replica
        pids = dep.replica_pids()
    for pid in pids:  # stopping the deployment ends every replica
        with pytest.raises(ProcessLookupError):
            import os

            os.kill(pid, 0)


def free_port() -> int:
    from ferviz.serve.deploy import free_ports

    return free_ports(1)[0]


@needs_nginx
def test_https_with_a_self_signed_certificate(tmp_path):
    import shutil
    import ssl

    if shutil.which("openssl") is None:
        pytest.skip("no openssl to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    text = nginx_config(["127.0.0.1:8501"], "127.0.0.1:8443", certfile=cert, keyfile=key)
    assert "listen 127.0.0.1:8443 ssl;" in text and f"ssl_certificate {cert};" in text
    with pytest.raises(ValueError, match="both"):
        nginx_config(["127.0.0.1:8501"], certfile=cert)
    with pytest.raises(DeployError, match="no such file"):
        start(1, certfile=tmp_path / "missing.pem", keyfile=key)
    with start(1, port=free_port(), certfile=cert, keyfile=key, run_dir=tmp_path / "serve") as dep:
        assert dep.url.startswith("https://")
        context = ssl.create_default_context(cafile=str(cert))
        context.check_hostname = False
        with urllib.request.urlopen(f"{dep.url}/_stcore/health", timeout=10, context=context) as r:
            assert r.status == 200  # through TLS, verified against the certificate
