"""The heavy-work queue: slots, first-come-first-served order, positions, leaving cleanly."""

from __future__ import annotations

import threading
import time

import pytest

from ferviz.serve.jobs import QueueTimeout, WorkQueue, default_workers


def hold(queue: WorkQueue, release: threading.Event, started: threading.Event) -> threading.Thread:
    def run():
        with queue.slot():
            started.set()
            release.wait(10)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(5)
    return thread


def test_waiters_run_in_arrival_order_and_see_their_positions():
    queue = WorkQueue(1)
    release, started = threading.Event(), threading.Event()
    holder = hold(queue, release, started)
    order, positions = [], {}

    def waiter(name):
        seen = positions.setdefault(name, [])
        with queue.slot(on_wait=seen.append, poll=0.02):
            order.append(name)

    threads = []
    for name in "abc":
        threads.append(threading.Thread(target=waiter, args=(name,), daemon=True))
        threads[-1].start()
        time.sleep(0.15)  # a, b, c arrive in this order
    assert queue.running == 1 and queue.waiting == 3
    assert positions["a"][-1] == 1 and positions["b"][-1] == 2 and positions["c"][-1] == 3
    release.set()
    for t in [holder, *threads]:
        t.join(5)
    assert order == ["a", "b", "c"]
    assert queue.running == 0 and queue.waiting == 0


def test_two_workers_run_two_jobs_at_once():
    queue = WorkQueue(2)
    release, started = threading.Event(), threading.Event()
    holder = hold(queue, release, started)
    entered = threading.Event()

    def second():
        with queue.slot():
            entered.set()

    threading.Thread(target=second, daemon=True).start()
    assert entered.wait(2)  # did not wait for the first
    release.set()
    holder.join(5)


def test_a_waiter_that_gives_up_leaves_the_queue_for_the_next():
    queue = WorkQueue(1)
    release, started = threading.Event(), threading.Event()
    holder = hold(queue, release, started)

    def closed_page(position):
        raise RuntimeError("page closed")

    with pytest.raises(RuntimeError, match="page closed"):
        with queue.slot(on_wait=closed_page):
            pass
    with pytest.raises(QueueTimeout, match="no free worker"):
        with queue.slot(timeout=0.1, poll=0.02):
            pass
    assert queue.waiting == 0
    release.set()
    holder.join(5)
    with queue.slot(timeout=1):  # nothing stale blocks the next job
        assert queue.running == 1
    with pytest.raises(RuntimeError, match="boom"):
        with queue.slot():
            raise RuntimeError("boom")
    assert queue.running == 0  # the slot came back after an error inside


def test_default_workers_reads_the_environment(monkeypatch, caplog):
    monkeypatch.setenv("FERVIZ_WORKERS", "3")
    assert default_workers() == 3
    monkeypatch.setenv("FERVIZ_WORKERS", "zero")
    assert default_workers() >= 1 and "FERVIZ_WORKERS" in caplog.text
    monkeypatch.delenv("FERVIZ_WORKERS")
    assert default_workers() >= 1
    with pytest.raises(ValueError):
        WorkQueue(0)


def test_heavy_work_skips_the_queue_for_work_already_done_and_says_the_position():
    from ferviz.ui.queue import heavy_work, waiting_text

    assert waiting_text("the video", 1) == ("Waiting for a free worker: the video is number 1 in the queue "
                                            "(it runs next)…")
    assert "2 ahead of it" in waiting_text("the video", 3)
    queue = WorkQueue(1)
    with heavy_work("the attributions", key=("k", 1), queue=queue):
        pass  # done once: remembered
    release, started = threading.Event(), threading.Event()
    holder = hold(queue, release, started)
    ran = threading.Event()

    def cached():
        with heavy_work("the attributions", key=("k", 1), queue=queue):
            ran.set()

    threading.Thread(target=cached, daemon=True).start()
    assert ran.wait(2)  # the queue is full, but a cache hit does not wait
    release.set()
    holder.join(5)


def test_thread_budget_is_one_per_request_when_shared_unless_set(monkeypatch, caplog):
    from ferviz.serve.jobs import THREADS_ENV, default_threads

    monkeypatch.delenv(THREADS_ENV, raising=False)
    assert default_threads(shared=True) == 1 and default_threads(shared=False) is None
    monkeypatch.setenv(THREADS_ENV, "3")
    assert default_threads(shared=True) == default_threads(shared=False) == 3
    monkeypatch.setenv(THREADS_ENV, "many")
    assert default_threads(shared=True) == 1
    assert "FERVIZ_TORCH_THREADS must be a positive integer" in caplog.text


def test_apply_threads_sets_torch_and_opencv(monkeypatch):
    import cv2
    import torch

    import ferviz.serve.jobs as jobs

    before_torch, before_cv = torch.get_num_threads(), cv2.getNumThreads()
    monkeypatch.setattr(jobs, "_threads_applied", None)
    monkeypatch.setenv(jobs.THREADS_ENV, "1")
    try:
        assert jobs.apply_threads(shared=False) == 1 == torch.get_num_threads() == cv2.getNumThreads()
        monkeypatch.delenv(jobs.THREADS_ENV)
        assert jobs.apply_threads(shared=False) == 1  # local mode leaves the count as it is
    finally:
        torch.set_num_threads(before_torch)
        cv2.setNumThreads(before_cv)
