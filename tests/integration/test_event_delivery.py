"""Events from the publisher to the analytics table, against moto's real SQS and DynamoDB
APIs: kept through an SQS outage and delivered once it is back (seed report §1.9), packed
so that a burst costs at most one billed SQS request per 100 events, and a pack of
1 000 becoming 1 000 items."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent
from flask.testing import FlaskClient

from functions.core.adapters import aws
from functions.core.events.publisher import EventPublisher, billed_requests, sqs_sender
from functions.core.events.schema import SQS_MAX_MESSAGE_BYTES, parse_body
from functions.core.metrics import Metrics
from functions.devstack.moto import MotoServer
from functions.devstack.processes import free_port

ClientFactory = Callable[[str, dict[str, str]], FlaskClient]


def _messages(sqs: Any, queue_url: str) -> list[str]:
    """Every body in the queue, each received once and deleted."""
    bodies: list[str] = []
    while True:
        answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        messages = answer.get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def _received(sqs: Any, queue_url: str) -> list[str]:
    return [
        event.user_id for body in _messages(sqs, queue_url) for event in parse_body(body).events
    ]


def _eventually(condition: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


def _evaluate(publisher: EventPublisher, i: int) -> None:
    publisher.publish_evaluation(
        user_id=f"user-{i}",
        flag_name="checkout_v2",
        result=i % 3 == 0,
        environment="production",
        variant="on" if i % 3 == 0 else "off",
        reason="SPLIT",
    )


def test_publisher__queue_missing_then_created__every_event_delivered_once(
    moto_endpoint: str,
) -> None:
    # Given a publisher whose queue does not exist yet (every send fails)
    sqs = aws.client("sqs", "us-east-1", moto_endpoint)
    name = f"outage-{uuid.uuid4().hex[:8]}"
    queue_url = f"{moto_endpoint}/123456789012/{name}"
    metrics = Metrics()
    publisher = EventPublisher(sqs_sender(sqs, queue_url), flush_seconds=0.1, metrics=metrics)
    for i in range(250):
        _evaluate(publisher, i)
    assert _eventually(lambda: publisher.stats()["delivery_failing"])
    assert publisher.pending() == 250
    assert b"togglemaster_event_delivery_failing 1.0" in metrics.render()[0]
    # When the queue comes back
    created = sqs.create_queue(QueueName=name)["QueueUrl"]
    assert created.endswith(name)
    assert _eventually(lambda: publisher.pending() == 0)
    publisher.close()
    # Then all 250 events arrive, once each, in few messages
    users = _received(sqs, created)
    assert sorted(users) == sorted(f"user-{i}" for i in range(250))
    assert publisher.sent_messages <= 3
    assert publisher.dropped == 0
    assert publisher.sent_events == 250
    assert publisher.stats()["delivery_failing"] is False
    assert b"togglemaster_event_delivery_failing 0.0" in metrics.render()[0]


def test_publisher__sqs_down_then_back__events_queued_meanwhile_arrive(tmp_path: Path) -> None:
    # Given a publisher sending to an SQS of its own
    server = MotoServer(free_port(), log_path=tmp_path / "moto.log")
    endpoint = server.start()
    try:
        sqs = aws.client("sqs", "us-east-1", endpoint)
        queue_url = sqs.create_queue(QueueName="outage")["QueueUrl"]
        publisher = EventPublisher(sqs_sender(sqs, queue_url), flush_seconds=0.1, metrics=Metrics())
        # When SQS goes away (connections refused) while 300 events are published
        server.stop()
        for i in range(300):
            _evaluate(publisher, i)
        assert _eventually(lambda: publisher.stats()["delivery_failing"])
        assert publisher.pending() == 300
        # and comes back (empty, as moto restarts: the queue is made again)
        server.start()
        sqs.create_queue(QueueName="outage")
        assert _eventually(lambda: publisher.pending() == 0, timeout=40)
        publisher.close()
        # Then every event queued during the outage arrives, once
        assert sorted(_received(sqs, queue_url)) == sorted(f"user-{i}" for i in range(300))
        assert publisher.dropped == 0
        assert publisher.stats()["delivery_failing"] is False
    finally:
        server.stop()


def test_publisher__burst_of_10_000__at_most_one_billed_request_per_100(
    moto_endpoint: str, sqs_queue: str
) -> None:
    # Given a publisher on a real queue, flushing every second
    sqs = aws.client("sqs", "us-east-1", moto_endpoint)
    publisher = EventPublisher(sqs_sender(sqs, sqs_queue), metrics=Metrics())
    # When a burst of 10 000 evaluations is published, then the publisher is closed
    for i in range(10_000):
        _evaluate(publisher, i)
    assert publisher.close()
    # Then every event is in the queue once, billed at most 1 request per 100 events
    bodies = _messages(sqs, sqs_queue)
    events = [event for body in bodies for event in parse_body(body).events]
    assert sorted(e.user_id for e in events) == sorted(f"user-{i}" for i in range(10_000))
    assert len({e.event_id for e in events}) == 10_000
    sizes = [len(body.encode()) for body in bodies]
    assert max(sizes) <= SQS_MAX_MESSAGE_BYTES
    billed = sum(billed_requests(size) for size in sizes)
    assert billed == publisher.billed_requests <= 100


def test_pack_of_1000__through_sqs_to_analytics__1000_items(
    moto_endpoint: str,
    sqs_queue: str,
    analytics_table: str,
    function_client: ClientFactory,
) -> None:
    # Given 1 000 evaluations published and flushed as one SQS message
    sqs = aws.client("sqs", "us-east-1", moto_endpoint)
    publisher = EventPublisher(sqs_sender(sqs, sqs_queue), background=False, metrics=Metrics())
    for i in range(1_000):
        _evaluate(publisher, i)
    assert publisher.flush()
    (body,) = _messages(sqs, sqs_queue)
    assert publisher.sent_messages == 1
    # When the message reaches the analytics function as the SQS source delivers it
    analytics = function_client(
        "analytics",
        {
            "AWS_ENDPOINT_URL": moto_endpoint,
            "AWS_REGION": "us-east-1",
            "AWS_DYNAMODB_TABLE": analytics_table,
        },
    )
    event = CloudEvent(
        {
            "type": "dev.knative.eventing.aws-sqs",
            "source": "dev.knative.eventing.aws-sqs-source",
            "id": str(uuid.uuid4()),
        },
        body.encode(),
    )
    headers, data = to_binary(event)
    response = analytics.post("/", headers=headers, data=data)
    # Then it stored 1 000 items, one per event id, with the pack's id
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["stored"] == 1_000
    table = boto3.resource("dynamodb", endpoint_url=moto_endpoint, region_name="us-east-1").Table(
        analytics_table
    )
    items: list[dict[str, Any]] = []
    scan: dict[str, Any] = {}
    while True:
        page = table.scan(**scan)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            break
        scan = {"ExclusiveStartKey": page["LastEvaluatedKey"]}
    assert len(items) == 1_000
    assert {item["event_id"] for item in items} == {
        str(e.event_id) for e in parse_body(body).events
    }
    assert {item["pack_id"] for item in items} == {parse_body(body).pack_id}
    assert sorted(item["user_id"] for item in items) == sorted(f"user-{i}" for i in range(1_000))
