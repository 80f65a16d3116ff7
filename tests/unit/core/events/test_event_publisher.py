"""The bounded, packed event buffer between the hot path and SQS."""

from __future__ import annotations

import json
import threading

from functions.core.events.publisher import EventPublisher
from functions.core.events.schema import new_event


class RecordingQueue:
    """A stand-in for SQS's send_message: records bodies, or fails while `down`."""

    def __init__(self) -> None:
        self.bodies: list[str] = []
        self.down = False
        self.sent = threading.Event()

    def send(self, body: str) -> None:
        if self.down:
            raise ConnectionError("queue unreachable")
        self.bodies.append(body)
        self.sent.set()

    def events(self) -> list[dict[str, object]]:
        return [event for body in self.bodies for event in json.loads(body)["events"]]


def _event(i: int) -> dict[str, object]:
    return new_event(
        user_id=f"user-{i}",
        flag_name="checkout_v2",
        result=i % 2 == 0,
        environment="production",
        variant=None,
        reason="DEFAULT",
    )


def test_flush__many_events__packs_within_size_limit_and_few_messages() -> None:
    # Given 5 000 buffered events and a 64 KiB message limit
    queue = RecordingQueue()
    publisher = EventPublisher(queue.send, capacity=10_000, flush_seconds=60, max_bytes=65_536)
    for i in range(5_000):
        publisher.publish(_event(i))
    # When the buffer is flushed
    assert publisher.flush()
    publisher.close()
    # Then every event left once, in order, with at most one message per 100 events
    assert [e["user_id"] for e in queue.events()] == [f"user-{i}" for i in range(5_000)]
    assert all(len(body.encode()) <= 65_536 for body in queue.bodies)
    assert len(queue.bodies) <= 5_000 / 100
    assert all(json.loads(body)["pack_id"] for body in queue.bodies)


def test_flush__queue_down_then_up__events_kept_and_delivered() -> None:
    # Given a queue that is down
    queue = RecordingQueue()
    queue.down = True
    publisher = EventPublisher(queue.send, capacity=1_000, flush_seconds=60)
    for i in range(10):
        publisher.publish(_event(i))
    # When a flush fails, then the queue comes back and a flush succeeds
    assert not publisher.flush()
    assert publisher.pending() == 10
    queue.down = False
    assert publisher.flush()
    publisher.close()
    # Then nothing was lost or duplicated
    assert sorted(str(e["user_id"]) for e in queue.events()) == sorted(
        f"user-{i}" for i in range(10)
    )
    assert publisher.dropped == 0


def test_publish__buffer_full__oldest_dropped_and_counted() -> None:
    # Given a buffer of 100 while the queue is down
    queue = RecordingQueue()
    queue.down = True
    publisher = EventPublisher(queue.send, capacity=100, flush_seconds=60)
    # When 150 events are published
    for i in range(150):
        publisher.publish(_event(i))
    # Then the 50 oldest are dropped and counted, the newest kept
    assert publisher.dropped == 50
    queue.down = False
    publisher.close()
    assert [e["user_id"] for e in queue.events()] == [f"user-{i}" for i in range(50, 150)]


def test_background_thread__idle_publisher__flushes_within_interval() -> None:
    # Given a publisher flushing every 0.05 s
    queue = RecordingQueue()
    publisher = EventPublisher(queue.send, flush_seconds=0.05)
    # When one event is published and nobody calls flush
    publisher.publish(_event(1))
    # Then the background thread sends it
    assert queue.sent.wait(timeout=5)
    publisher.close()
    assert len(queue.events()) == 1
