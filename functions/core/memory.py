"""The process's cyclic garbage collector: paused while a request builds a large
structure, and kept off the long-lived heap of a process that serves a hot path.

Export and import of 10 000 flags allocate about a million dicts, lists and models.
The collector runs every few hundred allocations and now and then walks every live
object: measured, that was three quarters of an export's time. What those requests
build holds no reference cycles worth collecting early, so the collector waits until
they finish, then runs on as before. Requests in other threads share the pause.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class _Pauses:
    """How many callers hold the collector off; it resumes when the last one leaves,
    unless it was off before the first came."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._resume = False

    def enter(self) -> None:
        with self._lock:
            if self._holders == 0:
                self._resume = gc.isenabled()
                gc.disable()
            self._holders += 1

    def leave(self) -> None:
        with self._lock:
            self._holders -= 1
            if self._holders == 0 and self._resume:
                gc.enable()


_pauses = _Pauses()


@contextmanager
def collector_paused() -> Iterator[None]:
    """Around (or, as a decorator, on) work that allocates in bulk and makes no cycles."""
    _pauses.enter()
    try:
        yield
    finally:
        _pauses.leave()


YOUNG_THRESHOLD = 20_000
"""Allocations between two young collections in a hot-path process (CPython: 700)."""
MIDDLE_THRESHOLD = 50
"""Young collections between two middle ones (CPython: 10)."""


def settle_long_lived() -> None:
    """For a process that has loaded what it keeps (evaluation's snapshot, its imports):
    move every object it holds out of the collector's sight (`gc.freeze`, at once: no
    collection first, which would stall a cold start's first requests for as long as
    it walks the snapshot), and collect the young less often. A request's objects die
    young and make no cycles, so the collections a busy worker ran every few dozen
    requests (young) and every few hundred (middle, up to 5 ms here, each a stall for
    every request in flight: the p99) found next to nothing. A later snapshot is freed
    by reference counting as before; only cycles wait longer."""
    gc.freeze()
    _, _, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, oldest)
