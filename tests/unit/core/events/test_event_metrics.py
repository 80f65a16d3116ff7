"""The process metrics the evaluation function serves at GET /metrics."""

from __future__ import annotations

import gc

from functions.core import metrics
from functions.core.events.publisher import EventPublisher

NAMES = [
    "togglemaster_events_published_total",
    "togglemaster_events_dropped_total",
    "togglemaster_events_sent_total",
    "togglemaster_sqs_requests_total",
    "togglemaster_events_buffered",
    "togglemaster_event_delivery_failing",
    "togglemaster_snapshot_age_seconds",
    "togglemaster_snapshot_version",
]


def test_render__fresh_metrics__every_name_and_nothing_from_the_global_registry() -> None:
    # Given a fresh set, with the snapshot gauges set for one source
    fresh = metrics.reset()
    fresh.snapshot_version.labels(source="config").set(42)
    fresh.snapshot_age_seconds.labels(source="config").set(0.25)
    # When rendered through the module, as GET /metrics does
    body, content_type = metrics.render()
    text = body.decode()
    # Then every ToggleMaster metric is described, and only those
    assert content_type.startswith("text/plain; version=")
    for name in NAMES:
        assert f"# TYPE {name} " in text, name
    assert 'togglemaster_snapshot_version{source="config"} 42.0' in text
    assert "python_gc" not in text and "process_cpu" not in text and "_created" not in text


def test_reset__after_counting__starts_from_zero() -> None:
    # Given counts in the current set
    metrics.current().events_sent.inc(5)
    # When reset
    fresh = metrics.reset()
    # Then the new set is current and empty
    assert metrics.current() is fresh
    assert fresh.registry.get_sample_value("togglemaster_events_sent_total") == 0


def test_before_render__publisher_gone__its_hook_forgotten() -> None:
    # Given a publisher reporting to a set of metrics
    fresh = metrics.Metrics()
    publisher = EventPublisher(lambda body: None, background=False, metrics=fresh)
    publisher.publish_evaluation("u", "f", True, "production", None, "STATIC")
    assert b"togglemaster_events_published_total 1.0" in fresh.render()[0]
    # When the publisher is garbage
    del publisher
    gc.collect()
    # Then rendering still works, without it
    assert b"togglemaster_events_published_total 1.0" in fresh.render()[0]
    assert fresh._hooks == []
