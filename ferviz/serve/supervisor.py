"""Keep a room's processes running: restart what exits (with backoff), give up on what keeps crashing,
restart replicas one at a time on request, and write what it sees to a JSON status file.

:class:`Supervisor` drives :class:`Child` processes (the Streamlit replicas and nginx) from one loop,
:meth:`Supervisor.tick`, that never blocks for long; the clock, the way a process is started and the health
probe are parameters, so the restart logic is tested with a fake clock and fake processes.

A child's life: ``starting`` (spawned, its health URL not answering yet) -> ``up`` -> (it exits)
``waiting`` (restart after a backoff delay) -> ``starting`` ... After ``give_up_after`` crashes within
``window`` seconds it is left ``down`` (logged as an error) and the others go on. A child that does not
become healthy within ``start_timeout`` seconds is killed and counted as a crash.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import threading
import time
import urllib.request
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)


def _die_with_parent() -> None:
    """In a child, before exec: have Linux send SIGTERM when the parent dies, so a killed ``ferviz serve``
    leaves no replica or nginx behind (elsewhere this does nothing)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@dataclass(frozen=True)
class Backoff:
    """When to restart a child that exited, and when to stop trying.

    The n-th crash within ``window`` seconds is followed by a wait of ``first * factor**(n-1)`` seconds
    (at most ``longest``); the ``give_up_after``-th crash within ``window`` leaves the child down.
    """

    first: float = 1.0
    factor: float = 2.0
    longest: float = 30.0
    give_up_after: int = 5
    window: float = 120.0

    def delay(self, recent_crashes: int) -> float | None:
        """Seconds to wait before the next start after ``recent_crashes`` (>= 1) crashes within the window;
        None: give up."""
        if recent_crashes >= self.give_up_after:
            return None
        return min(self.longest, self.first * self.factor ** max(0, recent_crashes - 1))


@dataclass
class Child:
    """One supervised process: how to start it and where it answers when healthy."""

    name: str
    command: list[str]
    health_url: str
    role: str = "replica"  # "replica" (restarted by a rolling restart) or "proxy"
    upstream: str = ""  # host:port nginx sends to (replicas)
    env: dict | None = None
    cwd: str | Path | None = None
    log_path: Path | None = None
    # state, owned by the Supervisor
    state: str = "stopped"
    proc: object = None
    restarts: int = 0
    last_exit: int | None = None
    crashes: deque = field(default_factory=deque)
    since: float = 0.0  # clock time of the last state change
    start_at: float = 0.0  # waiting: when to start again; starting: when it was spawned
    descendants: list[int] = field(default_factory=list)
    expected_exit: bool = False  # the supervisor stopped it on purpose (rolling restart, shutdown)

    @property
    def pid(self) -> int | None:
        return getattr(self.proc, "pid", None) if self.state in ("starting", "up") else None


def popen(child: Child):
    """Start ``child`` as a subprocess (output to its log, SIGTERM to it if this process dies)."""

    out = subprocess.DEVNULL
    if child.log_path is not None:
        out = os.open(child.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        return subprocess.Popen(child.command, stdout=out, stderr=subprocess.STDOUT, env=child.env,
                                cwd=child.cwd, preexec_fn=_die_with_parent, start_new_session=True)
    finally:
        if child.log_path is not None:
            os.close(out)


def http_ok(url: str, timeout: float = 1.0) -> bool:
    """Whether ``url`` answers 200 within ``timeout`` seconds."""
    context = None
    if url.startswith("https:"):  # our own proxy, often with a self-signed certificate
        import ssl

        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as r:
            return r.status == 200
    except OSError:
        return False


def descendant_pids(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (from /proc; empty elsewhere): nginx's workers, which outlive a
    killed master and would keep its port."""
    found = []
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = entry.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields and fields[1] == str(pid):
            found.append(int(entry.parent.name))
    return found


class Supervisor:
    """Start, watch and restart ``children``; see the module docstring for the life of a child.

    Parameters
    ----------
    children : sequence of Child
    backoff : Backoff
    clock : callable
        Seconds, monotonic (``time.monotonic``; tests pass a fake).
    spawn : callable
        ``spawn(child)`` -> a process object with ``pid``, ``poll()``, ``send_signal()``, ``kill()``, ``wait()``.
    healthy : callable
        ``healthy(child)`` -> bool, whether the child answers.
    status_path : Path, optional
        Where to write the JSON status (atomically) whenever something changes.
    start_timeout : float
        Seconds a starting child has to become healthy before it is killed and counted as a crash.
    roll_settle : float
        Seconds a rolling restart waits after a replica is up again before it stops the next one.
    """

    def __init__(self, children: Sequence[Child], *, backoff: Backoff = Backoff(),
                 clock: Callable[[], float] = time.monotonic, spawn: Callable = popen,
                 healthy: Callable[[Child], bool] | None = None, status_path: Path | None = None,
                 start_timeout: float = 120.0, roll_settle: float = 7.0) -> None:
        self.children = list(children)
        self.backoff, self.clock, self.spawn = backoff, clock, spawn
        self.healthy = healthy or (lambda child: http_ok(child.health_url))
        self.status_path, self.start_timeout = status_path, start_timeout
        self.rolling: deque[str] = deque()  # replicas still to restart in the current rolling restart
        self.stop_timeout = 15.0  # a replica stopped by a rolling restart is killed after this long
        self._roll_kill_at = float("inf")
        # after a replica is back, wait this long before stopping the next: nginx tries a replica it saw fail
        # again only after its fail_timeout (5 s), and until then the next one's browsers would have nowhere to go
        self.roll_settle = roll_settle
        self._roll_next_at = 0.0
        self._lock = threading.Lock()
        self._roll_stopping: str | None = None  # the replica the rolling restart has stopped, not yet up

    # ------------------------------------------------------------------------------------------ one child
    def _set(self, child: Child, state: str) -> None:
        child.state, child.since = state, self.clock()

    def launch(self, child: Child) -> None:
        """Spawn ``child`` now (state ``starting``)."""
        child.proc, child.expected_exit, child.descendants = self.spawn(child), False, []
        self._set(child, "starting")
        child.start_at = self.clock()
        log.info("%s: started (pid %s)", child.name, child.proc.pid)

    def _reap(self, child: Child, code: int) -> None:
        """``child``'s process ended with ``code``: schedule its restart, or give up on it."""
        for pid in child.descendants:  # nginx workers of a killed master
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        child.last_exit, now = code, self.clock()
        if child.expected_exit:
            child.start_at = now
            self._set(child, "waiting")
            return
        child.crashes.append(now)
        while child.crashes and child.crashes[0] < now - self.backoff.window:
            child.crashes.popleft()
        delay = self.backoff.delay(len(child.crashes))
        if delay is None:
            self._set(child, "down")
            log.error("%s CRASHED %d TIMES IN %.0f s (last exit code %s): left down; the others keep serving. "
                      "See %s; `ferviz serve` must be restarted to try it again", child.name, len(child.crashes),
                      self.backoff.window, code, child.log_path or "its output")
            if self._roll_stopping == child.name or child.name in self.rolling:
                self._abort_roll(f"{child.name} is down")
            return
        child.start_at = now + delay
        self._set(child, "waiting")
        log.warning("%s exited with code %s (crash %d within %.0f s): restarting in %.0f s", child.name, code,
                    len(child.crashes), self.backoff.window, delay)

    def _stop_proc(self, child: Child, sig: int = signal.SIGTERM) -> None:
        if child.proc is not None and child.proc.poll() is None:
            child.expected_exit = True
            child.proc.send_signal(sig)

    # ------------------------------------------------------------------------------------------ the loop
    def tick(self) -> bool:
        """One pass over the children: reap, restart what is due, probe what is starting, step a rolling
        restart. Returns whether any state changed (the status file is rewritten then)."""
        before = [(c.state, c.restarts, c.last_exit) for c in self.children]
        now = self.clock()
        for child in self.children:
            if child.state in ("starting", "up"):
                code = child.proc.poll()
                if code is not None:
                    self._reap(child, code)
                elif child.state == "starting":
                    if self.healthy(child):
                        self._set(child, "up")
                        child.descendants = descendant_pids(child.proc.pid) if child.role == "proxy" else []
                        log.info("%s: up (pid %s, restarts %d)", child.name, child.proc.pid, child.restarts)
                    elif now - child.start_at > self.start_timeout:
                        log.warning("%s: not healthy after %.0f s, killing it", child.name, self.start_timeout)
                        child.proc.kill()
                        child.proc.wait()
                        self._reap(child, child.proc.poll())
            if child.state == "waiting" and self.clock() >= child.start_at:
                child.restarts += 1
                self.launch(child)
        self._step_roll()
        changed = before != [(c.state, c.restarts, c.last_exit) for c in self.children]
        if changed:
            self.write_status()
        return changed

    def run(self, stop: threading.Event, interval: float = 0.5, sleep: Callable[[float], object] | None = None
            ) -> None:
        """Tick every ``interval`` seconds until ``stop`` is set (the status file is refreshed every 5 s)."""
        last_write = self.clock()
        while not stop.is_set():
            if self.tick() or self.clock() - last_write > 5:
                self.write_status()
                last_write = self.clock()
            (sleep or stop.wait)(interval)

    # ------------------------------------------------------------------------------------------ rolling
    def request_rolling_restart(self) -> bool:
        """Restart the replicas one at a time, each once the previous one is up again (e.g. on SIGHUP, to load
        a new default model). Returns False (and does nothing) if one is already in progress."""
        with self._lock:
            if self.rolling or self._roll_stopping:
                log.warning("a rolling restart is already in progress")
                return False
            self.rolling.extend(c.name for c in self.children if c.role == "replica" and c.state != "down")
        log.info("rolling restart of %s", ", ".join(self.rolling) or "no replica")
        return True

    def _abort_roll(self, why: str) -> None:
        log.error("rolling restart stopped (%s): %s not restarted", why, ", ".join(self.rolling) or "all others")
        self.rolling.clear()
        self._roll_stopping = None

    def _step_roll(self) -> None:
        with self._lock:
            by_name = {c.name: c for c in self.children}
            if self._roll_stopping is not None:
                child = by_name[self._roll_stopping]
                if child.state == "up" and not child.expected_exit:
                    log.info("rolling restart: %s is up again", child.name)
                    self._roll_stopping = None
                    self._roll_next_at = self.clock() + self.roll_settle
                elif child.state == "up" and self.clock() > self._roll_kill_at:
                    log.warning("rolling restart: %s ignored SIGTERM for %.0f s, killing it", child.name,
                                self.stop_timeout)
                    child.proc.kill()
                    self._roll_kill_at = float("inf")
                elif child.state == "down":
                    self._abort_roll(f"{child.name} did not come back")
                return
            while self.rolling:
                child = by_name[self.rolling[0]]
                if child.state == "down":
                    self.rolling.popleft()
                    continue
                if child.state != "up" or self.clock() < self._roll_next_at:  # let it (or the last one) settle
                    return
                others = [c for c in self.children if c.role == "replica" and c is not child and c.state == "up"]
                if not others:
                    log.warning("rolling restart: %s is the only replica up; the room waits while it restarts",
                                child.name)
                self.rolling.popleft()
                self._roll_stopping = child.name
                log.info("rolling restart: stopping %s", child.name)
                self._stop_proc(child)
                self._roll_kill_at = self.clock() + self.stop_timeout
                return

    def rolling_done(self) -> bool:
        """Whether no rolling restart is in progress."""
        with self._lock:
            return not self.rolling and self._roll_stopping is None

    # ------------------------------------------------------------------------------------------ status
    def status(self) -> dict:
        """Every child's state: ``{"pid", "rolling_restart", "children": [{name, role, upstream, state, pid,
        restarts, last_exit, recent_crashes, seconds_in_state}]}``; no paths (a room may read it)."""
        now = self.clock()
        return {"supervisor_pid": os.getpid(), "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "rolling_restart": not self.rolling_done(),
                "children": [{"name": c.name, "role": c.role, "upstream": c.upstream, "state": c.state,
                              "pid": c.pid, "restarts": c.restarts, "last_exit": c.last_exit,
                              "recent_crashes": len(c.crashes), "seconds_in_state": round(now - c.since, 1)}
                             for c in self.children]}

    def write_status(self) -> None:
        """Write :meth:`status` to ``status_path`` (readable by nginx's workers, which serve it)."""
        if self.status_path is None:
            return
        tmp = self.status_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.status(), indent=1) + "\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, self.status_path)

    # ------------------------------------------------------------------------------------------ all at once
    def start_all(self, timeout: float, names: Sequence[str] | None = None, poll: float = 0.3,
                  stop_on_exit: bool = False) -> list[Child]:
        """Spawn the children named ``names`` (default all) and tick until each is up or down; returns the ones
        that are not up after ``timeout`` seconds (crashed children are restarted meanwhile, as always,
        unless ``stop_on_exit``: then the first exit ends the wait)."""
        todo = [c for c in self.children if names is None or c.name in names]
        for child in todo:
            self.launch(child)
        deadline = self.clock() + timeout
        while self.clock() < deadline and any(c.state not in ("up", "down") for c in todo):
            self.tick()
            if stop_on_exit and any(c.last_exit is not None for c in todo):
                break
            time.sleep(poll)
        self.write_status()
        return [c for c in todo if c.state != "up"]

    def stop_all(self, timeout: float = 10.0) -> None:
        """SIGTERM every child (the proxy first), wait up to ``timeout`` seconds, then SIGKILL the rest."""
        ordered = sorted(self.children, key=lambda c: c.role != "proxy")
        for child in ordered:
            self._stop_proc(child)
        deadline = time.monotonic() + timeout
        for child in ordered:
            if child.proc is None:
                continue
            try:
                child.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.proc.kill()
                child.proc.wait()
            for pid in child.descendants:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            child.state = "stopped"
        self.write_status()
