"""The analytics function against moto's DynamoDB and real PostgreSQL and Redis: signed
packs stored once and counted once whatever the redeliveries and failures, everything
else refused with nothing written, and the queries' answers."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from cloudevents.conversion import to_binary, to_structured
from cloudevents.http import CloudEvent
from flask.testing import FlaskClient

from functions.commands.redrive import _bodies
from functions.core.events.packs import seal, seal_rows
from functions.core.events.schema import (
    encode_evaluation,
    event_id,
    format_timestamp,
    new_id_prefix,
)
from functions.core.keys.signing import Signer
from functions.devstack.aws import counts_table_for
from tests.integration.analytics_support import (
    SIGNER,
    SQS_SOURCE,
    FaultyProxy,
    analytics_env,
    events_text,
    flag_counts,
    raw_counts,
    read_key,
    scan,
    signed_pack,
    simple_events,
)

__all__ = ["analytics_env"]  # the fixture, used by name

ClientFactory = Callable[[str, dict[str, str]], FlaskClient]
HOUR = timedelta(hours=1)


@pytest.fixture
def client(function_client: ClientFactory, analytics_env: dict[str, str]) -> FlaskClient:
    return function_client("analytics", analytics_env)


def _deliver(client: FlaskClient, body: str | bytes, *, structured: bool = False) -> Any:
    data = body.encode() if isinstance(body, str) else body
    event = CloudEvent({**SQS_SOURCE, "id": str(uuid.uuid4())}, data)
    headers, sent = (to_structured if structured else to_binary)(event)
    return client.post("/", headers=headers, data=sent)


def _everything(env: dict[str, str]) -> tuple[int, int]:
    """How many raw items and counter items the two tables hold."""
    endpoint, table = env["AWS_ENDPOINT_URL"], env["AWS_DYNAMODB_TABLE"]
    return len(scan(endpoint, table)), len(scan(endpoint, counts_table_for(table)))


def test_receive__signed_pack_delivered_3_times__each_event_stored_once_and_counted_once(
    client: FlaskClient, analytics_env: dict[str, str]
) -> None:
    # Given a signed pack of 60 events
    body = signed_pack(simple_events(60))
    # When the queue delivers it three times (binary, structured, binary)
    answers = [_deliver(client, body, structured=n == 1) for n in range(3)]
    # Then 60 raw items with the seed's attributes, and counters equal to them
    assert [a.status_code for a in answers] == [200, 200, 200], answers[0].get_data(as_text=True)
    assert [a.get_json()["duplicate"] for a in answers] == [False, True, True]
    endpoint, table = analytics_env["AWS_ENDPOINT_URL"], analytics_env["AWS_DYNAMODB_TABLE"]
    items = scan(endpoint, table)
    assert len(items) == 60
    first = next(item for item in items if item["user_id"]["S"] == "user-0")
    assert first["flag_name"]["S"] == "checkout_v2"
    assert first["result"]["BOOL"] is True
    assert first["timestamp"]["S"] == "2026-11-24T10:30:00.000Z"
    assert int(first["expires_at"]["N"]) == int(
        datetime(2026, 12, 24, 10, 30, tzinfo=UTC).timestamp()
    )
    counts = flag_counts(endpoint, table)
    assert counts == raw_counts(items)
    assert sum(counts.values()) == 60


def test_receive__died_after_raw_writes_before_counters__redelivery_counts_exactly(
    function_client: ClientFactory, analytics_env: dict[str, str]
) -> None:
    # Given DynamoDB taking every write but the counters' transactions
    with FaultyProxy(analytics_env["AWS_ENDPOINT_URL"]) as proxy:
        proxy.fail = {"TransactWriteItems"}
        client = function_client("analytics", {**analytics_env, "AWS_ENDPOINT_URL": proxy.url})
        body = signed_pack(simple_events(40))
        # When the pack is delivered: raw items written, counters refused
        first = _deliver(client, body)
        raw_after_failure, counters_after_failure = _everything(analytics_env)
        # and delivered again once DynamoDB takes everything
        proxy.fail = set()
        second = _deliver(client, body)
    # Then the failure was a 503 (the message comes back), and the counts are exact
    assert first.status_code == 503, first.get_data(as_text=True)
    assert (raw_after_failure, counters_after_failure) == (40, 1)  # the last-seen item only
    assert second.status_code == 200
    endpoint, table = analytics_env["AWS_ENDPOINT_URL"], analytics_env["AWS_DYNAMODB_TABLE"]
    items = scan(endpoint, table)
    assert len(items) == 40
    assert flag_counts(endpoint, table) == raw_counts(items)


def test_receive__died_between_counter_transactions__redelivery_applies_only_the_rest(
    function_client: ClientFactory, analytics_env: dict[str, str]
) -> None:
    # Given a pack touching 120 flags (360 counters: 4 transactions), and DynamoDB that
    # takes 2 of them and then fails
    events = [
        (
            f"user-{i}",
            f"flag-{i % 120:03d}",
            True,
            "on",
            datetime(2026, 11, 24, 10, tzinfo=UTC),
            "production",
        )
        for i in range(240)
    ]
    body = signed_pack(events)
    with FaultyProxy(analytics_env["AWS_ENDPOINT_URL"]) as proxy:
        proxy.fail, proxy.allow = {"TransactWriteItems"}, 2
        client = function_client("analytics", {**analytics_env, "AWS_ENDPOINT_URL": proxy.url})
        # When it is delivered, fails part-way, and is delivered twice more once healed
        first = _deliver(client, body)
        proxy.fail = set()
        again = [_deliver(client, body) for _ in range(2)]
    # Then every flag counts its 2 evaluations, once
    assert first.status_code == 503
    assert [a.status_code for a in again] == [200, 200]
    endpoint, table = analytics_env["AWS_ENDPOINT_URL"], analytics_env["AWS_DYNAMODB_TABLE"]
    counts = flag_counts(endpoint, table)
    assert len(counts) == 120
    assert set(counts.values()) == {2}
    assert counts == raw_counts(scan(endpoint, table))


def test_receive__raw_events_off__nothing_raw_counters_exact(
    function_client: ClientFactory, analytics_env: dict[str, str]
) -> None:
    # Given analytics keeping no raw event
    client = function_client("analytics", {**analytics_env, "RAW_EVENTS": "off"})
    # When a pack of 50 is delivered twice
    body = signed_pack(simple_events(50))
    answers = [_deliver(client, body) for _ in range(2)]
    # Then no raw item, and the counters hold all 50, once
    assert [a.status_code for a in answers] == [200, 200]
    endpoint, table = analytics_env["AWS_ENDPOINT_URL"], analytics_env["AWS_DYNAMODB_TABLE"]
    assert scan(endpoint, table) == []
    assert sum(flag_counts(endpoint, table).values()) == 50


def test_receive__raw_events_fraction__same_events_kept_on_every_delivery(
    function_client: ClientFactory, analytics_env: dict[str, str]
) -> None:
    # Given analytics keeping a quarter of the raw events
    client = function_client("analytics", {**analytics_env, "RAW_EVENTS": "0.25"})
    # When a pack of 400 is delivered, then a pack of the same events under a new id
    events = events_text(simple_events(400))
    first = _deliver(client, seal(str(uuid.uuid4()), events, SIGNER))
    endpoint, table = analytics_env["AWS_ENDPOINT_URL"], analytics_env["AWS_DYNAMODB_TABLE"]
    kept = {item["event_id"]["S"] for item in scan(endpoint, table)}
    # Then about a quarter is kept, the counters count all 400
    assert first.status_code == 200
    assert 60 <= len(kept) <= 140
    assert first.get_json()["raw_written"] == len(kept)
    assert sum(flag_counts(endpoint, table).values()) == 400


def test_receive__rows_pack_and_format_1_pack_of_the_same_decisions__same_items(
    client: FlaskClient, analytics_env: dict[str, str]
) -> None:
    # Given the same decisions as evaluation queues them, sealed as rows (what it sends)
    # and as format 1 (what it sent before, still in the queue after an upgrade), each
    # under a producer id prefix of its own
    at = 1_795_514_400.0  # 2026-11-24T10:00:00Z
    decisions = [
        (1, at + 0.1204817, "user-1", "checkout_v2", True, "production", "on", "SPLIT", "r-1"),
        (2, at + 0.4803152, "ünï-2 ✓", "checkout_v2", False, "production", "off", "SPLIT", None),
        (3, at + 1.0517330, "user-3", "dark_mode", False, None, None, "DISABLED", None),
    ]
    rows_prefix, old_prefix = new_id_prefix(), new_id_prefix()
    rows = seal_rows("p-rows", rows_prefix, decisions, SIGNER)
    old = seal(
        "p-old",
        [
            encode_evaluation(event_id(old_prefix, row[0]), format_timestamp(row[1]), *row[2:])
            for row in decisions
        ],
        SIGNER,
    )
    # When both are delivered
    answers = [_deliver(client, body) for body in (rows, old)]
    # Then each decision is stored twice, the items equal but for their ids and pack ids
    assert [a.status_code for a in answers] == [200, 200], answers[0].get_data(as_text=True)
    items = scan(analytics_env["AWS_ENDPOINT_URL"], analytics_env["AWS_DYNAMODB_TABLE"])
    by_prefix: dict[str, dict[str, dict[str, Any]]] = {rows_prefix: {}, old_prefix: {}}
    for item in items:
        identifier = item.pop("event_id")["S"]
        assert item.pop("pack_id")["S"] == (
            "p-rows" if identifier.startswith(rows_prefix) else "p-old"
        )
        by_prefix[identifier[:24]][identifier[24:]] = item
    assert by_prefix[rows_prefix] == by_prefix[old_prefix]
    assert sorted(by_prefix[rows_prefix]) == ["000000000001", "000000000002", "000000000003"]
    first, second = by_prefix[rows_prefix]["000000000001"], by_prefix[rows_prefix]["000000000002"]
    assert first["timestamp"]["S"] == "2026-11-24T10:00:00.120Z"
    assert first["request_id"]["S"] == "r-1" and "request_id" not in second
    assert second["user_id"]["S"] == "ünï-2 ✓"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            lambda: signed_pack(simple_events(3), Signer("x" * 16 + "y" * 16 + "z")),
            id="other secret",
        ),
        pytest.param(
            lambda: json.dumps(
                {**json.loads(signed_pack(simple_events(3))), "signature": "0" * 64}
            ),
            id="wrong signature",
        ),
        pytest.param(
            lambda: json.dumps(
                {**json.loads(signed_pack(simple_events(3))), "signature": "é" * 64}
            ),
            id="non-ascii signature",
        ),
        pytest.param(
            lambda: json.dumps(
                {
                    k: v
                    for k, v in json.loads(signed_pack(simple_events(3))).items()
                    if k != "signature"
                }
            ),
            id="unsigned compressed",
        ),
        pytest.param(
            lambda: json.dumps(
                {
                    **(pack := json.loads(signed_pack(simple_events(3)))),
                    "events_zlib": json.loads(signed_pack(simple_events(3, flag="other")))[
                        "events_zlib"
                    ],
                    "count": pack["count"],
                }
            ),
            id="payload swapped",
        ),
        pytest.param(
            lambda: json.dumps(
                {"pack_id": "p", "events": [json.loads(e) for e in events_text(simple_events(2))]}
            ),
            id="plain pack",
        ),
        pytest.param(
            lambda: json.dumps(
                {
                    "user_id": "alice",
                    "flag_name": "f",
                    "result": True,
                    "timestamp": "2026-11-24T10:00:00Z",
                }
            ),
            id="seed bare event",
        ),
    ],
)
def test_receive__not_signed_by_evaluation__403_one_log_line_nothing_written(
    client: FlaskClient,
    analytics_env: dict[str, str],
    body: Callable[[], str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a body evaluation did not sign
    sent = body()
    # When it is delivered
    with caplog.at_level("INFO", logger="functions.core.services.analytics"):
        response = _deliver(client, sent)
    # Then 403 in JSON, one log line (beside the request's), and neither table holds anything
    assert response.status_code == 403, response.get_data(as_text=True)
    assert response.get_json()["code"] == "events_not_signed"
    lines = [r.message for r in caplog.records if r.name != "botocore.credentials"]
    assert lines == ["delivery refused: not signed", "POST / 403"]
    assert _everything(analytics_env) == (0, 0)


def test_receive__forged_pack_with_a_stored_event_id__stored_item_unchanged(
    client: FlaskClient, analytics_env: dict[str, str]
) -> None:
    # Given a stored event of alice
    text = events_text(simple_events(1))[0]
    assert _deliver(client, seal("p-1", [text], SIGNER)).status_code == 200
    forged = text.replace('"user-0"', '"mallory"').replace("2026-11-24", "1999-01-01")
    # When an attacker sends its event_id with other content, signed with a guessed secret
    response = _deliver(client, seal("p-2", [forged], Signer("guessed" * 6)))
    # Then it is refused and alice's item is what it was
    assert response.status_code == 403
    [item] = scan(analytics_env["AWS_ENDPOINT_URL"], analytics_env["AWS_DYNAMODB_TABLE"])
    assert item["user_id"]["S"] == "user-0"
    assert item["timestamp"]["S"].startswith("2026-11-24")


def test_receive__seed_bare_event_sealed_by_redrive__stored_once(
    client: FlaskClient, analytics_env: dict[str, str]
) -> None:
    # Given the seed's bare event, as the old evaluation sent it (no id, no environment)
    seed = json.dumps(
        {
            "user_id": "user-1",
            "flag_name": "checkout_v2",
            "result": False,
            "timestamp": "2026-11-24T10:00:00",
        }
    )
    # When it is refused, then sealed on the way back from the dead-letter queue twice
    refused = _deliver(client, seed)
    sealed = [_bodies({"Body": seed}, SIGNER) for _ in range(2)]
    answers = [_deliver(client, body) for [body] in sealed]  # type: ignore[misc]
    # Then it is stored once, with its derived id, counted in the default environment
    assert refused.status_code == 403
    assert [a.status_code for a in answers] == [200, 200]
    endpoint, table = analytics_env["AWS_ENDPOINT_URL"], analytics_env["AWS_DYNAMODB_TABLE"]
    [item] = scan(endpoint, table)
    assert item["result"]["BOOL"] is False
    assert item["event_id"]["S"]
    assert flag_counts(endpoint, table) == {("F#production#checkout_v2", "H#2026-11-24T10#0#"): 1}


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"pack_id": "p", "count": 1, "events_zlib": "!!"}',
        b'{"pack_id": "p", "count": 0, "events_zlib": "eJyLjgUAARUAuQ=="}',
    ],
)
def test_receive__unreadable_body__400_and_nothing_stored(
    client: FlaskClient, analytics_env: dict[str, str], body: bytes
) -> None:
    # Given / When
    response = _deliver(client, body)
    # Then it is refused (the queue will dead-letter it) and nothing is written
    assert response.status_code in (400, 403)
    assert response.get_json()["error"]
    assert _everything(analytics_env) == (0, 0)


def test_receive__not_a_cloud_event__400_json(client: FlaskClient) -> None:
    # Given / When a plain POST without CloudEvent headers
    response = client.post("/", data=b"{}", content_type="application/json")
    # Then
    assert response.status_code == 400
    assert "CloudEvent" in response.get_json()["error"]


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"Content-Type": "application/json"}, b"\xff[\xfe\x01"),
        ({"ce-specversion": "1.0"}, b"\x89not utf-8"),
        ({}, b'{"specversion": {"a": 1}, "id": "1", "source": "s", "type": "t"}'),
        ({}, b'{"specversion": "1.0", "id": "1", "source": "s", "type": null}'),
        ({"ce-specversion": "1.0", "Content-Type": "application/cloudevents+json"}, b"0"),
    ],
    ids=["not utf-8", "binary headers incomplete", "specversion object", "type null", "int"],
)
def test_receive__malformed_cloud_event__400_json(
    client: FlaskClient, analytics_env: dict[str, str], headers: dict[str, str], body: bytes
) -> None:
    # Given / When a POST the CloudEvents SDK fails on with an error of its own kind
    response = client.post("/", headers=headers, data=body)
    # Then it is refused as not a CloudEvent, not a 500, and nothing is written
    assert response.status_code == 400, response.get_data(as_text=True)
    assert "CloudEvent" in response.get_json()["error"]
    assert _everything(analytics_env) == (0, 0)


@pytest.mark.parametrize(
    "body",
    [b'["' + b"A" * 200_000 + b'"]', b"{", b"[" * 100_000],
    ids=["large list", "cut json", "deep nesting"],
)
def test_receive__structured_body_not_an_event__short_message_without_the_body(
    client: FlaskClient, body: bytes
) -> None:
    # Given / When a structured-mode delivery whose body is not a JSON object
    response = client.post("/", headers={"Content-Type": "application/cloudevents+json"}, data=body)
    # Then a 400 saying what a CloudEvent is, in a line: neither the body quoted back
    # nor the parser's internals
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error.startswith("not a CloudEvent: ")
    assert len(error) < 300
    assert "AAAA" not in error and "b'" not in error and "recursion" not in error


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


KNOWN: list[tuple[str, str, bool, str | None, datetime, str | None]] = [
    # checkout_v2 in production, around midnight between the 24th and the 25th
    ("u1", "checkout_v2", True, "on", _at(24, 22, 59), "production"),
    ("u2", "checkout_v2", False, "off", _at(24, 23, 0), "production"),
    ("u3", "checkout_v2", True, "on", _at(24, 23, 59), "production"),
    ("u4", "checkout_v2", True, "on", _at(25, 0, 0), "production"),
    ("u5", "checkout_v2", False, "off", _at(25, 0, 30), "production"),
    ("u6", "checkout_v2", True, "on", _at(25, 1, 15), "production"),
    ("u7", "checkout_v2", True, None, _at(26, 12, 0), None),  # the default environment
    # other flags and environments, which the answers must leave out
    ("u8", "search", True, "on", _at(24, 23, 30), "production"),
    ("u9", "checkout_v2", True, "on", _at(24, 23, 30), "staging"),
]


def _get(client: FlaskClient, key: str, path: str, **params: str) -> Any:
    return client.get(path, query_string=params, headers={"Authorization": f"Bearer {key}"})


def test_flag_series__known_events_across_hour_and_day_boundaries__exact_totals(
    client: FlaskClient, analytics_env: dict[str, str]
) -> None:
    # Given the known events, stored
    assert _deliver(client, signed_pack(KNOWN)).status_code == 200
    key = read_key(analytics_env)
    # When the flag's hours, and its days, are asked for a window across midnight
    hours = _get(
        client,
        key,
        "/analytics/flags/checkout_v2",
        **{"from": "2026-11-24T23:00:00Z", "to": "2026-11-25T01:00:00Z"},
    )
    days = _get(
        client,
        key,
        "/analytics/flags/checkout_v2",
        granularity="day",
        **{"from": "2026-11-24T00:00:00Z", "to": "2026-11-27T00:00:00Z"},
    )
    # Then each hour and day holds exactly its events, by variant and result
    assert hours.status_code == 200, hours.get_data(as_text=True)
    body = hours.get_json()
    assert (body["from"], body["to"], body["total"]) == (
        "2026-11-24T23:00:00Z",
        "2026-11-25T01:00:00Z",
        4,
    )
    assert [(b["start"], b["total"]) for b in body["series"]] == [
        ("2026-11-24T23:00:00Z", 2),
        ("2026-11-25T00:00:00Z", 2),
    ]
    assert body["totals"] == [
        {"variant": "off", "result": False, "count": 2},
        {"variant": "on", "result": True, "count": 2},
    ]
    daily = days.get_json()
    assert [(b["start"], b["total"]) for b in daily["series"]] == [
        ("2026-11-24T00:00:00Z", 3),
        ("2026-11-25T00:00:00Z", 3),
        ("2026-11-26T00:00:00Z", 1),
    ]
    assert daily["totals"][0] == {"variant": None, "result": True, "count": 1}
    assert daily["total"] == 7


def test_flag_activity__window_with_partial_days__counts_per_flag(
    client: FlaskClient, analytics_env: dict[str, str]
) -> None:
    # Given the known events, stored
    assert _deliver(client, signed_pack(KNOWN)).status_code == 200
    key = read_key(analytics_env)
    # When the flags are listed for windows made of hours only, and of hours and days
    short = _get(
        client,
        key,
        "/analytics/flags",
        **{"from": "2026-11-24T23:10:00Z", "to": "2026-11-25T00:30:00Z"},
    )
    long = _get(
        client,
        key,
        "/analytics/flags",
        **{"from": "2026-11-24T23:00:00Z", "to": "2026-11-26T12:30:00Z"},
    )
    staging = _get(
        client, key, "/analytics/flags", environment="staging", **{"from": "2026-11-20T00:00:00Z"}
    )
    # Then the counts are those of the window, rounded to whole hours
    assert short.status_code == 200, short.get_data(as_text=True)
    assert [(f["flag"], f["evaluations"]) for f in short.get_json()["flags"]] == [
        ("checkout_v2", 4),
        ("search", 1),
    ]
    assert [(f["flag"], f["evaluations"]) for f in long.get_json()["flags"]] == [
        ("checkout_v2", 6),
        ("search", 1),
    ]
    assert long.get_json()["flags"][0]["last_evaluated"] == "2026-11-26T12:00:00Z"
    assert [(f["flag"], f["evaluations"]) for f in staging.get_json()["flags"]] == [
        ("checkout_v2", 1)
    ]


def test_unused_days__flag_never_evaluated__listed_evaluated_one_not(
    client: FlaskClient, analytics_env: dict[str, str]
) -> None:
    # Given three flags defined 60 days ago: one evaluated today, one 40 days ago, one never
    config = analytics_env["CONFIG_DATABASE_URL"]
    with psycopg.connect(config) as conn:
        for name in ("busy", "dormant", "forgotten", "young"):
            conn.execute("INSERT INTO flags (name) VALUES (%s)", (name,))
        conn.execute(
            "UPDATE flags SET created_at = now() - interval '60 days' WHERE name <> 'young'"
        )
    now = datetime.now(UTC)
    assert (
        _deliver(
            client,
            signed_pack(
                [
                    ("u1", "busy", True, "on", now, "production"),
                    ("u2", "dormant", True, "on", now - timedelta(days=40), "production"),
                ]
            ),
        ).status_code
        == 200
    )
    key = read_key(analytics_env)
    # When the flags unused for 30 days are asked
    response = _get(client, key, "/analytics/flags", unused_days="30")
    # Then the never evaluated and the dormant one are, not the busy or the young one
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["unused_days"] == 30
    found = {f["flag"]: f["last_evaluated"] for f in body["flags"]}
    assert set(found) == {"dormant", "forgotten"}
    assert found["forgotten"] is None


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/analytics/flags", {"unused_days": "0"}, 422),
        ("/analytics/flags", {"unused_days": "30", "from": "2026-11-01T00:00:00Z"}, 422),
        ("/analytics/flags", {"from": "yesterday"}, 422),
        ("/analytics/flags", {"from": "2026-11-02T00:00:00Z", "to": "2026-11-01T00:00:00Z"}, 422),
        ("/analytics/flags", {"from": "2020-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, 422),
        ("/analytics/flags", {"from": "0001-01-01T00:00:00"}, 422),
        ("/analytics/flags/x", {"granularity": "week"}, 422),
        ("/analytics/flags/x", {"enviroment": "staging"}, 422),
    ],
)
def test_queries__bad_parameters__422_json(
    client: FlaskClient,
    analytics_env: dict[str, str],
    path: str,
    params: dict[str, str],
    status: int,
) -> None:
    # Given / When
    response = _get(client, read_key(analytics_env), path, **params)
    # Then
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.get_json()["error"]


def test_queries__no_key_or_no_read_scope__401_403(
    client: FlaskClient, analytics_env: dict[str, str]
) -> None:
    # Given / When / Then
    assert client.get("/analytics/flags").status_code == 401
    from functions.commands.bootstrap import provision_service_key

    evaluate_only = provision_service_key(
        analytics_env["AUTH_DATABASE_URL"],
        grace_seconds=0,
        name="ev",
        scopes=frozenset({"evaluate"}),
    )
    assert _get(client, evaluate_only, "/analytics/flags").status_code == 403


def test_probes__tables_exist__ready(client: FlaskClient) -> None:
    # Given / When / Then
    assert client.get("/health").status_code == 200
    assert client.get("/ready").status_code == 200, client.get("/ready").get_data(as_text=True)
