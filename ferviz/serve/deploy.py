"""Serving a room: several Streamlit replicas of the app behind one nginx reverse proxy.

``ferviz serve --replicas N --port 8080`` starts N ``streamlit run app.py`` processes on loopback ports
and nginx in front of them on ``--port``, and stops them all together (Ctrl-C). Replicas on other
machines join with ``--upstream HOST:PORT`` (each started there with ``streamlit run app.py
--server.port PORT --server.address 0.0.0.0``); ``--replicas 0`` gives a proxy over remote replicas only.

What the proxy must do for Streamlit (see :func:`nginx_config`):

* **WebSocket upgrade** on every path: the page talks to its server over ``/_stcore/stream``.
* **Sessions kept on one replica**: a session's state, and the files it uploads
  (``/_stcore/upload_file/...``), live in the replica that holds its WebSocket. The proxy gives each
  browser a random ``ferviz_replica`` cookie on its first request and hashes it to pick the replica
  (``hash ... consistent``): open-source nginx has no sticky-cookie module, and ``ip_hash`` would put
  every browser behind one NAT - or every test client on 127.0.0.1 - on the same replica.
* **Health**: ``/_stcore/health`` answers from a replica; ``/nginx-health`` from the proxy itself.
* **Upload size**: request bodies up to the app's largest upload (the dataset upload, 200 MB), streamed
  to the replica rather than buffered on disk.

Nothing here imports Streamlit; the processes are plain subprocesses.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ferviz.errors import FervizError
from ferviz.serve.access import MAX_UPLOAD_MB

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]  # the repository (app.py) in a source checkout
STICKY_COOKIE = "ferviz_replica"


class DeployError(FervizError):
    """A replica or nginx could not be started; the message says what to do."""


def nginx_config(upstreams: Sequence[str], listen: str = "127.0.0.1:8080", *,
                 prefix: str | Path = "/tmp/ferviz-serve", max_body_mb: int = MAX_UPLOAD_MB + 10,
                 certfile: str | Path | None = None, keyfile: str | Path | None = None) -> str:
    """A complete ``nginx.conf`` proxying ``listen`` to the Streamlit replicas ``upstreams``.

    Parameters
    ----------
    upstreams : sequence of str
        ``host:port`` of each replica (at least one).
    listen : str
        Where the proxy listens (``host:port`` or a port).
    prefix : str or Path
        Folder for nginx's pid file, logs and temporary files (nginx runs with ``-p prefix``).
    max_body_mb : int
        Largest request body (uploads), in MB.
    certfile, keyfile : str or Path, optional
        Serve HTTPS with this certificate and key (both or neither): browsers allow the Live page's
        camera only on localhost or over HTTPS.

    Raises
    ------
    ValueError
        Without upstreams, for an upstream that is not ``host:port``, or with only one of certfile and
        keyfile.
    """
    if (certfile is None) != (keyfile is None):
        raise ValueError("HTTPS needs both a certificate and its key (--ssl-cert and --ssl-key)")
    if not upstreams:
        raise ValueError("nginx needs at least one upstream replica (host:port)")
    for up in upstreams:
        host, _, port = up.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"upstream {up!r} is not host:port")
    prefix = Path(prefix)
    servers = "\n".join(f"        server {up} max_fails=3 fail_timeout=10s;" for up in upstreams)
    temp = "\n".join(f"    {name}_temp_path {prefix / 'temp' / name};"
                     for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    tls = "" if certfile is None else (f" ssl;\n        ssl_certificate {Path(certfile).resolve()};\n"
                                       f"        ssl_certificate_key {Path(keyfile).resolve()}")
    return f"""# ferviz: nginx in front of {len(upstreams)} Streamlit replica(s) (ferviz.serve.deploy.nginx_config)
# Run: nginx -p {prefix} -c {prefix / 'nginx.conf'}
daemon off;
worker_processes 1;
pid {prefix / 'nginx.pid'};
error_log {prefix / 'error.log'} warn;

events {{
    worker_connections 1024;
}}

http {{
    log_format ferviz '$remote_addr [$time_local] "$request" $status upstream=$upstream_addr key=$ferviz_key';
    access_log {prefix / 'access.log'} ferviz;
{temp}
    client_max_body_size {max_body_mb}m;

    # WebSocket upgrade for /_stcore/stream (and a plain keep-alive for everything else)
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}
    # One random key per browser, kept in a cookie: every request of a browser goes to one replica
    map $cookie_{STICKY_COOKIE} $ferviz_key {{
        ''      $request_id;
        default $cookie_{STICKY_COOKIE};
    }}

    upstream ferviz {{
        hash $ferviz_key consistent;
{servers}
    }}

    server {{
        listen {listen}{tls};

        location = /nginx-health {{
            access_log off;
            default_type text/plain;
            return 200 "ok\\n";
        }}

        location / {{
            proxy_pass http://ferviz;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_read_timeout 1d;   # a WebSocket stays open as long as the page
            proxy_send_timeout 1d;
            proxy_buffering off;          # stream responses, and stream uploads to the replica:
            proxy_request_buffering off;  # no temporary files (nginx's workers may not write where it runs)
            add_header Set-Cookie "{STICKY_COOKIE}=$ferviz_key; Path=/; HttpOnly; SameSite=Lax" always;
        }}
    }}
}}
"""


def _die_with_parent() -> None:
    """In a child, before exec: have Linux send SIGTERM when the parent dies, so a killed ``ferviz serve``
    leaves no replica or nginx behind (elsewhere this does nothing)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def replica_command(port: int, address: str = "127.0.0.1", app: Path | None = None) -> list[str]:
    """The command line of one Streamlit replica of the app."""
    return [sys.executable, "-m", "streamlit", "run", str(app or ROOT / "app.py"), "--server.port", str(port),
            "--server.address", address, "--server.headless", "true",
            "--browser.gatherUsageStats", "false"]


def free_ports(n: int) -> list[int]:
    """``n`` distinct TCP ports that are free on 127.0.0.1 right now."""
    sockets, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in sockets:
            s.close()
    return ports


def find_nginx() -> str | None:
    """The nginx binary (on PATH or in /usr/sbin), or None."""
    extra = "/usr/sbin:/usr/local/sbin:/usr/local/nginx/sbin"
    return shutil.which("nginx") or shutil.which("nginx", path=extra)


def wait_http(url: str, timeout: float, procs: Sequence[subprocess.Popen] = ()) -> None:
    """Wait until ``url`` answers 200; DeployError if it does not within ``timeout`` or a process exits."""
    deadline = time.monotonic() + timeout
    context = None
    if url.startswith("https:"):  # our own proxy, often with a self-signed certificate: checked elsewhere
        import ssl

        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2, context=context) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        dead = [p for p in procs if p.poll() is not None]
        if dead:
            what = " ".join(map(str, dead[0].args[:4]))
            raise DeployError(f"{what} … exited with code {dead[0].returncode} before {url} answered; "
                              "see its log")
        if time.monotonic() > deadline:
            raise DeployError(f"{url} did not answer within {timeout:.0f} s")
        time.sleep(0.3)


@dataclass
class Deployment:
    """Running replicas and nginx; :meth:`stop` ends them all."""

    url: str
    replicas: list[str]
    run_dir: Path
    procs: list[subprocess.Popen] = field(default_factory=list)
    logs: list = field(default_factory=list)
    _own_dir: tempfile.TemporaryDirectory | None = None

    def replica_pids(self) -> list[int]:
        """Process ids of the local Streamlit replicas (not nginx)."""
        return [p.pid for p in self.procs[:-1]] if self.procs else []

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate every process (nginx first), wait, then kill what is left."""
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in self.procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for handle in self.logs:
            handle.close()
        if self._own_dir is not None:
            self._own_dir.cleanup()

    def __enter__(self) -> Deployment:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start(replicas: int = 2, port: int = 8080, *, host: str = "127.0.0.1", upstreams: Sequence[str] = (),
          shared: bool = True, run_dir: str | Path | None = None, env: dict | None = None,
          certfile: str | Path | None = None, keyfile: str | Path | None = None,
          timeout: float = 120.0) -> Deployment:
    """Start ``replicas`` local Streamlit replicas and nginx on ``host:port`` in front of them (and of
    ``upstreams``, replicas elsewhere).

    Parameters
    ----------
    replicas : int
        Local replicas, each on a free loopback port.
    port, host : int, str
        Where nginx listens (``0.0.0.0`` for a room's network).
    upstreams : sequence of str
        Replicas on other machines, ``host:port``.
    shared : bool
        Run the replicas in shared mode (``FERVIZ_SHARED=1``: no server paths in any field).
    run_dir : str or Path, optional
        Where the nginx configuration and every log go; default a temporary folder removed on stop.
    env : dict, optional
        Extra environment variables for the replicas (e.g. ``FERVIZ_DATA_ROOTS``).
    certfile, keyfile : str or Path, optional
        Serve HTTPS (see :func:`nginx_config`).
    timeout : float
        Seconds to wait for each replica and for nginx to answer.

    Raises
    ------
    DeployError
        nginx missing, nothing to proxy, or a process that does not come up (all are stopped).
    """
    nginx = find_nginx()
    if nginx is None:
        raise DeployError("nginx is not installed: apt-get install nginx (or your system's package), "
                          "then run ferviz serve again")
    if replicas < 0 or (replicas == 0 and not upstreams):
        raise DeployError("nothing to serve: give --replicas 1 or more, or --upstream HOST:PORT")
    if (certfile is None) != (keyfile is None):
        raise DeployError("HTTPS needs both --ssl-cert and --ssl-key")
    for path in (certfile, keyfile):
        if path is not None and not Path(path).is_file():
            raise DeployError(f"{path}: no such file (the HTTPS certificate and key must be PEM files)")
    own = tempfile.TemporaryDirectory(prefix="ferviz-serve-") if run_dir is None else None
    run_dir = Path(own.name if own else run_dir).resolve()
    (run_dir / "temp").mkdir(parents=True, exist_ok=True)
    os.chmod(run_dir / "temp", 0o1777)  # nginx's workers may run as another user than its master
    ports = free_ports(replicas)
    all_upstreams = [f"127.0.0.1:{p}" for p in ports] + list(upstreams)
    scheme = "http" if certfile is None else "https"
    dep = Deployment(f"{scheme}://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}", all_upstreams,
                     run_dir, _own_dir=own)
    child_env = {**os.environ, **(env or {}), "FERVIZ_SHARED": "1" if shared else "0"}
    try:
        for k, p in enumerate(ports):
            handle = open(run_dir / f"replica{k}.log", "w")  # noqa: SIM115 - closed by Deployment.stop
            dep.logs.append(handle)
            dep.procs.append(subprocess.Popen(replica_command(p), stdout=handle, stderr=subprocess.STDOUT,
                                              env=child_env, cwd=ROOT, preexec_fn=_die_with_parent))
        for p in ports:
            wait_http(f"http://127.0.0.1:{p}/_stcore/health", timeout, dep.procs)
        conf = run_dir / "nginx.conf"
        conf.write_text(nginx_config(all_upstreams, f"{host}:{port}", prefix=run_dir, certfile=certfile,
                                     keyfile=keyfile))
        handle = open(run_dir / "nginx.log", "w")  # noqa: SIM115
        dep.logs.append(handle)
        dep.procs.append(subprocess.Popen([nginx, "-p", str(run_dir), "-c", str(conf)], stdout=handle,
                                          stderr=subprocess.STDOUT, preexec_fn=_die_with_parent))
        wait_http(f"{dep.url}/nginx-health", timeout, dep.procs[-1:])
        wait_http(f"{dep.url}/_stcore/health", timeout, dep.procs[-1:])
    except BaseException:
        dep.stop()
        raise
    log.info("serving %s: nginx -> %s (logs in %s)", dep.url, ", ".join(all_upstreams), run_dir)
    return dep
