"""One INFO line per request, written by `Router.handle` for both protocols: method, path,
status, duration in milliseconds, under the request's correlation id (`X-Request-Id`);
and the request counted in the metrics by route pattern and status
(`functions.core.metrics`: a per-worker tally flushed every second).

The path is logged without its query string, which can carry user ids and attributes;
nothing else of the request is read (no header but the request id, so never a key).

The line is `"GET /flags 200"` with the fields `method`, `path`, `status`,
`duration_ms` and `correlation_id` (what every line of the request carries).

Evaluation, the hot path, cannot afford it: the JSON formatter costs about 19 µs a line,
more than the decision, and 15 000 answers a second would be as many lines. A log made
with `summarise_every` writes every error (status 400 and above) at once, as above, and
folds the other answers into one line per route and status every so many seconds,
`"GET /evaluate 200 x15234"` with `count`, `duration_ms` (the mean), `max_duration_ms`
and `slowest_request_id`. Its tally also holds the latency buckets the metrics need,
handed to them at each of their flushes: a summarised answer costs one lock and one
lookup for both, about 0.9 µs here (half of what counting it twice cost). With
LOG_LEVEL=DEBUG it writes every request's line, as the other functions do.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from bisect import bisect_left
from dataclasses import dataclass, field

from functions.core import metrics
from functions.http.startup import on_shutdown

log = logging.getLogger("togglemaster.http")


def _no_buckets() -> list[int]:
    return [0] * (len(metrics.DURATION_BUCKETS) + 1)


@dataclass(slots=True)
class _Tally:
    """The successful answers of one route and status in the current window; `buckets`
    and `unfed` are those not yet handed to the metrics (every second)."""

    count: int = 0
    total: float = 0.0
    slowest: float = -1.0
    slowest_id: str = ""
    buckets: list[int] = field(default_factory=_no_buckets)
    unfed: float = 0.0


_Unfed = list[tuple[tuple[str, str, int], list[int], float]]


def _unfed(window: dict[tuple[str, str, int], _Tally]) -> _Unfed:
    """The answers of `window` not yet in the metrics, taken from it (under its lock)."""
    taken: _Unfed = []
    for key, tally in window.items():
        if tally.unfed or any(tally.buckets):
            taken.append((key, tally.buckets, tally.unfed))
            tally.buckets = _no_buckets()
            tally.unfed = 0.0
    return taken


def _hand(unfed: _Unfed) -> None:
    requests = metrics.current().requests
    for (method, route, status), buckets, seconds in unfed:
        requests.add(method, route, status, buckets, seconds)


class RequestLog:
    """Where `Router.handle` reports each request it answered (see the module's doc)."""

    def __init__(self, summarise_every: float | None = None) -> None:
        self._every = summarise_every
        self._window: dict[tuple[str, str, int], _Tally] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._fed: metrics.Metrics | None = None
        """The metrics this log hands its summarised answers to, at each of their flushes."""
        os.register_at_fork(after_in_child=self._forget)

    def note(
        self, method: str, path: str, route: str | None, status: int, started: float, rid: str
    ) -> None:
        """`route`: the path pattern that answered (None: none did); `started`: when the
        request reached the router, by `time.perf_counter`. Also counts the request in
        the metrics (`togglemaster_http_requests_total` and its latency histogram): a
        summarised answer through this log's own tally (one lock and one lookup per
        request for both), any other directly."""
        seconds = time.perf_counter() - started
        if self._every is None or status >= 400 or route is None or log.isEnabledFor(logging.DEBUG):
            metrics.current().requests.note(method, route, status, seconds)
            log.info(
                f"{method} {path} {status}",
                extra={
                    "method": method,
                    "path": path,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 3),
                },
            )
            return
        key = (method, route, status)
        with self._lock:
            tally = self._window.get(key)
            if tally is None:
                tally = self._window[key] = _Tally()
                self._starting()
            tally.count += 1
            tally.total += seconds
            tally.buckets[bisect_left(metrics.DURATION_BUCKETS, seconds)] += 1
            tally.unfed += seconds
            if seconds > tally.slowest:
                tally.slowest = seconds
                tally.slowest_id = rid

    def flush(self) -> None:
        """Write the summary lines of the window so far, and start a new one."""
        with self._lock:
            window, self._window = self._window, {}
            unfed = _unfed(window)
        _hand(unfed)
        for (method, route, status), tally in window.items():
            log.info(
                f"{method} {route} {status} x{tally.count}",
                extra={
                    "method": method,
                    "path": route,
                    "status": status,
                    "count": tally.count,
                    "duration_ms": round(tally.total / tally.count * 1000, 3),
                    "max_duration_ms": round(tally.slowest * 1000, 3),
                    "slowest_request_id": tally.slowest_id,
                },
            )

    def _feed(self) -> None:
        """Hand the answers summarised since the last time to the metrics (their flush
        hook: every second, and before a scrape)."""
        with self._lock:
            unfed = _unfed(self._window)
        _hand(unfed)

    def _starting(self) -> None:
        """Under _lock, for a new route and status: the summary thread runs, and the
        current metrics take this log's numbers at each of their flushes."""
        if self._thread is None:
            self._start()
        current = metrics.current()
        if self._fed is not current:
            self._fed = current
            current.before_flush(self._feed)

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="request-log", daemon=True)
        self._thread.start()
        on_shutdown(self.flush)  # the last window, before the worker exits

    def _run(self) -> None:
        assert self._every is not None
        while True:
            time.sleep(self._every)
            self.flush()

    def _forget(self) -> None:
        """A forked worker starts with an empty window and no thread (a fork copies none)."""
        self._window = {}
        self._lock = threading.Lock()
        self._thread = None
