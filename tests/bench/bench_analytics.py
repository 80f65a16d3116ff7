"""Analytics' write path: ``python tests/bench/bench_analytics.py`` (part of ``make bench``).

Against a private moto server, through a proxy that counts DynamoDB's requests and
write units: signed packs of 4 000 events POSTed over HTTP (binary CloudEvents, two
clients side by side) to the analytics function served as the image serves it, with
RAW_EVENTS=all, 0.1 and off; beside it, in the same run, the same items written
straight with ``BatchWriteItem`` (25 per request, two writers), the old analytics'
way and the floor a store of raw items can reach. Reports events/s, and DynamoDB write
requests and write units per 1 000 events (a conditional put refused still costs its
unit; a transaction costs 2 per item). About 80 s.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from functions.core.adapters.dynamodb import dynamodb_client
from functions.core.events.schema import EvaluationEvent, event_moment, parse_body
from functions.core.stores.analytics import to_item
from functions.devstack.aws import counts_table_for, ensure_analytics_table
from functions.devstack.moto import MotoServer, with_fake_credentials
from functions.devstack.processes import ChildProcess, free_port, wait_until
from functions.devstack.stack import function_command
from tests.integration.analytics_support import (
    EVENTS_SECRET,
    SQS_SOURCE,
    FaultyProxy,
    signed_pack,
    simple_events,
)

PACKS, PACK_EVENTS, CLIENTS = 3, 4_000, 2
EVENTS = PACKS * PACK_EVENTS
MODES = ("all", "0.1", "off")


def _packs() -> list[str]:
    return [signed_pack(simple_events(PACK_EVENTS, flag=f"flag-{n % 4}")) for n in range(PACKS)]


def _post(url: str, body: str) -> None:
    headers, data = to_binary(CloudEvent({**SQS_SOURCE, "id": str(uuid.uuid4())}, body.encode()))
    answer = requests.post(url, headers=headers, data=data, timeout=120)
    answer.raise_for_status()


def _through_analytics(mode: str, proxy: FaultyProxy, run_dir: Path) -> tuple[float, int, int]:
    table = f"Bench{mode.replace('.', '')}{uuid.uuid4().hex[:6]}"
    ensure_analytics_table(proxy.upstream, "us-east-1", table)
    port = free_port()
    env = with_fake_credentials(
        {
            **os.environ,
            "AWS_ENDPOINT_URL": proxy.url,
            "AWS_REGION": "us-east-1",
            "AWS_DYNAMODB_TABLE": table,
            "AWS_DYNAMODB_COUNTS_TABLE": counts_table_for(table),
            "EVENTS_SIGNING_SECRET": EVENTS_SECRET,
            "GRANT_SECRET": "bench-grant-secret-0123456789abcdefghij",
            "REDIS_URL": "redis://127.0.0.1:9",
            "AUTH_DATABASE_URL": "postgresql://u:p@127.0.0.1:9/auth",
            "CONFIG_DATABASE_URL": "postgresql://u:p@127.0.0.1:9/flags",
            "RAW_EVENTS": mode,
            "WORKERS": "1",
            "LOG_LEVEL": "WARNING",
        }
    )
    server = ChildProcess(
        "analytics", function_command("analytics", port), log_path=run_dir / f"{table}.log", env=env
    )
    server.start()
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until(lambda: _up(url), timeout=20, what="analytics", alive=server.is_running)
        packs = _packs()
        before_units = proxy.write_units
        started = time.perf_counter()
        with ThreadPoolExecutor(CLIENTS) as clients:
            list(clients.map(lambda body: _post(url, body), packs))
        elapsed = time.perf_counter() - started
        writes = sum(
            n
            for op, n in proxy.requests.items()
            if op in ("PutItem", "UpdateItem", "TransactWriteItems", "BatchWriteItem")
        )
        return EVENTS / elapsed, writes, proxy.write_units - before_units
    finally:
        server.stop()


def _up(url: str) -> bool:
    try:
        return requests.get(url + "health", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def _baseline(proxy: FaultyProxy) -> tuple[float, int, int]:
    table = f"BenchBatch{uuid.uuid4().hex[:6]}"
    ensure_analytics_table(proxy.upstream, "us-east-1", table)
    client = dynamodb_client("us-east-1", proxy.url)
    items = []
    for body in _packs():
        parsed = parse_body(body)
        for event in parsed.events:
            moment = event_moment(event)
            assert isinstance(event, EvaluationEvent) and moment is not None
            items.append(to_item(event, pack_id=parsed.pack_id, moment=moment, retention_days=30))
    batches = [items[start : start + 25] for start in range(0, len(items), 25)]

    def write(batch: list[dict[str, object]]) -> None:
        requests_ = [{"PutRequest": {"Item": item}} for item in batch]
        while requests_:
            answer = client.batch_write_item(RequestItems={table: requests_})
            requests_ = answer.get("UnprocessedItems", {}).get(table, [])

    before = (sum(proxy.requests.values()), proxy.write_units)
    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as writers:
        list(writers.map(write, batches))
    elapsed = time.perf_counter() - started
    return EVENTS / elapsed, sum(proxy.requests.values()) - before[0], proxy.write_units - before[1]


def _line(label: str, rate: float, writes: int, units: int) -> str:
    return f"{label:<28}{rate:>10.0f}{writes * 1000 / EVENTS:>13.1f}{units * 1000 / EVENTS:>12.1f}"


def main() -> None:
    os.environ.update(
        with_fake_credentials({}) | {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
    )
    run_dir = Path(tempfile.mkdtemp(prefix="bench-analytics-"))
    moto = MotoServer(free_port(), log_path=run_dir / "moto.log")
    endpoint = moto.start()
    try:
        with FaultyProxy(endpoint) as proxy:
            print(f"analytics write path: {EVENTS} events, packs of {PACK_EVENTS}, moto")
            print(f"{'mode':<28}{'events/s':>10}{'writes/1000':>13}{'units/1000':>12}")
            rate, writes, units = _baseline(proxy)
            print(_line("raw BatchWriteItem (floor)", rate, writes, units))
            for mode in MODES:
                proxy.requests.clear()
                rate, writes, units = _through_analytics(mode, proxy, run_dir)
                label = f"analytics RAW_EVENTS={mode}"
                print(_line(label, rate, writes, units))
    finally:
        moto.stop()


if __name__ == "__main__":
    main()
