"""The main process's SQS sends for the workers (`events.relay`): over a real Unix socket,
with a stand-in for `send_message`."""

from __future__ import annotations

import os
import socket
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from functions.core.events.publisher import EventPublisher
from functions.core.events.relay import (
    MAX_FRAME_BYTES,
    EventRelay,
    RelayError,
    RelaySender,
    read_frame,
    write_frame,
)


class Queue:
    """Records bodies; raises what `refuse` holds, once per body, while it holds it.
    `built`: how many times the relay asked for it (its `make_sender`)."""

    def __init__(self) -> None:
        self.bodies: list[str] = []
        self.refuse: Exception | None = None
        self.threads: set[str] = set()
        self.hold = threading.Event()
        self.hold.set()
        self.built = 0

    def make_sender(self) -> Callable[[str], None]:
        self.built += 1
        return self.send

    def send(self, body: str) -> None:
        self.threads.add(threading.current_thread().name)
        self.hold.wait(10)
        if self.refuse is not None:
            raise self.refuse
        self.bodies.append(body)


@pytest.fixture
def queue() -> Queue:
    return Queue()


@pytest.fixture
def relay(queue: Queue) -> Iterator[EventRelay]:
    running = EventRelay(queue.make_sender)
    yield running
    running.close()


def test_send__body_through_the_relay__sent_by_its_thread_once(
    relay: EventRelay, queue: Queue
) -> None:
    # Given a worker's sender aimed at the relay
    sender = RelaySender(relay.path)
    # When it sends two bodies, one of them not ASCII
    sender("first")
    sender('{"user": "zoë"}')
    # Then the relay sent both, as they were, from its own thread, with one sender built
    assert queue.bodies == ["first", '{"user": "zoë"}']
    assert queue.threads == {"event-relay-worker"}
    assert queue.built == 1
    sender.close()


def test_send__queue_refuses__worker_gets_the_error_with_its_kind(
    relay: EventRelay, queue: Queue
) -> None:
    # Given SQS refusing
    queue.refuse = ConnectionError("queue unreachable")
    sender = RelaySender(relay.path)
    # When a body is sent
    with pytest.raises(RelayError) as raised:
        sender("body")
    # Then the worker learns what SQS said, and the connection is still good afterwards
    assert raised.value.kind == "ConnectionError"
    assert str(raised.value) == "queue unreachable"
    queue.refuse = None
    sender("body")
    assert queue.bodies == ["body"]


def test_send__no_relay_listening__fails(tmp_path: Path) -> None:
    # Given a path nobody listens on
    sender = RelaySender(str(tmp_path / "nobody.sock"))
    # When a body is sent, Then the send fails (the publisher keeps the pack)
    with pytest.raises(FileNotFoundError):
        sender("body")


def test_send__relay_does_not_answer_in_time__fails_and_the_next_send_reconnects(
    relay: EventRelay, queue: Queue
) -> None:
    # Given SQS hanging past the worker's patience
    queue.hold.clear()
    sender = RelaySender(relay.path, timeout=0.2)
    # When a body is sent, Then it fails in time
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        sender("late")
    assert time.monotonic() - started < 2
    # And once SQS answers again, the next body goes through on a new connection, not
    # answered by the late body's answer
    queue.hold.set()
    sender("next")
    assert queue.bodies[-1] == "next"


def test_relay__publisher_through_it__every_event_sent_and_counted(
    relay: EventRelay, queue: Queue
) -> None:
    # Given a publisher whose sender is the relay
    events = EventPublisher(RelaySender(relay.path), background=False, via="relay")
    # When it publishes and flushes
    for n in range(250):
        events.publish_evaluation(f"user-{n}", "flag", True, "production", "on", "SPLIT")
    assert events.flush()
    # Then SQS got the pack, and the publisher counts it as sent, via the relay
    stats = events.stats()
    assert (stats["sent"], stats["sqs_messages"], stats["via"]) == (250, 1, "relay")
    assert len(queue.bodies) == 1


def test_relay__sqs_down__publisher_keeps_the_pack_and_says_why(
    relay: EventRelay, queue: Queue
) -> None:
    # Given SQS refusing behind the relay
    queue.refuse = TimeoutError("read timed out")
    events = EventPublisher(RelaySender(relay.path), background=False)
    events.publish_evaluation("user-1", "flag", True, "production", "on", "SPLIT")
    # When the publisher flushes, Then the pack is kept, the error named as SQS gave it
    assert not events.flush()
    assert events.pending() == 1
    assert events.stats()["last_error"] == "TimeoutError"
    # And delivered once SQS is back
    queue.refuse = None
    assert events.flush()
    assert events.pending() == 0


def test_relay__socket__only_its_user_reaches_the_directory(relay: EventRelay) -> None:
    directory = os.path.dirname(relay.path)
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700


def test_relay__frame_larger_than_any_body__connection_closed(
    relay: EventRelay, queue: Queue
) -> None:
    # Given a connection that announces a frame above the limit
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:
        raw.settimeout(5)
        raw.connect(relay.path)
        raw.sendall((MAX_FRAME_BYTES + 1).to_bytes(4, "big"))
        # Then the relay hangs up without sending anything
        assert raw.recv(1) == b""
    assert queue.bodies == []


def test_close__nothing_sent__socket_removed_and_no_sender_built(queue: Queue) -> None:
    # Given a relay no worker used
    relay = EventRelay(queue.make_sender)
    path = relay.path
    # When it is closed (twice: safe)
    relay.close()
    relay.close()
    # Then its directory is gone, and boto3 was never asked for
    assert not os.path.exists(os.path.dirname(path))
    assert queue.built == 0


def test_frames__split_across_reads__read_whole() -> None:
    left, right = socket.socketpair()
    with left, right:
        payload = os.urandom(300_000)
        writer = threading.Thread(target=write_frame, args=(left, payload))
        writer.start()
        assert read_frame(right) == payload
        writer.join()
        left.shutdown(socket.SHUT_WR)
        assert read_frame(right) is None
