"""What the analytics tests share: the function's settings against the session's servers,
signed packs as evaluation seals them (rows; format 1 as older evaluations did), the
function over real HTTP, DynamoDB behind a proxy that can fail, and reading both tables
back."""

from __future__ import annotations

import json
import secrets
import threading
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import flask
import functions_framework
import pytest
from werkzeug.serving import make_server

import functions
from functions.commands.bootstrap import provision_service_key
from functions.core.adapters.migrations import migrate
from functions.core.events.packs import seal_rows
from functions.core.events.schema import encode_evaluation, event_id, new_id_prefix
from functions.core.keys.signing import Signer
from functions.devstack.aws import client, counts_table_for
from functions.http import startup

REGION = "us-east-1"
EVENTS_SECRET = secrets.token_hex(32)
SIGNER = Signer(EVENTS_SECRET)
SOURCE = str(Path(functions.__file__).parent / "main.py")
SQS_SOURCE = {
    "type": "dev.knative.eventing.aws-sqs",
    "source": "dev.knative.eventing.aws-sqs-source",
}


@pytest.fixture
def analytics_env(
    moto_endpoint: str, analytics_table: str, auth_db: str, redis_url: str, fresh_database: Any
) -> dict[str, str]:
    """Every variable analytics reads, against the session's servers and fresh tables."""
    config = fresh_database("flags")
    migrate(config, ["flags", "targeting"])
    return {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_REGION": REGION,
        "AWS_DYNAMODB_TABLE": analytics_table,
        "AWS_DYNAMODB_COUNTS_TABLE": counts_table_for(analytics_table),
        "EVENTS_SIGNING_SECRET": EVENTS_SECRET,
        "AUTH_DATABASE_URL": auth_db,
        "CONFIG_DATABASE_URL": config,
        "REDIS_URL": redis_url,
        "RAW_EVENTS": "all",
    }


def read_key(env: dict[str, str]) -> str:
    """A new key with the `read` scope."""
    return provision_service_key(
        env["AUTH_DATABASE_URL"],
        redis_url=env["REDIS_URL"],
        grace_seconds=0,
        name=f"reader-{uuid.uuid4().hex[:6]}",
        scopes=frozenset({"read"}),
    )


Event = tuple[str, str, bool, str | None, datetime, str | None]
"""(user, flag, result, variant, moment, environment)."""


Row = tuple[int, float, str, str, bool, str | None, str | None, str | None, str | None]
"""An event as evaluation queues it and a rows pack carries it."""


def rows_of(events: Sequence[Event]) -> list[Row]:
    """Each event as evaluation queues it: its sequence, epoch seconds and fields."""
    return [
        (n, moment.timestamp(), user, flag, result, environment, variant, "SPLIT", None)
        for n, (user, flag, result, variant, moment, environment) in enumerate(events, start=1)
    ]


def events_text(events: Sequence[Event]) -> list[str]:
    """Each event as format 1 carries it (older evaluations, redrive), with a fresh id."""
    prefix = new_id_prefix()
    return [
        encode_evaluation(
            event_id=event_id(prefix, n),
            timestamp=moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            user_id=user,
            flag_name=flag,
            result=result,
            environment=environment,
            variant=variant,
            reason="SPLIT",
        )
        for n, (user, flag, result, variant, moment, environment) in enumerate(events, start=1)
    ]


def signed_pack(events: Sequence[Event], signer: Signer = SIGNER) -> str:
    """The events as evaluation sends them: a signed pack of rows, with fresh ids."""
    return seal_rows(str(uuid.uuid4()), new_id_prefix(), rows_of(events), signer)


def simple_events(
    count: int,
    *,
    flag: str = "checkout_v2",
    at: datetime | None = None,
    environment: str = "production",
) -> list[Event]:
    moment = at or datetime(2026, 11, 24, 10, 30, tzinfo=UTC)
    return [
        (f"user-{i}", flag, i % 3 == 0, "on" if i % 3 == 0 else "off", moment, environment)
        for i in range(count)
    ]


def scan(moto_endpoint: str, table: str) -> list[dict[str, Any]]:
    dynamodb = client("dynamodb", endpoint_url=moto_endpoint, region=REGION)
    items: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        items += page["Items"]
    return items


def flag_counts(moto_endpoint: str, table: str) -> Counter[tuple[str, str]]:
    """(flag counter pk, sk) → n, from the counts table's flag-by-hour items."""
    return Counter(
        {
            (item["pk"]["S"], item["sk"]["S"]): int(item["n"]["N"])
            for item in scan(moto_endpoint, counts_table_for(table))
            if item["pk"]["S"].startswith("F#")
        }
    )


def raw_counts(
    items: list[dict[str, Any]], environment: str = "production"
) -> Counter[tuple[str, str]]:
    """What the flag-by-hour counters must say, computed from raw items."""
    counted: Counter[tuple[str, str]] = Counter()
    for item in items:
        env = item.get("environment", {}).get("S", environment)
        hour = item["timestamp"]["S"][:13]
        variant = item.get("variant", {}).get("S", "")
        result = "1" if item["result"]["BOOL"] else "0"
        counted[(f"F#{env}#{item['flag_name']['S']}", f"H#{hour}#{result}#{variant}")] += 1
    return counted


@contextmanager
def served(target: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """`target` served over real HTTP (threaded) on a free port, configured by `env`."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    startup.reset(f"functions.{target}")
    app: flask.Flask = functions_framework.create_app(target, SOURCE)  # type: ignore[no-untyped-call]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        startup.reset(f"functions.{target}")


class FaultyProxy:
    """An HTTP proxy in front of moto that answers 500 to the operations `fail` names
    (DynamoDB's or SQS's, by their X-Amz-Target; `*` for all) once `allow` more of them
    went through; everything else passes."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.fail: set[str] = set()
        self.allow = 0
        self.refused = 0
        self.failures_left: int | None = None
        """None: fail for as long as `fail` says; n: n more times, then pass."""
        self.requests: Counter[str] = Counter()
        """Operations passed upstream, by name."""
        self.write_units = 0
        """DynamoDB write units those requests cost (items under 1 KB; transactions 2 per item)."""
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                operation = self.headers.get("X-Amz-Target", "").rpartition(".")[2]
                if proxy._refuses(operation):
                    self._answer(
                        500,
                        {"Content-Type": "application/x-amz-json-1.0"},
                        b'{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError",'
                        b'"message":"injected outage"}',
                    )
                    return
                proxy._count(operation, body)
                request = urllib.request.Request(  # noqa: S310 (the proxy's own upstream)
                    proxy.upstream + self.path,
                    data=body,
                    method="POST",
                    headers={k: v for k, v in self.headers.items() if k.lower() != "host"},
                )
                try:
                    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
                        self._answer(answer.status, dict(answer.headers), answer.read())
                except urllib.error.HTTPError as exc:
                    self._answer(exc.code, dict(exc.headers), exc.read())

            do_GET = do_POST

            def _answer(self, status: int, headers: dict[str, str], data: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    if name.lower() not in (
                        "content-length",
                        "connection",
                        "transfer-encoding",
                        "server",
                        "date",
                    ):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _count(self, operation: str, body: bytes) -> None:
        units = 0
        if operation in ("PutItem", "UpdateItem", "DeleteItem"):
            units = 1
        elif operation == "BatchWriteItem":
            units = sum(len(v) for v in json.loads(body)["RequestItems"].values())
        elif operation == "TransactWriteItems":
            units = 2 * len(json.loads(body)["TransactItems"])
        with self._lock:
            self.requests[operation] += 1
            self.write_units += units

    def _refuses(self, operation: str) -> bool:
        with self._lock:
            if not ("*" in self.fail or operation in self.fail):
                return False
            if self.allow > 0:
                self.allow -= 1
                return False
            if self.failures_left is not None:
                if self.failures_left == 0:
                    return False
                self.failures_left -= 1
            self.refused += 1
            return True

    def __enter__(self) -> FaultyProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def eventually(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True
