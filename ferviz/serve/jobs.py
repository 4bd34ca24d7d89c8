"""A small first-come-first-served queue for heavy work in one server process.

On a shared server every browser session runs its script in its own thread of one process. Attributions,
evaluation runs and video jobs each keep a core busy for seconds to minutes; when ten visitors start them
together, all of them slow down together and none finishes soon. :data:`QUEUE` lets at most
``FERVIZ_WORKERS`` of them run at once per process (default: half the cores, at least one) and makes the
others wait their turn in order, telling each its position while it waits.

Nothing here imports Streamlit; :func:`ferviz.ui.widgets.heavy_work` shows the position on the page.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ferviz.errors import FervizError

log = logging.getLogger(__name__)


class QueueTimeout(FervizError):
    """Waited longer than allowed for a free worker."""


def default_workers() -> int:
    """``FERVIZ_WORKERS`` if set to a positive integer (anything else is logged and ignored), else half
    the usable cores, at least one."""
    raw = os.environ.get("FERVIZ_WORKERS", "").strip()
    if raw.isdigit() and int(raw) >= 1:
        return int(raw)
    if raw:
        log.warning("FERVIZ_WORKERS must be a positive integer, got %r; using the default", raw)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // 2)


THREADS_ENV = "FERVIZ_TORCH_THREADS"


def default_threads(shared: bool) -> int | None:
    """Threads for torch, ONNX Runtime and OpenCV in this server process, or None (the libraries' default).

    ``FERVIZ_TORCH_THREADS`` if set to a positive integer (anything else is logged and ignored); else one
    in shared mode, where several visitors' requests run at once and each extra thread per request only
    oversubscribes the cores (``bench/concurrency.py`` measures it); else None: a local, single-user app
    gives each request every core.
    """
    raw = os.environ.get(THREADS_ENV, "").strip()
    if raw.isdigit() and int(raw) >= 1:
        return int(raw)
    if raw:
        log.warning("%s must be a positive integer, got %r; using the default", THREADS_ENV, raw)
    return 1 if shared else None


_threads_applied: int | None = None


def apply_threads(shared: bool) -> int:
    """Set :func:`default_threads` for torch and OpenCV once per process; return torch's thread count.

    ONNX Runtime sessions made afterwards take the same count (:mod:`ferviz.pipeline.fastpath`).
    """
    global _threads_applied
    import cv2
    import torch

    wanted = default_threads(shared)
    if wanted is not None and _threads_applied != wanted:
        torch.set_num_threads(wanted)
        cv2.setNumThreads(wanted)
        _threads_applied = wanted
        log.info("torch, ONNX Runtime and OpenCV: %d thread(s) per request", wanted)
    return torch.get_num_threads()


class WorkQueue:
    """At most ``workers`` jobs hold a slot at once; the others wait in arrival order.

    Parameters
    ----------
    workers : int
        Slots (jobs that may run at the same time).
    """

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.workers = workers
        self._cond = threading.Condition()
        self._running = 0
        self._waiting: deque[int] = deque()
        self._tickets = itertools.count()

    @property
    def running(self) -> int:
        """Jobs holding a slot now."""
        with self._cond:
            return self._running

    @property
    def waiting(self) -> int:
        """Jobs waiting for a slot now."""
        with self._cond:
            return len(self._waiting)

    @contextmanager
    def slot(self, on_wait: Callable[[int], None] | None = None, *, poll: float = 0.5,
             timeout: float | None = None) -> Iterator[None]:
        """Hold one slot for the ``with`` block, waiting for it first if all are taken.

        Parameters
        ----------
        on_wait : callable, optional
            ``on_wait(position)`` while waiting, whenever the position changes (1 = next to run) and at
            least every ``poll`` seconds; called without the queue's lock held. An exception it raises
            (a page closed mid-wait) leaves the queue cleanly.
        poll : float
            Seconds between checks.
        timeout : float, optional
            Give up with :class:`QueueTimeout` after this long.
        """
        ticket = next(self._tickets)
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._waiting.append(ticket)
        try:
            while True:
                with self._cond:
                    if self._running < self.workers and self._waiting[0] == ticket:
                        self._waiting.popleft()
                        self._running += 1
                        break
                    position = self._waiting.index(ticket) + 1
                if on_wait is not None:
                    on_wait(position)
                if deadline is not None and time.monotonic() > deadline:
                    raise QueueTimeout(f"no free worker within {timeout:.0f} s; try again in a moment")
                with self._cond:
                    self._cond.wait(poll)
        except BaseException:
            with self._cond:
                if ticket in self._waiting:
                    self._waiting.remove(ticket)
                self._cond.notify_all()
            raise
        try:
            yield
        finally:
            with self._cond:
                self._running -= 1
                self._cond.notify_all()


#: The process-wide queue of heavy work (attributions, evaluations, videos).
QUEUE = WorkQueue(default_workers())
