"""Serving a room: several supervised Streamlit replicas of the app behind one nginx reverse proxy.

``ferviz serve --replicas N --port 8080`` starts N ``streamlit run app.py`` processes on loopback ports
and nginx in front of them on ``--port``, under a :class:`~ferviz.serve.supervisor.Supervisor`: a replica
(or nginx) that exits is restarted with backoff, one that keeps crashing is left down while the others
serve, SIGHUP restarts the replicas one at a time (a new default model), and only Ctrl-C / SIGTERM stops
everything. Replicas on other machines join with ``--upstream HOST:PORT`` (each started there with
``streamlit run app.py --server.port PORT --server.address 0.0.0.0``; not supervised from here);
``--replicas 0`` gives a proxy over remote replicas only.

What the proxy must do for Streamlit (see :func:`nginx_config`):

* **WebSocket upgrade** on every path: the page talks to its server over ``/_stcore/stream``.
* **Sessions kept on one replica**: a session's state, and the files it uploads
  (``/_stcore/upload_file/...``) or is shown (``/media/...``), live in the replica that holds its
  WebSocket. The proxy names each browser's replica in a ``ferviz_replica`` cookie (``r0``, ``r1``, ...;
  the first request goes round-robin): open-source nginx has no sticky-cookie module, and ``ip_hash``
  would put every browser behind one NAT - or every test client on 127.0.0.1 - on the same replica.
* **A dead replica is skipped**: its browsers go to another one (the cookie's pool lists the others as
  backups) and the cookie follows them there, so their new session stays where it started, also once
  the dead replica is back.
* **Health**: ``/_stcore/health`` answers from a replica; ``/nginx-health`` from the proxy itself;
  ``/ferviz-status`` is the supervisor's JSON (each replica's state, pid, restarts, last exit code).
* **Upload size**: request bodies up to the app's largest upload (the dataset upload, 200 MB), streamed
  to the replica rather than buffered on disk.

Nothing here imports Streamlit; the processes are plain subprocesses.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from ferviz.errors import FervizError
from ferviz.serve.access import MAX_UPLOAD_MB
from ferviz.serve.supervisor import Backoff, Child, Supervisor

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]  # the repository (app.py) in a source checkout
STICKY_COOKIE = "ferviz_replica"
MOVED_COOKIE = "ferviz_moved"


class DeployError(FervizError):
    """A replica or nginx could not be started; the message says what to do."""


def replica_names(upstreams: Sequence[str]) -> list[str]:
    """The names the proxy and the status file give the replicas, in order: ``r0``, ``r1``, ..."""
    return [f"r{k}" for k in range(len(upstreams))]


DOWN_PAGE = ("<!doctype html><html><head><meta charset=utf-8><meta http-equiv=refresh content=5>"
             "<title>ferviz: restarting</title></head><body style='font-family:sans-serif;margin:3em'>"
             "<h2>The ferviz server is restarting</h2><p>No replica of the app answers right now; this page "
             "tries again every 5 seconds. When the app is back you start a new session: upload your photos "
             "again.</p></body></html>")


def nginx_config(upstreams: Sequence[str], listen: str = "127.0.0.1:8080", *,
                 prefix: str | Path = "/tmp/ferviz-serve", max_body_mb: int = MAX_UPLOAD_MB + 10,
                 certfile: str | Path | None = None, keyfile: str | Path | None = None,
                 status: str = "127.0.0.1:8500") -> str:
    """A complete ``nginx.conf`` proxying ``listen`` to the Streamlit replicas ``upstreams``.

    Routing (see the module docstring): a browser's ``ferviz_replica`` cookie names its replica (``r0``,
    ``r1``, ... in the order of ``upstreams``); each name has its own upstream block, that replica first
    and the others as ``backup``, so a dead replica is skipped (``max_fails=1``, ``proxy_next_upstream``)
    and the response re-points the cookie at the replica that answered: the session that starts there
    stays there, also once the dead replica is back. A browser without the cookie goes round-robin. A
    browser moved this way also gets a short-lived ``ferviz_moved`` cookie (the app says why its session
    is new). With no replica answering, a page that says so and reloads itself every 5 s.

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
    names = replica_names(upstreams)
    fail = "max_fails=1 fail_timeout=5s"
    blocks = ["    upstream ferviz {\n" + "".join(f"        server {up} {fail};\n" for up in upstreams) + "    }"]
    for name, up in zip(names, upstreams, strict=True):
        # backups are never marked failed (max_fails=0): the last resort is always tried
        backups = "".join(f"        server {other} max_fails=0 backup;\n" for other in upstreams if other != up)
        blocks.append(f"    upstream ferviz_{name} {{\n        server {up} {fail};\n{backups}    }}")
    upstream_blocks = "\n".join(blocks)
    pools = "\n".join(f"        {name} ferviz_{name};" for name in names)
    served = "\n".join(f"        \"~(^|, ){re.escape(up)}$\" {name};"
                       for name, up in zip(names, upstreams, strict=True))
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
    log_format ferviz '$remote_addr [$time_local] "$request" $status upstream=$upstream_addr '
                      'route=$cookie_{STICKY_COOKIE}';
    access_log {prefix / 'access.log'} ferviz;
{temp}
    client_max_body_size {max_body_mb}m;

    # WebSocket upgrade for /_stcore/stream (and a plain keep-alive for everything else)
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}
    # The browser's replica, from its cookie: that replica first, the others as backups; no cookie: any
    map $cookie_{STICKY_COOKIE} $ferviz_pool {{
        default ferviz;
{pools}
    }}
    # The replica that answered: the last address tried (the ones before it refused the connection)
    map $upstream_addr $ferviz_served {{
        default "";
{served}
    }}
    map $ferviz_served $ferviz_cookie {{
        ""      "";
        default "{STICKY_COOKIE}=$ferviz_served; Path=/; HttpOnly; SameSite=Lax";
    }}
    # Its replica was down and another one answered: the app tells the user why the session is new
    map "$cookie_{STICKY_COOKIE}>$ferviz_served" $ferviz_moved {{
        default "";
        "~^(r[0-9]+)>(?!\\1$)r[0-9]+$" "{MOVED_COOKIE}=$cookie_{STICKY_COOKIE}; Path=/; Max-Age=60; SameSite=Lax";
    }}

{upstream_blocks}

    server {{
        listen {listen}{tls};

        location = /nginx-health {{
            access_log off;
            default_type text/plain;
            return 200 "ok\\n";
        }}

        location = /ferviz-status {{  # the supervisor's view of every replica (JSON)
            access_log off;
            proxy_pass http://{status};
        }}

        location @ferviz_down {{
            default_type text/html;
            add_header Retry-After 5 always;
            add_header Cache-Control no-store always;
            return 503 "{DOWN_PAGE}";
        }}

        location / {{
            proxy_pass http://$ferviz_pool;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_connect_timeout 5s;
            proxy_next_upstream error timeout http_502 http_503;  # a refused connection: the next replica
            proxy_next_upstream_timeout 15s;
            proxy_read_timeout 1d;   # a WebSocket stays open as long as the page
            proxy_send_timeout 1d;
            proxy_buffering off;          # stream responses, and stream uploads to the replica:
            proxy_request_buffering off;  # no temporary files (nginx's workers may not write where it runs)
            proxy_intercept_errors off;
            error_page 502 503 504 = @ferviz_down;
            add_header Set-Cookie $ferviz_cookie always;
            add_header Set-Cookie $ferviz_moved always;
        }}
    }}
}}
"""


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
    """Running replicas and nginx under a :class:`~ferviz.serve.supervisor.Supervisor` (its loop in a
    thread); :meth:`stop` ends them all."""

    url: str
    replicas: list[str]
    run_dir: Path
    supervisor: Supervisor
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    status_server: ThreadingHTTPServer | None = None
    _own_dir: tempfile.TemporaryDirectory | None = None

    @property
    def status_path(self) -> Path:
        return self.run_dir / "status.json"

    def replica_pids(self) -> list[int]:
        """Process ids of the local Streamlit replicas that are running now (not nginx)."""
        return [c.pid for c in self.supervisor.children if c.role == "replica" and c.pid is not None]

    def status(self) -> dict:
        """The supervisor's status (as served at ``/ferviz-status``)."""
        return self.supervisor.status()

    def rolling_restart(self) -> bool:
        """Restart the local replicas one at a time (as SIGHUP to ``ferviz serve`` does)."""
        return self.supervisor.request_rolling_restart()

    def watch(self) -> None:
        """Run the supervisor's loop in a background thread (started by :func:`start`)."""
        self._thread = threading.Thread(target=self.supervisor.run, args=(self._stop,), name="ferviz-supervisor",
                                        daemon=True)
        self._thread.start()
        threading.Thread(target=self.status_server.serve_forever, name="ferviz-status", daemon=True).start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop supervising, terminate every process (nginx first), wait, then kill what is left."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.supervisor.stop_all(timeout)
        if self.status_server is not None:
            if self._thread is not None:
                self.status_server.shutdown()
            self.status_server.server_close()
        if self._own_dir is not None:
            self._own_dir.cleanup()

    def __enter__(self) -> Deployment:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def status_server(supervisor: Supervisor, port: int) -> ThreadingHTTPServer:
    """An HTTP server on ``127.0.0.1:port`` answering any GET with ``supervisor.status()`` as JSON (nginx
    proxies ``/ferviz-status`` to it); call ``serve_forever`` to run it."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            body = (json.dumps(supervisor.status(), indent=1) + "\n").encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:  # quiet: nginx logs the requests
            pass

    return ThreadingHTTPServer(("127.0.0.1", port), Handler)


def resolve(upstream: str) -> str:
    """``host:port`` with the host as an IPv4 address (nginx reports the address it used, and the proxy maps
    it back to a replica's name)."""
    host, _, port = upstream.rpartition(":")
    try:
        return f"{socket.gethostbyname(host)}:{port}"
    except OSError as exc:
        raise DeployError(f"--upstream {upstream}: cannot resolve {host} ({exc}); give an IP address") from None


def start(replicas: int = 2, port: int = 8080, *, host: str = "127.0.0.1", upstreams: Sequence[str] = (),
          shared: bool = True, run_dir: str | Path | None = None, env: dict | None = None,
          certfile: str | Path | None = None, keyfile: str | Path | None = None,
          timeout: float = 120.0, backoff: Backoff = Backoff(),
          replica_cmd: Callable[[int, int], list[str]] | None = None) -> Deployment:
    """Start ``replicas`` local Streamlit replicas and nginx on ``host:port`` in front of them (and of
    ``upstreams``, replicas elsewhere), all supervised: what exits is restarted (see
    :mod:`ferviz.serve.supervisor`).

    Parameters
    ----------
    replicas : int
        Local replicas, each on a free loopback port (kept across restarts).
    port, host : int, str
        Where nginx listens (``0.0.0.0`` for a room's network).
    upstreams : sequence of str
        Replicas on other machines, ``host:port`` (not supervised here).
    shared : bool
        Run the replicas in shared mode (``FERVIZ_SHARED=1``: no server paths in any field).
    run_dir : str or Path, optional
        Where the nginx configuration, every log and ``status.json`` go; default a temporary folder
        removed on stop.
    env : dict, optional
        Extra environment variables for the replicas (e.g. ``FERVIZ_DATA_ROOTS``).
    certfile, keyfile : str or Path, optional
        Serve HTTPS (see :func:`nginx_config`).
    timeout : float
        Seconds to wait for each replica and for nginx to answer.
    backoff : Backoff
        Restart delays and when to give up on a replica that keeps crashing.
    replica_cmd : callable, optional
        ``replica_cmd(k, port)`` -> the command of replica ``k`` (default :func:`replica_command`; tests
        inject a crashing one).

    Raises
    ------
    DeployError
        nginx missing, nothing to proxy, no replica that comes up, or nginx that does not start (all are
        stopped). A replica that cannot start while others do is left down (logged) and the room is served.
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
    ports = free_ports(replicas + 1)
    ports, status_port = ports[:-1], ports[-1]
    all_upstreams = [f"127.0.0.1:{p}" for p in ports] + [resolve(u) for u in upstreams]
    names = replica_names(all_upstreams)
    scheme = "http" if certfile is None else "https"
    url = f"{scheme}://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}"
    conf = run_dir / "nginx.conf"
    conf.write_text(nginx_config(all_upstreams, f"{host}:{port}", prefix=run_dir, certfile=certfile,
                                 keyfile=keyfile, status=f"127.0.0.1:{status_port}"))
    children = []
    for k, p in enumerate(ports):
        child_env = {**os.environ, **(env or {}), "FERVIZ_SHARED": "1" if shared else "0",
                     "FERVIZ_REPLICA": names[k]}
        children.append(Child(names[k], (replica_cmd or (lambda _k, q: replica_command(q)))(k, p),
                              f"http://127.0.0.1:{p}/_stcore/health", upstream=all_upstreams[k], env=child_env,
                              cwd=ROOT, log_path=run_dir / f"replica{k}.log"))
    children.append(Child("nginx", [nginx, "-p", str(run_dir), "-c", str(conf)], f"{url}/nginx-health",
                          role="proxy", log_path=run_dir / "nginx.log"))
    sup = Supervisor(children, backoff=backoff, status_path=run_dir / "status.json", start_timeout=timeout)
    dep = Deployment(url, all_upstreams, run_dir, sup, status_server=status_server(sup, status_port), _own_dir=own)
    (run_dir / "supervisor.pid").write_text(f"{os.getpid()}\n")
    try:
        if ports:
            failed = sup.start_all(timeout, names[:len(ports)])
            if len(failed) == len(ports):
                what = ", ".join(f"{c.name}: {c.state}, last exit code {c.last_exit}" for c in failed)
                raise DeployError(f"no replica came up ({what}); see {run_dir}/replica*.log")
        failed = sup.start_all(timeout, ["nginx"], stop_on_exit=True)
        if failed:
            tail = (run_dir / "nginx.log").read_text()[-800:].strip()
            raise DeployError(f"nginx did not start on {host}:{port} (is the port taken?): {tail}")
        wait_http(f"{url}/_stcore/health", timeout)
    except BaseException:
        dep.stop()
        raise
    dep.watch()
    log.info("serving %s: nginx -> %s (logs and status in %s)", url, ", ".join(all_upstreams), run_dir)
    return dep
