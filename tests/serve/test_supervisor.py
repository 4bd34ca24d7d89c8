"""The supervisor's restart logic with a fake clock, fake processes and a fake health probe."""

from __future__ import annotations

import json
import signal

import pytest

from ferviz.serve.supervisor import Backoff, Child, Supervisor


class FakeProc:
    """A process that runs until told to exit (``die``) or signalled."""

    next_pid = 100

    def __init__(self) -> None:
        FakeProc.next_pid += 1
        self.pid, self.code, self.signals = FakeProc.next_pid, None, []

    def poll(self):
        return self.code

    def die(self, code: int) -> None:
        self.code = code

    def send_signal(self, sig: int) -> None:
        self.signals.append(sig)
        self.code = -sig

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def wait(self, timeout=None):
        return self.code


class Room:
    """Two replicas and a proxy under a Supervisor driven by hand: ``room.t`` is the clock."""

    def __init__(self, tmp_path=None, backoff: Backoff = Backoff(), healthy_after: float = 2.0) -> None:
        self.t, self.procs, self.healthy_after = 0.0, {}, healthy_after
        self.spawned_at = {}
        children = [Child("r0", ["app"], "u0"), Child("r1", ["app"], "u1"),
                    Child("nginx", ["nginx"], "u", role="proxy")]
        self.sup = Supervisor(children, backoff=backoff, clock=lambda: self.t, spawn=self.spawn,
                              healthy=self.healthy, status_path=tmp_path / "status.json" if tmp_path else None,
                              start_timeout=30)
        self.by_name = {c.name: c for c in children}
        self.broken: set[str] = set()  # children that never answer

    def spawn(self, child):
        proc = FakeProc()
        self.procs.setdefault(child.name, []).append(proc)
        self.spawned_at[proc.pid] = self.t
        return proc

    def healthy(self, child) -> bool:
        return child.name not in self.broken and self.t - self.spawned_at[child.proc.pid] >= self.healthy_after

    def run_until(self, t: float, step: float = 0.5) -> None:
        while self.t < t:
            self.t += step
            self.sup.tick()

    def proc(self, name: str) -> FakeProc:
        return self.procs[name][-1]

    def state(self, name: str) -> str:
        return self.by_name[name].state


def test_backoff_doubles_up_to_the_longest_and_gives_up_after_the_fifth_crash():
    b = Backoff(first=1, factor=2, longest=5, give_up_after=5, window=120)
    assert [b.delay(n) for n in range(1, 6)] == [1, 2, 4, 5, None]


def test_a_killed_replica_is_restarted_after_the_backoff_and_the_others_are_left_alone(tmp_path):
    room = Room(tmp_path)
    for child in room.sup.children:
        room.sup.launch(child)
    room.run_until(3)
    assert [room.state(n) for n in ("r0", "r1", "nginx")] == ["up", "up", "up"]
    first, other = room.proc("r0"), room.proc("r1")
    first.die(-9)  # the OOM killer
    room.run_until(3.5)
    assert room.state("r0") == "waiting" and room.by_name["r0"].last_exit == -9
    room.run_until(4.5)  # 1 s of backoff after the first crash
    assert room.state("r0") == "starting" and room.proc("r0") is not first
    room.run_until(7)
    assert room.state("r0") == "up" and room.by_name["r0"].restarts == 1
    assert room.proc("r1") is other and room.by_name["r1"].restarts == 0 and other.signals == []
    status = json.loads((tmp_path / "status.json").read_text())
    r0 = status["children"][0]
    assert (r0["name"], r0["state"], r0["restarts"], r0["last_exit"], r0["pid"]) == ("r0", "up", 1, -9,
                                                                                    room.proc("r0").pid)


def test_a_replica_crashing_in_a_loop_is_left_down_while_the_other_serves():
    room = Room(backoff=Backoff(first=1, factor=2, longest=30, give_up_after=5, window=120))
    for child in room.sup.children:
        room.sup.launch(child)
    room.run_until(3)
    starts = []
    for _ in range(6):  # each new r0 dies as soon as it is up
        if room.state("r0") == "down":
            break
        while room.state("r0") != "up":
            room.run_until(room.t + 0.5)
        starts.append(room.t)
        room.proc("r0").die(1)
        room.run_until(room.t + 0.5)
    assert room.state("r0") == "down" and len(room.procs["r0"]) == 5  # the first start and 4 restarts
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert gaps == sorted(gaps) and gaps[-1] - gaps[0] >= 7  # delays of 1, 2, 4, 8 s between restarts
    room.run_until(room.t + 300)
    assert room.state("r0") == "down" and len(room.procs["r0"]) == 5  # never tried again
    assert room.state("r1") == "up" and room.state("nginx") == "up"


def test_crashes_older_than_the_window_are_forgotten():
    room = Room(backoff=Backoff(first=1, factor=2, longest=30, give_up_after=3, window=60))
    room.sup.launch(room.by_name["r0"])
    for _ in range(5):  # a crash every 100 s: never 3 within 60 s
        room.run_until(room.t + 100)
        assert room.state("r0") == "up"
        room.proc("r0").die(-9)
    room.run_until(room.t + 10)
    assert room.state("r0") == "up" and room.by_name["r0"].restarts == 5
    assert len(room.by_name["r0"].crashes) == 1


def test_a_replica_that_never_answers_is_killed_after_the_start_timeout():
    room = Room()
    room.broken.add("r0")
    room.sup.launch(room.by_name["r0"])
    room.run_until(29)
    assert room.state("r0") == "starting"
    first = room.proc("r0")
    room.run_until(31)
    assert first.signals == [signal.SIGKILL] and room.by_name["r0"].crashes


def test_nginx_is_restarted_too():
    room = Room()
    room.sup.launch(room.by_name["nginx"])
    room.run_until(3)
    room.proc("nginx").die(-9)
    room.run_until(7)
    assert room.state("nginx") == "up" and room.by_name["nginx"].restarts == 1


def test_a_rolling_restart_takes_one_replica_at_a_time_and_waits_for_it_to_be_up():
    room = Room(healthy_after=5)
    for child in room.sup.children:
        room.sup.launch(child)
    room.run_until(6)
    old = {n: room.proc(n) for n in ("r0", "r1", "nginx")}
    assert room.sup.request_rolling_restart()
    assert not room.sup.request_rolling_restart()  # one at a time
    up_counts = []
    while not room.sup.rolling_done():
        room.run_until(room.t + 0.5)
        up_counts.append(sum(room.state(n) == "up" for n in ("r0", "r1")))
        assert room.t < 60
    assert min(up_counts) == 1  # never both replicas away at once
    assert old["r0"].signals == [signal.SIGTERM] and old["r1"].signals == [signal.SIGTERM]
    assert room.proc("r0") is not old["r0"] and room.proc("r1") is not old["r1"]
    assert room.proc("nginx") is old["nginx"]  # the proxy is not part of it
    assert all(not room.by_name[n].crashes for n in ("r0", "r1"))  # a restart on purpose is no crash
    assert room.state("r0") == room.state("r1") == "up"


def test_a_rolling_restart_stops_when_a_replica_does_not_come_back():
    room = Room(backoff=Backoff(first=1, factor=1, longest=1, give_up_after=2, window=120))
    for child in room.sup.children:
        room.sup.launch(child)
    room.run_until(3)
    old_r1 = room.proc("r1")
    room.broken.add("r0")  # the new model breaks the app
    room.sup.request_rolling_restart()
    room.run_until(200)
    assert room.state("r0") == "down" and room.sup.rolling_done()
    assert room.proc("r1") is old_r1 and old_r1.signals == []  # r1 keeps the old model and serves


@pytest.mark.parametrize("code", [0, 1, -11])
def test_any_exit_not_asked_for_counts_as_a_crash(code):
    room = Room()
    room.sup.launch(room.by_name["r1"])
    room.run_until(3)
    room.proc("r1").die(code)
    room.run_until(3.5)
    assert room.by_name["r1"].last_exit == code and len(room.by_name["r1"].crashes) == 1


def test_stop_all_terminates_the_proxy_first():
    room = Room()
    for child in room.sup.children:
        room.sup.launch(child)
    room.run_until(3)
    order = []
    for name in ("r0", "r1", "nginx"):
        proc = room.proc(name)
        proc.send_signal = lambda sig, proc=proc, name=name: (order.append(name), FakeProc.send_signal(proc, sig))
    room.sup.stop_all()
    assert order[0] == "nginx" and sorted(order) == ["nginx", "r0", "r1"]
    assert all(room.state(n) == "stopped" for n in ("r0", "r1", "nginx"))
