"""Events from the publisher to the analytics table, against moto's real SQS and DynamoDB
APIs: kept through an SQS outage and delivered once it is back (seed report §1.9), packed
so that a burst costs at most one billed SQS request per 100 events, a pack of 1 000
becoming 1 000 items; through the forwarder and analytics over HTTP, 4 000 events
stored and counted once, a poison message dead-lettered while the rest are stored, and
a DynamoDB outage of 15 minutes (time scaled) sending nothing valid to the dead-letter
queue."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent
from flask.testing import FlaskClient

from functions.core.adapters import aws
from functions.core.events.publisher import EventPublisher, billed_requests, sqs_sender
from functions.core.events.schema import SQS_MAX_MESSAGE_BYTES, parse_body
from functions.core.metrics import Metrics
from functions.devstack.aws import DLQ_SUFFIX, VISIBILITY_TIMEOUT_SECONDS, ensure_queue
from functions.devstack.forwarder import SqsForwarder
from functions.devstack.moto import MotoServer
from functions.devstack.processes import free_port
from tests.integration.analytics_support import (
    SIGNER,
    SQS_SOURCE,
    FaultyProxy,
    analytics_env,
    flag_counts,
    raw_counts,
    scan,
    served,
    signed_pack,
    simple_events,
)

__all__ = ["analytics_env"]  # the fixture, used by name

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
    analytics_env: dict[str, str],
    function_client: ClientFactory,
) -> None:
    # Given 1 000 evaluations published and flushed
    sqs = aws.client("sqs", "us-east-1", moto_endpoint)
    publisher = EventPublisher(
        sqs_sender(sqs, sqs_queue), background=False, metrics=Metrics(), signer=SIGNER
    )
    for i in range(1_000):
        _evaluate(publisher, i)
    assert publisher.flush()
    bodies = _messages(sqs, sqs_queue)
    assert len(bodies) == publisher.sent_messages <= 2
    published = [parse_body(body, signer=SIGNER) for body in bodies]
    # When each message reaches the analytics function as the SQS source delivers it
    analytics = function_client("analytics", analytics_env)
    stored = 0
    for body in bodies:
        event = CloudEvent({**SQS_SOURCE, "id": str(uuid.uuid4())}, body.encode())
        headers, data = to_binary(event)
        response = analytics.post("/", headers=headers, data=data)
        assert response.status_code == 200, response.get_data(as_text=True)
        stored += response.get_json()["stored"]
    # Then it stored 1 000 items, one per event id, with their pack's id
    assert stored == 1_000
    items = scan(moto_endpoint, analytics_env["AWS_DYNAMODB_TABLE"])
    assert len(items) == 1_000
    assert {item["event_id"]["S"] for item in items} == {
        str(e.event_id) for pack in published for e in pack.events
    }
    assert {item["pack_id"]["S"] for item in items} == {pack.pack_id for pack in published}
    assert sorted(item["user_id"]["S"] for item in items) == sorted(
        f"user-{i}" for i in range(1_000)
    )


def _dlq_count(moto_endpoint: str, queue_url: str) -> int:
    sqs = aws.client("sqs", "us-east-1", moto_endpoint)
    dlq = sqs.get_queue_url(QueueName=queue_url.rsplit("/", 1)[1] + DLQ_SUFFIX)["QueueUrl"]
    attributes = sqs.get_queue_attributes(
        QueueUrl=dlq,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


@contextmanager
def _forwarding(moto_endpoint: str, queue_url: str, target: str) -> Iterator[None]:
    stop = threading.Event()
    forwarder = SqsForwarder(
        queue_url, target, endpoint_url=moto_endpoint, region="us-east-1", wait_seconds=1
    )
    thread = threading.Thread(target=forwarder.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


def test_forwarder_4_000_events__to_analytics_over_http__4_000_items_matching_counters(
    moto_endpoint: str, sqs_queue: str, analytics_env: dict[str, str], monkeypatch: Any
) -> None:
    # Given 4 000 evaluations in 4 signed packs on the queue, two of them sent twice
    sqs = aws.client("sqs", "us-east-1", moto_endpoint)
    packs = [signed_pack(simple_events(1_000, flag=f"flag-{n % 3}")) for n in range(4)]
    for body in [*packs, packs[0], packs[3]]:
        sqs.send_message(QueueUrl=sqs_queue, MessageBody=body)
    table = analytics_env["AWS_DYNAMODB_TABLE"]
    # When the forwarder delivers them to analytics over HTTP
    with (
        served("analytics", analytics_env, monkeypatch) as url,
        _forwarding(moto_endpoint, sqs_queue, url),
    ):
        assert _eventually(
            lambda: (
                sum(flag_counts(moto_endpoint, table).values()) >= 4_000
                and _queued(sqs, sqs_queue) == 0
            ),
            timeout=120,
        )
    # Then 4 000 items, and counters equal to what they say
    items = scan(moto_endpoint, table)
    assert len(items) == 4_000
    assert flag_counts(moto_endpoint, table) == raw_counts(items)
    assert _dlq_count(moto_endpoint, sqs_queue) == 0


def _queued(sqs: Any, queue_url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


SCALE = 150
"""Time runs 150 times faster in the next tests: the queue's visibility of 300 s is 2 s."""


def test_poison_message__with_valid_ones__poison_dead_lettered_the_rest_stored(
    moto_endpoint: str, analytics_env: dict[str, str], monkeypatch: Any
) -> None:
    # Given a queue with the agreed redrive (visibility scaled down), two valid packs and
    # a poison message between them
    name = f"poison-{uuid.uuid4().hex[:8]}"
    queue_url = ensure_queue(
        moto_endpoint, "us-east-1", name, visibility_timeout=VISIBILITY_TIMEOUT_SECONDS // SCALE
    )
    sqs = aws.client("sqs", "us-east-1", moto_endpoint)
    for body in [
        signed_pack(simple_events(20)),
        '{"pack_id": "p", "count": 1}',
        signed_pack(simple_events(30)),
    ]:
        sqs.send_message(QueueUrl=queue_url, MessageBody=body)
    table = analytics_env["AWS_DYNAMODB_TABLE"]
    # When the forwarder runs until the poison has been received maxReceiveCount times
    with (
        served("analytics", analytics_env, monkeypatch) as url,
        _forwarding(moto_endpoint, queue_url, url),
    ):
        assert _eventually(lambda: _dlq_count(moto_endpoint, queue_url) == 1, timeout=60)
        valid_stored = len(scan(moto_endpoint, table))
    # Then the poison is in the dead-letter queue, the valid events stored
    assert valid_stored == 50
    assert _queued(sqs, queue_url) == 0


def test_dynamodb_down_longer_than_old_redrive__nothing_valid_dead_lettered_all_stored_after(
    moto_endpoint: str, analytics_env: dict[str, str], monkeypatch: Any
) -> None:
    # Given the agreed queue (visibility and receives scaled down 150 times) and 3 packs
    name = f"outage-{uuid.uuid4().hex[:8]}"
    queue_url = ensure_queue(
        moto_endpoint, "us-east-1", name, visibility_timeout=VISIBILITY_TIMEOUT_SECONDS // SCALE
    )
    sqs = aws.client("sqs", "us-east-1", moto_endpoint)
    for n in range(3):
        sqs.send_message(QueueUrl=queue_url, MessageBody=signed_pack(simple_events(10 + n)))
    table = analytics_env["AWS_DYNAMODB_TABLE"]
    outage = 15 * 60 / SCALE  # 15 minutes: six times the old 5 x 30 s before dead-lettering
    with FaultyProxy(moto_endpoint) as proxy:
        proxy.fail = {"*"}
        env = {**analytics_env, "AWS_ENDPOINT_URL": proxy.url}
        with (
            served("analytics", env, monkeypatch) as url,
            _forwarding(moto_endpoint, queue_url, url),
        ):
            # When DynamoDB is down for 15 (scaled) minutes, then comes back
            time.sleep(outage)
            refused_during_outage = proxy.refused
            proxy.fail = set()
            # (raw items are written before a pack's counters: wait for both)
            assert _eventually(
                lambda: (
                    len(scan(moto_endpoint, table)) == 33
                    and sum(flag_counts(moto_endpoint, table).values()) == 33
                ),
                timeout=60,
            )
    # Then analytics was refused throughout, nothing was dead-lettered, and all is stored
    assert refused_during_outage > 0
    assert _dlq_count(moto_endpoint, queue_url) == 0
    assert sum(flag_counts(moto_endpoint, table).values()) == 33
