"""ToggleMaster's metrics: served at `GET /metrics` by every function, and written as
CloudWatch EMF lines where an EMF sink is configured.

What is counted (names, types and labels in `Metrics`): requests by route pattern and
status with their latency, authentication denials by reason, the snapshot's versions,
age and staleness (evaluation; the keys' version on flags and targeting too), the key
lookups' hits and misses (flags, targeting), and the events published, buffered, sent,
dropped and failed (evaluation).

Several worker processes. `togglemaster-serve` points PROMETHEUS_MULTIPROC_DIR at an
emptied directory before it forks its workers, so prometheus_client keeps each worker's
numbers in files of its own there and a scrape, whichever worker answers it, adds every
worker's up (`render`). A worker that dies leaves its counters behind (their sums
never go down) and its gauges are forgotten: each worker marks itself dead on the way out
(`shutdown`), and a scrape forgets the gauges of any worker that is no longer running.
Gauges say how workers combine (`multiprocess_mode`): events buffered add up, the
snapshot's age and staleness are the worst worker's, its version the oldest worker's.
Without the variable (tests, a bare `create_app`) the numbers are this process's own.

The hot path. Writing to those files costs about a microsecond per value, so a request
is not written there: `RequestTally.note` adds it to a plain per-worker tally (a lock,
a dict lookup and a bisect), which the worker's `metrics` thread moves into the
registry every `FLUSH_SECONDS`, after the `before_flush` hooks have brought theirs up
to date (the event publisher's counts, the snapshot's gauges, the answers a
summarising request log tallied itself: `RequestTally.add`). A scrape flushes the
answering worker first, so the others are at most `FLUSH_SECONDS` behind.

EMF. With `configure(..., emf=EmfSettings(...))` the same thread writes, every
`EmfSettings.seconds`, this worker's figures for the interval as CloudWatch Embedded
Metric Format lines on stdout, built with aws-lambda-powertools' metrics provider: one
line per label set (the labels are its dimensions, beside `service`), counters as
their increase over the interval (left out when 0), gauges as their value (once it has
not been 0), the latency histogram as its count, mean and 99th percentile (the upper
bound of the bucket it falls in), in seconds. CloudWatch adds the workers' lines up.
"""

from __future__ import annotations

import contextlib
import glob
import json
import logging
import math
import os
import re
import sys
import threading
import time
import weakref
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from types import MethodType
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

log = logging.getLogger(__name__)

Hook = Callable[[], None]

MULTIPROC_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
FLUSH_SECONDS = 1.0
"""How often each worker moves its request tally and hooks' numbers into the registry."""
DURATION_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
"""Seconds: evaluation answers in well under a millisecond, an import may take seconds."""
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Methods counted by name; any other is `other` (a client cannot grow the label set)."""
UNMATCHED = "unmatched"
"""The `route` of a request no route answered (404, 405): never the raw path."""
DENIAL_REASONS = frozenset(
    {
        # 401: the key is missing or not good (`Refusal.reason`)
        "missing",
        "not_a_key",
        "master_key",
        "unknown",
        "revoked",
        "expired",
        "rotated",
        # 403: a good key that may not do this, or /admin without the master key
        "scope",
        "environment",
        "forbidden",
        # 429: too many failed attempts
        "rate_limited",
    }
)

# A `_created` series beside every counter doubles the exposition for no use: rate()
# copes with restarts without it. ToggleMaster is this process's only user of the library.
disable_created_metrics()  # type: ignore[no-untyped-call]


def multiprocess_dir() -> str | None:
    """The directory the workers share their numbers in, or None (one process's own)."""
    path = os.environ.get(MULTIPROC_DIR_VARIABLE)
    return path if path and os.path.isdir(path) else None


class Metrics:
    """ToggleMaster's metrics, in one registry (not prometheus_client's global one, so a
    test can start from zero with `reset()` and nothing a library registers leaks in)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        # -- every function -----------------------------------------------------------
        self.http_requests = Counter(
            "togglemaster_http_requests",
            "Requests answered, by method, route pattern (`unmatched`: no route) and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.http_request_duration = Histogram(
            "togglemaster_http_request_duration_seconds",
            "Time from the router receiving a request to its response, by method and route.",
            ["method", "route"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.auth_denials = Counter(
            "togglemaster_auth_denials",
            "Requests refused for their key (401), its rights (403) or their rate (429), by"
            " reason.",
            ["reason"],
            registry=registry,
        )
        # -- flags, targeting: the keys they hold ------------------------------------------
        self.key_cache_lookups = Counter(
            "togglemaster_key_cache_lookups",
            "Bearer keys looked up in the keys this process holds, by result: hit (a usable"
            " key) or miss (unknown, revoked, rotated out or expired: refused, auth not asked).",
            ["result"],
            registry=registry,
        )
        # -- evaluation: the snapshot -------------------------------------------------------
        self.snapshot_version = Gauge(
            "togglemaster_snapshot_version",
            "Version of the configuration or keys decided on, per source (config, keys);"
            " the oldest any worker holds.",
            ["source"],
            multiprocess_mode="livemin",
            registry=registry,
        )
        self.snapshot_age_seconds = Gauge(
            "togglemaster_snapshot_age_seconds",
            "Seconds since the snapshot was last confirmed the newest, per source; the"
            " oldest of any worker.",
            ["source"],
            multiprocess_mode="livemax",
            registry=registry,
        )
        self.snapshot_stale = Gauge(
            "togglemaster_snapshot_stale",
            "1 while a worker answers from a snapshot it could not confirm (see /ready).",
            multiprocess_mode="livemax",
            registry=registry,
        )
        # -- evaluation: events -------------------------------------------------------------
        self.events_published = Counter(
            "togglemaster_events_published",
            "Evaluation events handed to the publisher.",
            registry=registry,
        )
        self.events_dropped = Counter(
            "togglemaster_events_dropped",
            "Evaluation events dropped: the buffer was full (oldest first), or unsendable.",
            registry=registry,
        )
        self.events_sent = Counter(
            "togglemaster_events_sent",
            "Evaluation events SQS accepted.",
            registry=registry,
        )
        self.events_failed = Counter(
            "togglemaster_events_failed",
            "Evaluation events in SQS sends that failed (kept and retried: an event counts"
            " again at each failed attempt).",
            registry=registry,
        )
        self.sqs_requests = Counter(
            "togglemaster_sqs_requests",
            "SQS requests as billed: one per started 64 KiB of each message sent.",
            registry=registry,
        )
        self.events_buffered = Gauge(
            "togglemaster_events_buffered",
            "Evaluation events waiting to be sent (a pack being retried included).",
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.event_delivery_failing = Gauge(
            "togglemaster_event_delivery_failing",
            "1 while sending events to SQS fails (events are kept and retried), else 0.",
            multiprocess_mode="livemax",
            registry=registry,
        )
        self.requests = RequestTally(self)
        self._hooks: list[Callable[[], Hook | None]] = []
        self._hooks_lock = threading.Lock()
        self._flush_lock = threading.Lock()

    # -- what owners call -----------------------------------------------------------------

    def before_flush(self, hook: Hook) -> None:
        """Call `hook` at each flush (every `FLUSH_SECONDS` in each worker, and before a
        scrape) to bring numbers kept elsewhere up to date.

        A bound method is held weakly: registering does not keep its object alive. The
        worker's metrics thread starts then, if it has not yet (its first request starts
        it otherwise), so that a worker's gauges are current before it is asked anything.
        """
        ref: Callable[[], Hook | None] = (
            weakref.WeakMethod(hook) if isinstance(hook, MethodType) else lambda: hook
        )
        with self._hooks_lock:
            self._hooks.append(ref)
        if self is _current and _flusher.thread is None:
            _flusher.start()

    before_render = before_flush

    def deny(self, reason: str) -> None:
        """Count a request refused for its key, its rights or its rate."""
        self.auth_denials.labels(reason if reason in DENIAL_REASONS else "forbidden").inc()

    # -- flushing and rendering -----------------------------------------------------------

    def flush(self) -> None:
        """Move this worker's request tally and the hooks' numbers into the registry."""
        with self._flush_lock:
            with self._hooks_lock:
                hooks = [ref() for ref in self._hooks]
                self._hooks = [ref for ref, hook in zip(self._hooks, hooks, strict=True) if hook]
            for hook in hooks:  # first: a hook may bring requests (`RequestTally.add`)
                if hook is None:
                    continue
                try:
                    hook()
                except Exception:
                    log.exception("a metrics hook failed; the other numbers are kept")
            self.requests.flush()

    def render(self) -> tuple[bytes, str]:
        """The Prometheus text exposition (every worker's numbers, added up, when they
        share a directory) and its content type."""
        self.flush()
        shared = multiprocess_dir()
        if shared is None:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        from prometheus_client import multiprocess

        forget_dead_workers(shared)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=shared)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST


class RequestTally:
    """Requests answered by this worker since the last flush, by method, route and status:
    a count per latency bucket and the seconds they took in all (see the module's doc)."""

    _BOUNDS = DURATION_BUCKETS

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = weakref.ref(metrics)
        self._window: dict[tuple[str, str | None, int], list[float]] = {}
        self._lock = threading.Lock()

    def note(self, method: str, route: str | None, status: int, seconds: float) -> None:
        """`route`: the pattern that answered (None: none did)."""
        with self._lock:
            counts = self._counts((method, route, status))
            counts[bisect_left(self._BOUNDS, seconds)] += 1
            counts[-1] += seconds

    def add(
        self, method: str, route: str | None, status: int, counts: list[int], seconds: float
    ) -> None:
        """Requests tallied elsewhere (a summarising request log): `counts[i]` in the i-th
        latency bucket (the last one `+Inf`), `seconds` in all."""
        with self._lock:
            window = self._counts((method, route, status))
            for index, count in enumerate(counts):
                window[index] += count
            window[-1] += seconds

    def _counts(self, key: tuple[str, str | None, int]) -> list[float]:
        """Under _lock: the window's counts for `key`, made (and the flusher started) on
        first use."""
        counts = self._window.get(key)
        if counts is None:
            counts = self._window[key] = [0] * (len(self._BOUNDS) + 2)
            if _flusher.thread is None:
                _flusher.start()
        return counts

    def flush(self) -> None:
        with self._lock:
            window, self._window = self._window, {}
        metrics = self._metrics()
        if metrics is None or not window:
            return
        for (method, route, status), counts in window.items():
            method_label = method if method in METHODS else "other"
            route_label = route or UNMATCHED
            total = int(sum(counts[:-1]))
            metrics.http_requests.labels(method_label, route_label, str(status)).inc(total)
            add_observations(
                metrics.http_request_duration.labels(method_label, route_label),
                [int(count) for count in counts[:-1]],
                counts[-1],
            )


def add_observations(child: Histogram, counts: list[int], total: float) -> None:
    """Add `counts[i]` observations to the i-th bucket (the last one `+Inf`) of a
    histogram's labelled child, and `total` to its sum, in one write per bucket instead
    of one `observe` per request."""
    buckets = child._buckets
    if len(buckets) != len(counts):
        raise ValueError(f"{len(counts)} counts for {len(buckets)} buckets")
    for value, count in zip(buckets, counts, strict=True):
        if count:
            value.inc(count)
    child._sum.inc(total)


def forget_dead_workers(shared: str) -> None:
    """Forget the gauges of workers that are gone (killed, or ended without a shutdown),
    so that a dead worker's buffered events or stale snapshot are not counted."""
    from prometheus_client import multiprocess

    pids = set()
    for path in glob.glob(os.path.join(shared, "gauge_live*_*.db")):
        match = re.search(r"_(\d+)\.db$", path)
        if match:
            pids.add(int(match.group(1)))
    for pid in pids:
        if not _running(pid):
            multiprocess.mark_process_dead(pid, shared)  # type: ignore[no-untyped-call]


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clear_multiprocess_dir(path: str) -> None:
    """Remove the numbers a previous run left in `path` (its `*.db` files, nothing else)."""
    for name in glob.glob(os.path.join(path, "*.db")):
        with contextlib.suppress(FileNotFoundError):
            os.remove(name)


# -- EMF -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EmfSettings:
    namespace: str
    seconds: float = 60.0


Labels = tuple[tuple[str, str], ...]
Figure = tuple[str, str, float]
"""An EMF metric: name, unit, value."""


class EmfWriter:
    """Writes this worker's figures for each interval as CloudWatch EMF lines (see the
    module's doc); what the last interval ended with is kept to take differences."""

    def __init__(
        self, settings: EmfSettings, service: str, write: Callable[[str], None] | None = None
    ) -> None:
        self.settings = settings
        self.service = service
        self._write = write or _stdout_line
        self._last: dict[tuple[str, Labels], float] = {}
        self._gauges_seen: set[tuple[str, Labels]] = set()
        """Gauges written once they were not 0: a function's gauges it never sets (the
        events' on flags) stay out, a failure's gauge going back to 0 is written."""
        self._lock = threading.Lock()

    def emit(self, metrics: Metrics) -> int:
        """Write one line per label set that has something to say; the number written."""
        from aws_lambda_powertools.metrics import EphemeralMetrics

        with self._lock:
            groups = self._figures(metrics)
        for labels, figures in sorted(groups.items()):
            emf = EphemeralMetrics(namespace=self.settings.namespace, service=self.service)
            for label, label_value in labels:
                emf.add_dimension(name=label, value=label_value)
            for name, unit, value in figures:
                emf.add_metric(name=name, unit=unit, value=value)
            self._write(json.dumps(emf.serialize_metric_set(), separators=(",", ":")))
        return len(groups)

    def _since_last(self, name: str, labels: Labels, value: float) -> float:
        key = (name, labels)
        before = self._last.get(key, 0.0)
        self._last[key] = value
        return value - before

    def _figures(self, metrics: Metrics) -> dict[Labels, list[Figure]]:
        groups: dict[Labels, list[Figure]] = {}
        for family in metrics.registry.collect():
            name = _emf_name(family.name)
            if family.type == "histogram":
                self._histogram(family, name, groups)
                continue
            for sample in family.samples:
                labels: Labels = tuple(sorted(sample.labels.items()))
                if family.type == "counter":
                    increase = self._since_last(sample.name, labels, float(sample.value))
                    if increase > 0:
                        groups.setdefault(labels, []).append((name, "Count", increase))
                elif sample.value or (sample.name, labels) in self._gauges_seen:
                    self._gauges_seen.add((sample.name, labels))
                    unit = "Seconds" if family.name.endswith("_seconds") else "None"
                    groups.setdefault(labels, []).append((name, unit, float(sample.value)))
        _add_hit_ratio(groups)
        return groups

    def _histogram(self, family: Any, name: str, groups: dict[Labels, list[Figure]]) -> None:
        """Per label set: the interval's count, mean and 99th percentile's bucket bound."""
        buckets: dict[Labels, list[tuple[float, float]]] = {}
        totals: dict[Labels, dict[str, float]] = {}
        for sample in family.samples:
            labels: Labels = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "le"))
            if sample.name.endswith("_bucket"):
                bound = float(sample.labels["le"])
                increase = self._since_last(f"{sample.name}:{bound}", labels, float(sample.value))
                buckets.setdefault(labels, []).append((bound, increase))
            else:
                suffix = sample.name.rsplit("_", 1)[-1]
                increase = self._since_last(sample.name, labels, float(sample.value))
                totals.setdefault(labels, {})[suffix] = increase
        for labels, increases in totals.items():
            count = increases.get("count", 0.0)
            if count <= 0:
                continue
            groups.setdefault(labels, []).extend(
                [
                    (f"{name}Count", "Count", count),
                    (f"{name}Average", "Seconds", increases.get("sum", 0.0) / count),
                    (
                        f"{name}P99",
                        "Seconds",
                        _quantile_bound(buckets.get(labels, []), count, 0.99),
                    ),
                ]
            )


def _add_hit_ratio(groups: dict[Labels, list[Figure]]) -> None:
    """`KeyCacheHitRatio`: the share of the interval's key lookups that found a usable key."""
    lookups = {
        dict(labels).get("result"): value
        for labels, figures in groups.items()
        for name, _, value in figures
        if name == "KeyCacheLookups"
    }
    total = sum(lookups.values())
    if total > 0:
        ratio = lookups.get("hit", 0.0) / total
        groups.setdefault((), []).append(("KeyCacheHitRatio", "None", ratio))


def _quantile_bound(cumulative: list[tuple[float, float]], count: float, q: float) -> float:
    """The upper bound of the bucket the `q` quantile falls in (the largest finite bound
    when it falls in `+Inf`)."""
    finite = [bound for bound, _ in cumulative if math.isfinite(bound)]
    for bound, seen in cumulative:
        if seen >= q * count:
            return bound if math.isfinite(bound) else (finite[-1] if finite else 0.0)
    return finite[-1] if finite else 0.0


def _emf_name(prometheus_name: str) -> str:
    """`togglemaster_http_request_duration_seconds` → `HttpRequestDuration`."""
    words = prometheus_name.removeprefix("togglemaster_").removesuffix("_seconds").split("_")
    return "".join(word.capitalize() for word in words)


def _stdout_line(line: str) -> None:
    """One write per line, so that a log line written at the same time cannot split it."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


# -- the worker's thread ---------------------------------------------------------------------


class _Flusher:
    """Each worker's `metrics` thread: flushes every `FLUSH_SECONDS`, writes EMF lines
    every `EmfSettings.seconds` when configured. Started by the worker's first request
    (a fork copies no thread; a forked worker starts its own)."""

    def __init__(self) -> None:
        self.thread: threading.Thread | None = None
        self.emf: EmfWriter | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        os.register_at_fork(after_in_child=self._forget)

    def start(self) -> None:
        with self._lock:
            if self.thread is not None:
                return
            self.thread = threading.Thread(target=self._run, name="metrics", daemon=True)
            self.thread.start()

    def _run(self) -> None:
        next_emf = time.monotonic() + (self.emf.settings.seconds if self.emf else math.inf)
        while not self._stop.wait(FLUSH_SECONDS):
            try:
                _current.flush()
                if self.emf is not None and time.monotonic() >= next_emf:
                    next_emf = time.monotonic() + self.emf.settings.seconds
                    self.emf.emit(_current)
            except Exception:
                log.exception("the metrics thread failed a round; it carries on")

    def stop(self) -> None:
        self._stop.set()

    def _forget(self) -> None:
        self.thread = None
        self._stop = threading.Event()
        self._lock = threading.Lock()


_flusher = _Flusher()
_current = Metrics()


def current() -> Metrics:
    """This process's metrics."""
    return _current


def reset() -> Metrics:
    """Start this process's metrics afresh (tests); objects built before keep the old set."""
    global _current
    _current = Metrics()
    return _current


def render() -> tuple[bytes, str]:
    """`GET /metrics`: body and content type of the metrics (every worker's, added up)."""
    return _current.render()


def configure(service: str, emf: EmfSettings | None) -> None:
    """At a function's start-up: whether (and how often) to write EMF lines."""
    _flusher.emf = None if emf is None else EmfWriter(emf, f"togglemaster-{service}")


def emf_writer() -> EmfWriter | None:
    return _flusher.emf


def shutdown() -> None:
    """Before a worker exits: its last numbers flushed (and written as EMF), its gauges
    forgotten, since it no longer holds what they describe."""
    _flusher.stop()
    try:
        _current.flush()
        if _flusher.emf is not None:
            _flusher.emf.emit(_current)
    finally:
        shared = multiprocess_dir()
        if shared is not None:
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(os.getpid(), shared)  # type: ignore[no-untyped-call]
