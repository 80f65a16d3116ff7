"""Events survive an SQS outage: kept, retried, delivered once it is back
(seed report §1.9), against moto's real SQS API."""

from __future__ import annotations

import time
import uuid
from typing import Any

from functions.core.adapters import aws
from functions.core.events.publisher import EventPublisher, sqs_sender
from functions.core.events.schema import new_event, parse_body


def _received(sqs: Any, queue_url: str) -> list[str]:
    users: list[str] = []
    while True:
        answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        messages = answer.get("Messages", [])
        if not messages:
            return users
        for message in messages:
            users += [event.user_id for event in parse_body(message["Body"]).events]
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def test_publisher__queue_missing_then_created__every_event_delivered_once(
    moto_endpoint: str,
) -> None:
    # Given a publisher whose queue does not exist yet (every send fails)
    sqs = aws.client("sqs", "us-east-1", moto_endpoint)
    name = f"outage-{uuid.uuid4().hex[:8]}"
    queue_url = f"{moto_endpoint}/123456789012/{name}"
    publisher = EventPublisher(sqs_sender(sqs, queue_url), flush_seconds=0.1)
    for i in range(250):
        publisher.publish(
            new_event(
                user_id=f"user-{i}",
                flag_name="f",
                result=True,
                environment="production",
                variant="on",
                reason="DEFAULT",
            )
        )
    time.sleep(0.5)
    assert publisher.pending() == 250
    # When the queue comes back
    created = sqs.create_queue(QueueName=name)["QueueUrl"]
    assert created.endswith(name)
    deadline = time.monotonic() + 15
    while publisher.pending() and time.monotonic() < deadline:
        time.sleep(0.1)
    publisher.close()
    # Then all 250 events arrive, once each, in few messages
    users = _received(sqs, created)
    assert sorted(users) == sorted(f"user-{i}" for i in range(250))
    assert publisher.sent_messages <= 3
    assert publisher.dropped == 0
    assert publisher.sent_events == 250
