"""The metrics every function serves: the per-worker request tally, several worker
processes added up through PROMETHEUS_MULTIPROC_DIR, and the EMF lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from functions.core import metrics
from functions.core.settings import Settings


def _value(document: dict[str, object], name: str) -> object:
    """An EMF document's value of `name` (Powertools writes each as a list of values)."""
    value = document[name]
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def _sample(fresh: metrics.Metrics, name: str, **labels: str) -> float | None:
    return fresh.registry.get_sample_value(name, labels)


def test_request_tally__flushed__counts_and_histogram_as_observe_would() -> None:
    # Given a fresh set, and beside it the same requests observed one by one
    fresh = metrics.Metrics()
    reference = metrics.Metrics()
    durations = [0.0001, 0.0004, 0.0007, 0.003, 0.2, 42.0]
    for seconds in durations:
        fresh.requests.note("GET", "/flags/<name>", 200, seconds)
        reference.http_requests.labels("GET", "/flags/<name>", "200").inc()
        reference.http_request_duration.labels("GET", "/flags/<name>").observe(seconds)
    # When the tally is flushed
    fresh.flush()
    # Then every sample is what `observe` gives, bucket by bucket
    assert fresh.registry.get_sample_value(
        "togglemaster_http_requests_total",
        {"method": "GET", "route": "/flags/<name>", "status": "200"},
    ) == len(durations)
    for bound in [*metrics.DURATION_BUCKETS, float("inf")]:
        le = "+Inf" if bound == float("inf") else str(bound)
        labels = {"method": "GET", "route": "/flags/<name>", "le": le}
        name = "togglemaster_http_request_duration_seconds_bucket"
        assert fresh.registry.get_sample_value(name, labels) == (
            reference.registry.get_sample_value(name, labels)
        ), le
    total = _sample(fresh, "togglemaster_http_request_duration_seconds_sum", method="GET")
    assert total is None  # the sum is per method and route, not per method alone
    assert fresh.registry.get_sample_value(
        "togglemaster_http_request_duration_seconds_sum",
        {"method": "GET", "route": "/flags/<name>"},
    ) == pytest.approx(sum(durations))


def test_request_tally__no_route_and_odd_method__bounded_labels_never_the_path() -> None:
    # Given requests no route answered, one with a made-up method
    fresh = metrics.Metrics()
    fresh.requests.note("GET", None, 404, 0.001)
    fresh.requests.note("BREW", None, 405, 0.001)
    # When flushed and rendered
    fresh.flush()
    text = generate_latest(fresh.registry).decode()
    # Then they are counted under `unmatched` and `other`
    assert 'method="GET",route="unmatched",status="404"} 1.0' in text
    assert 'method="other",route="unmatched",status="405"} 1.0' in text
    assert "BREW" not in text


def test_note__hot_path__costs_at_most_a_microsecond_or_two() -> None:
    # Given a tally with its window already holding the route
    fresh = metrics.Metrics()
    note = fresh.requests.note
    note("GET", "/evaluate", 200, 0.0002)
    # When 20 000 requests are noted, best of 5 rounds
    rounds = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(20_000):
            note("GET", "/evaluate", 200, 0.0002)
        rounds.append((time.perf_counter() - started) / 20_000)
    # Then a request costs well under 2 µs (about 0.4 µs on the bench machine)
    assert min(rounds) < 2e-6, f"{min(rounds) * 1e6:.2f} µs a request"


def test_deny__unknown_reason__counted_as_forbidden_not_as_a_new_label() -> None:
    # Given a fresh set
    fresh = metrics.Metrics()
    # When a known and a made-up reason are counted
    fresh.deny("revoked")
    fresh.deny("anything a caller could make up")
    # Then the label set stays the documented one
    assert _sample(fresh, "togglemaster_auth_denials_total", reason="revoked") == 1
    assert _sample(fresh, "togglemaster_auth_denials_total", reason="forbidden") == 1


def test_emf__two_intervals__one_line_per_label_set_with_the_interval_figures() -> None:
    # Given a set with requests, key checks, events and a gauge, and an EMF writer
    fresh = metrics.Metrics()
    for _ in range(99):
        fresh.requests.note("GET", "/flags", 200, 0.002)
    fresh.requests.note("GET", "/flags", 200, 0.3)
    fresh.key_cache_lookups.labels("hit").inc(3)
    fresh.key_cache_lookups.labels("miss").inc(1)
    fresh.events_sent.inc(7)
    fresh.events_buffered.set(5)
    fresh.flush()
    lines: list[str] = []
    writer = metrics.EmfWriter(metrics.EmfSettings("TestSpace"), "togglemaster-flags", lines.append)
    # When it writes the first interval
    writer.emit(fresh)
    # Then each line is EMF for the namespace, its labels are dimensions beside service
    documents = [json.loads(line) for line in lines]
    assert all(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "TestSpace" for doc in documents)
    route = next(doc for doc in documents if doc.get("route") == "/flags" and "status" in doc)
    assert _value(route, "HttpRequests") == 100 and route["service"] == "togglemaster-flags"
    assert set(route["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]) == {
        "method",
        "route",
        "status",
        "service",
    }
    latency = next(doc for doc in documents if "HttpRequestDurationCount" in doc)
    assert _value(latency, "HttpRequestDurationCount") == 100
    assert _value(latency, "HttpRequestDurationAverage") == pytest.approx((99 * 0.002 + 0.3) / 100)
    assert _value(latency, "HttpRequestDurationP99") == 0.0025
    unlabelled = next(doc for doc in documents if "EventsSent" in doc)
    assert _value(unlabelled, "EventsSent") == 7 and _value(unlabelled, "EventsBuffered") == 5
    assert _value(unlabelled, "KeyCacheHitRatio") == pytest.approx(0.75)
    # When nothing happens but one more event sent, and it writes again
    lines.clear()
    fresh.events_sent.inc(1)
    writer.emit(fresh)
    # Then counters say the interval's increase only; quiet series are left out
    documents = [json.loads(line) for line in lines]
    assert not any("HttpRequests" in doc for doc in documents)
    assert _value(next(doc for doc in documents if "EventsSent" in doc), "EventsSent") == 1


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"METRICS_EMF": "1"}, "ToggleMaster"),
        ({"POWERTOOLS_METRICS_NAMESPACE": "Shop"}, "Shop"),
        ({"METRICS_EMF": "true", "POWERTOOLS_METRICS_NAMESPACE": "Shop"}, "Shop"),
        ({"METRICS_EMF": "0", "POWERTOOLS_METRICS_NAMESPACE": "Shop"}, None),
    ],
)
def test_settings__emf_variables__namespace_or_none(
    environ: dict[str, str], expected: str | None
) -> None:
    # Given / When the variables are read
    settings = Settings.from_env(environ)
    # Then EMF is on where an EMF sink is configured, with its namespace
    assert settings.emf_namespace() == expected


WORKERS = textwrap.dedent(
    """
    import os, sys, time
    from functions.core import metrics

    shared = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    children = []
    for index in range(2):
        pid = os.fork()
        if pid == 0:
            m = metrics.current()
            for _ in range(10 * (index + 1)):
                m.requests.note("GET", "/health", 200, 0.001)
            m.events_buffered.set(100)
            m.flush()
            if index == 0:
                metrics.shutdown()  # a worker that ends cleanly
                os._exit(0)
            time.sleep(30)  # a worker still serving
            os._exit(0)
        children.append(pid)
    os.waitpid(children[0], 0)
    time.sleep(0.5)
    print(metrics.render()[0].decode())
    os.kill(children[1], 9)
    os.waitpid(children[1], 0)
    print("---")
    print(metrics.render()[0].decode())
    """
)


def test_render__two_worker_processes__counters_added_up_dead_workers_gauges_forgotten(
    tmp_path: Path,
) -> None:
    # Given PROMETHEUS_MULTIPROC_DIR set before prometheus_client is imported, as
    # togglemaster-serve sets it, and two forked workers counting 10 and 20 requests,
    # each holding 100 buffered events; the first ends cleanly
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    # When the parent renders, then renders again after the second worker is killed
    done = subprocess.run(
        [sys.executable, "-c", WORKERS], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    before, after = done.stdout.split("---")
    # Then the requests of both workers are added up, before and after the kill
    line = 'togglemaster_http_requests_total{method="GET",route="/health",status="200"} 30.0'
    assert line in before and line in after
    assert (
        'togglemaster_http_request_duration_seconds_count{method="GET",route="/health"} 30.0'
        in (before)
    )
    # And only running workers' gauges count: the one that ended is forgotten at once,
    # the killed one at the next scrape
    assert "togglemaster_events_buffered 100.0" in before
    assert "togglemaster_events_buffered 100.0" not in after
