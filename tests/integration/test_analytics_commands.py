"""The analytics commands against moto: creating the two tables (idempotent, the keys,
on-demand billing and TTL of `stores.analytics_tables`), and re-driving the dead-letter
queue (as it is, or sealing the unsigned with the events secret)."""

from __future__ import annotations

import json
import uuid

import pytest

from functions.commands import analytics_tables, redrive
from functions.core.events.schema import parse_body
from functions.core.stores.analytics_tables import TABLES
from functions.devstack.aws import DLQ_SUFFIX, client, ensure_queue
from tests.integration.analytics_support import EVENTS_SECRET, SIGNER, signed_pack, simple_events

REGION = "us-east-1"


def test_analytics_tables__run_twice__both_tables_as_defined_with_ttl(
    moto_endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given two new table names
    raw, counts = f"Raw-{uuid.uuid4().hex[:8]}", f"Counts-{uuid.uuid4().hex[:8]}"
    argv = ["--table", raw, "--counts-table", counts, "--endpoint-url", moto_endpoint]
    # When the command runs twice
    assert analytics_tables.main(argv) == 0
    assert analytics_tables.main(argv) == 0
    # Then it created them once, with the definitions' keys, billing and TTL
    assert capsys.readouterr().out.splitlines() == [
        f"{raw}: created",
        f"{counts}: created",
        f"{raw}: exists",
        f"{counts}: exists",
    ]
    dynamodb = client("dynamodb", endpoint_url=moto_endpoint, region=REGION)
    for name, definition in zip((raw, counts), TABLES.values(), strict=True):
        table = dynamodb.describe_table(TableName=name)["Table"]
        assert table["KeySchema"] == definition.create_table["KeySchema"]
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        assert not table.get("GlobalSecondaryIndexes")
        ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")


def _dead_letter(moto_endpoint: str, bodies: list[str]) -> tuple[str, str]:
    name = f"redrive-{uuid.uuid4().hex[:8]}"
    queue = ensure_queue(moto_endpoint, REGION, name)
    sqs = client("sqs", endpoint_url=moto_endpoint, region=REGION)
    dlq = sqs.get_queue_url(QueueName=name + DLQ_SUFFIX)["QueueUrl"]
    for body in bodies:
        sqs.send_message(QueueUrl=dlq, MessageBody=body)
    return queue, dlq


def _bodies(moto_endpoint: str, queue_url: str) -> list[str]:
    sqs = client("sqs", endpoint_url=moto_endpoint, region=REGION)
    found: list[str] = []
    while messages := sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=60
    ).get("Messages", []):
        found += [message["Body"] for message in messages]
    return found


def test_redrive__dead_letter_queue__every_message_back_in_the_queue(moto_endpoint: str) -> None:
    # Given three messages in the dead-letter queue
    bodies = [signed_pack(simple_events(2)) for _ in range(3)]
    queue, dlq = _dead_letter(moto_endpoint, bodies)
    # When the command re-drives it (on an emulator: receive, send, delete)
    code = redrive.main(["--queue-url", queue, "--endpoint-url", moto_endpoint])
    # Then they are in the queue, as they were, and the dead-letter queue is empty
    assert code == 0
    assert sorted(_bodies(moto_endpoint, queue)) == sorted(bodies)
    assert _bodies(moto_endpoint, dlq) == []


def test_redrive__seal_unsigned__seed_events_sealed_unreadable_left(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the seed's bare event, a signed pack and an unreadable body dead-lettered
    seed = json.dumps(
        {"user_id": "u1", "flag_name": "f", "result": True, "timestamp": "2026-11-24T10:00:00Z"}
    )
    signed = signed_pack(simple_events(2))
    queue, dlq = _dead_letter(moto_endpoint, [seed, signed, "not json"])
    monkeypatch.setenv("EVENTS_SIGNING_SECRET", EVENTS_SECRET)
    # When the command re-drives it, sealing the unsigned
    code = redrive.main(["--queue-url", queue, "--endpoint-url", moto_endpoint, "--seal-unsigned"])
    # Then the signed pack is back as it was, the seed's event as a signed pack, and the
    # unreadable body stays
    assert code == 0
    back = _bodies(moto_endpoint, queue)
    assert signed in back
    [sealed] = [body for body in back if body != signed]
    assert parse_body(sealed, signer=SIGNER).events[0].user_id == "u1"
    sqs = client("sqs", endpoint_url=moto_endpoint, region=REGION)
    left = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["All"])["Attributes"]
    assert (
        int(left["ApproximateNumberOfMessages"])
        + int(left["ApproximateNumberOfMessagesNotVisible"])
        == 1
    )  # hidden for the rest of the run, then visible again
