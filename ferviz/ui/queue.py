"""Heavy work waits its turn (:data:`ferviz.serve.jobs.QUEUE`), and the page says so with its position."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterator
from contextlib import contextmanager

import streamlit as st

from ferviz.serve.jobs import QUEUE, WorkQueue

_DONE: OrderedDict[Hashable, None] = OrderedDict()  # work this process has finished (and cached)
_DONE_LOCK = threading.Lock()
_DONE_MAX = 1024


def waiting_text(what: str, position: int) -> str:
    """The line shown while ``what`` waits: its place in the queue, 1 meaning next."""
    ahead = "it runs next" if position == 1 else f"{position - 1} ahead of it"
    return f"Waiting for a free worker: {what} is number {position} in the queue ({ahead})…"


@contextmanager
def heavy_work(what: str, key: Hashable | None = None, queue: WorkQueue = QUEUE) -> Iterator[None]:
    """Run the ``with`` block in a worker slot, showing "waiting for a free worker" with the position.

    Parameters
    ----------
    what : str
        What waits, for the message ("the attributions").
    key : hashable, optional
        Identifies the work's result in the app's caches: work this process has already finished
        with the same key runs at once (it is a cache hit), without queueing.
    queue : WorkQueue
        The queue (the process-wide one; tests pass their own).
    """
    if key is not None:
        with _DONE_LOCK:
            if key in _DONE:
                _DONE.move_to_end(key)
                hit = True
            else:
                hit = False
        if hit:
            yield
            return
    box = st.empty()
    shown: list[int] = []

    def waiting(position: int) -> None:
        if not shown or shown[-1] != position:
            box.info(waiting_text(what, position))
            shown.append(position)

    with queue.slot(on_wait=waiting):
        box.empty()
        yield
    if key is not None:
        with _DONE_LOCK:
            _DONE[key] = None
            while len(_DONE) > _DONE_MAX:
                _DONE.popitem(last=False)
