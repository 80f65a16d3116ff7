"""Process-local metrics, served by the evaluation function at `GET /metrics`.

Each worker process has its own numbers (what it published, dropped, sent; how old its
snapshot is). They live in a registry of their own, not prometheus_client's global
one, so a test can start from zero with `reset()` and nothing a library registers
globally leaks into the answer.

Counters are fed in batches by their owners (the event publisher's sender thread, not
the request path, which only increments plain integers under its lock); owners that
hold numbers of their own register a `before_render` hook so a scrape sees them
exactly, not as of the last batch.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from types import MethodType

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    disable_created_metrics,
    generate_latest,
)

log = logging.getLogger(__name__)

Hook = Callable[[], None]

# A `_created` series beside every counter doubles the exposition for no use: rate()
# copes with restarts without it. ToggleMaster is this process's only user of the library.
disable_created_metrics()  # type: ignore[no-untyped-call]


class Metrics:
    """ToggleMaster's metrics, in one registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
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
        self.sqs_requests = Counter(
            "togglemaster_sqs_requests",
            "SQS requests as billed: one per started 64 KiB of each message sent.",
            registry=registry,
        )
        self.events_buffered = Gauge(
            "togglemaster_events_buffered",
            "Evaluation events waiting to be sent (a pack being retried included).",
            registry=registry,
        )
        self.event_delivery_failing = Gauge(
            "togglemaster_event_delivery_failing",
            "1 while sending events to SQS fails (events are kept and retried), else 0.",
            registry=registry,
        )
        self.snapshot_age_seconds = Gauge(
            "togglemaster_snapshot_age_seconds",
            "Age of the configuration this process decides on, per source (config, keys).",
            ["source"],
            registry=registry,
        )
        self.snapshot_version = Gauge(
            "togglemaster_snapshot_version",
            "Version of the configuration this process decides on, per source (config, keys).",
            ["source"],
            registry=registry,
        )
        self._hooks: list[Callable[[], Hook | None]] = []
        self._hooks_lock = threading.Lock()

    def before_render(self, hook: Hook) -> None:
        """Call `hook` before each render, to bring numbers kept elsewhere up to date.

        A bound method is held weakly: registering does not keep its object alive.
        """
        ref: Callable[[], Hook | None] = (
            weakref.WeakMethod(hook) if isinstance(hook, MethodType) else lambda: hook
        )
        with self._hooks_lock:
            self._hooks.append(ref)

    def render(self) -> tuple[bytes, str]:
        """The Prometheus text exposition and its content type."""
        with self._hooks_lock:
            hooks = [ref() for ref in self._hooks]
            self._hooks = [ref for ref, hook in zip(self._hooks, hooks, strict=True) if hook]
        for hook in hooks:
            if hook is None:
                continue
            try:
                hook()
            except Exception:
                log.exception("a metrics hook failed; rendering what is known")
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


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
    """`GET /metrics`: body and content type of this process's metrics."""
    return _current.render()
