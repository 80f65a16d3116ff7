"""`GET /metrics` on every function as the container serves it: `togglemaster-serve` with two
worker processes, so a scrape (answered by either) must add up both workers' numbers;
the figures an on-call engineer needs are there; the same figures as EMF lines when asked."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from prometheus_client.multiprocess import MultiProcessCollector

from functions.core import metrics
from functions.core.names import FUNCTIONS
from functions.devstack.processes import ChildProcess, free_port, tail, wait_until
from functions.devstack.stack import DevStack, function_command
from tests.e2e.polling import eventually

pytestmark = pytest.mark.e2e

HEALTH_200 = re.compile(
    r'^togglemaster_http_requests_total\{method="GET",route="/health",status="200"\} (\S+)$',
    re.MULTILINE,
)


@dataclass
class Served:
    target: str
    url: str
    metrics_dir: Path
    process: ChildProcess

    @property
    def log(self) -> Path:
        return self.process.log_path


@pytest.fixture(scope="module")
def two_workers(
    stack: DevStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Served]]:
    """Every function once more beside the stack, with its variables, on two workers,
    writing EMF lines every second."""
    root = tmp_path_factory.mktemp("two-workers")
    served: dict[str, Served] = {}
    try:
        for target in FUNCTIONS:
            port = free_port()
            metrics_dir = root / f"{target}-metrics"
            env = {
                **stack.function_env(target),
                "WORKERS": "2",
                "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
                "METRICS_EMF": "1",
                "METRICS_EMF_SECONDS": "1",
            }
            process = ChildProcess(
                f"{target}-2",
                function_command(target, port, stack.functions_source),
                log_path=root / f"{target}.log",
                env=env,
            )
            process.start()
            served[target] = Served(target, f"http://127.0.0.1:{port}", metrics_dir, process)
        for one in served.values():
            try:
                wait_until(
                    lambda one=one: requests.get(f"{one.url}/health", timeout=2).ok,  # type: ignore[misc]
                    timeout=30,
                    what=one.target,
                    alive=one.process.is_running,
                )
            except Exception as exc:
                raise AssertionError(f"{exc}\n{tail(one.log)}") from None
        yield served
    finally:
        for one in served.values():
            one.process.stop()


def _health_counts_per_process(metrics_dir: Path) -> dict[int, float]:
    """`GET /health 200` as each process wrote it in its own file."""
    counts = {}
    for path in metrics_dir.glob("counter_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        for family in MultiProcessCollector.merge([str(path)]):  # type: ignore[no-untyped-call]
            for sample in family.samples:
                if (
                    sample.name == "togglemaster_http_requests_total"
                    and sample.labels.get("route") == "/health"
                    and sample.labels.get("status") == "200"
                ):
                    counts[pid] = sample.value
    return counts


def _scraped_health(url: str) -> float:
    match = HEALTH_200.search(requests.get(f"{url}/metrics", timeout=5).text)
    return float(match.group(1)) if match else 0.0


@pytest.mark.parametrize("target", FUNCTIONS)
def test_metrics__requests_spread_over_two_workers__one_scrape_adds_them_all_up(
    two_workers: dict[str, Served], target: str
) -> None:
    # Given requests on new connections, in parallel, until both workers have answered
    # some (the kernel hands connections to either)
    one = two_workers[target]
    time.sleep(metrics.FLUSH_SECONDS * 1.5)  # what came before (start-up probes) is flushed
    sent = sum(_health_counts_per_process(one.metrics_dir).values())
    with ThreadPoolExecutor(8) as pool:
        for _ in range(100):
            answers = list(
                pool.map(
                    lambda _: (
                        requests.get(
                            f"{one.url}/health", headers={"Connection": "close"}, timeout=5
                        ).status_code
                    ),
                    range(16),
                )
            )
            assert answers == [200] * 16
            sent += 16
            busy = eventually(
                lambda: _health_counts_per_process(one.metrics_dir),
                lambda counts, sent=sent: sum(counts.values()) == sent,  # type: ignore[misc]
                f"{target}: each worker's file holds what it answered",
                timeout=5,
            )
            if len([pid for pid, count in busy.items() if count]) >= 2:
                break
    # When it is scraped (each worker moves its numbers to its file within a second)
    scraped = eventually(
        lambda: _scraped_health(one.url),
        lambda value: value == sent,
        f"{target}: the scrape's GET /health count",
        timeout=5,
    )
    # Then the scrape is the sum over both workers, not the answering worker's share
    per_process = _health_counts_per_process(one.metrics_dir)
    assert len([count for count in per_process.values() if count]) >= 2, per_process
    assert scraped == sent == sum(per_process.values())


def test_metrics__each_function__its_figures_by_route_status_and_reason(
    two_workers: dict[str, Served], stack: DevStack, api_key: str
) -> None:
    # Given a refused key and a good one on every function that takes keys, a flag
    # looked up by name, and evaluations
    forged = "tm_key_" + uuid.uuid4().hex
    for target in ("flags", "targeting", "evaluation"):
        url = two_workers[target].url
        path = {"flags": "/flags", "targeting": "/segments", "evaluation": "/evaluate"}[target]
        query = {"user_id": "u1", "flag_name": "metrics-flag"} if target == "evaluation" else {}
        for key in (forged, api_key, api_key):
            requests.get(
                f"{url}{path}", params=query, headers={"Authorization": f"Bearer {key}"}, timeout=5
            )
    requests.get(
        f"{two_workers['flags'].url}/flags/some-secret-name",
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=5,
    )
    requests.post(f"{two_workers['auth'].url}/admin/keys", json={"name": "x"}, timeout=5)

    def scrape(target: str) -> str:
        return requests.get(f"{two_workers[target].url}/metrics", timeout=5).text

    # When each is scraped
    # Then each says what it answered by route pattern (never a path's value) and status
    latency = re.compile(
        r'togglemaster_http_request_duration_seconds_bucket\{le="0.005",method="GET",route="/flags"\}'
    )
    wanted = (
        'route="/flags/<name>"',
        'reason="unknown"',
        # the key cache: where each check's answer came from
        'togglemaster_key_cache_lookups_total{result="hit"}',
        'togglemaster_key_cache_lookups_total{result="miss"}',
    )
    # each worker moves its figures to the shared files once a second: wait for both
    flags = eventually(
        lambda: scrape("flags"),
        lambda text: all(line in text for line in wanted) and latency.search(text) is not None,
        "flags' metrics",
    )
    assert "some-secret-name" not in flags and forged not in flags and api_key not in flags
    assert 'togglemaster_auth_denials_total{reason="unknown"}' in eventually(
        lambda: scrape("targeting"), lambda text: "auth_denials" in text, "targeting's denials"
    )
    eventually(
        lambda: scrape("auth"),
        lambda text: 'reason="missing"' in text and 'route="/admin/keys",status="403"' in text,
        "auth's /admin denial",
    )
    # evaluation: its snapshot and its events
    evaluation = eventually(
        lambda: scrape("evaluation"),
        lambda text: 'route="/evaluate",status="200"' in text and 'reason="unknown"' in text,
        "evaluation's metrics",
    )
    for name in (
        'togglemaster_snapshot_version{source="config"}',
        'togglemaster_snapshot_version{source="keys"}',
        'togglemaster_snapshot_age_seconds{source="config"}',
        "togglemaster_snapshot_stale ",
        "togglemaster_events_published_total ",
        "togglemaster_events_buffered ",
        "togglemaster_events_sent_total ",
        "togglemaster_events_dropped_total ",
        "togglemaster_events_failed_total ",
        "togglemaster_event_delivery_failing ",
    ):
        assert name in evaluation, name
    eventually(  # a scrape counts itself once answered: the next one shows it
        lambda: scrape("analytics"), lambda text: 'route="/metrics"' in text, "analytics' scrapes"
    )


def test_emf__enabled__every_function_writes_its_figures_as_emf_lines(
    two_workers: dict[str, Served],
) -> None:
    # Given every function answering with METRICS_EMF=1, every second
    for one in two_workers.values():
        requests.get(f"{one.url}/health", timeout=5)

    def emf_lines(one: Served) -> list[dict[str, object]]:
        lines = []
        for line in one.log.read_text(errors="replace").splitlines():
            if line.startswith('{"_aws"'):
                lines.append(json.loads(line))
        return lines

    # When its log is read
    for one in two_workers.values():
        documents = eventually(
            lambda one=one: emf_lines(one),  # type: ignore[misc]
            lambda found: any("HttpRequests" in doc for doc in found),
            f"{one.target}'s EMF lines",
        )
        # Then the requests are there, in the ToggleMaster namespace, by function
        requests_line = next(doc for doc in documents if "HttpRequests" in doc)
        directive = requests_line["_aws"]["CloudWatchMetrics"][0]  # type: ignore[index]
        assert directive["Namespace"] == "ToggleMaster"
        assert requests_line["service"] == f"togglemaster-{one.target}"
        assert "route" in requests_line and "status" in requests_line
