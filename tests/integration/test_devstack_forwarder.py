"""The SQS → CloudEvent forwarder plays Knative's IntegrationSource for `make dev`."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from functions.devstack.aws import client
from functions.devstack.forwarder import SqsForwarder
from functions.devstack.processes import free_port

REGION = "us-east-1"


@dataclass
class Receiver:
    """A tiny HTTP server that records what is POSTed to it and answers ``status``."""

    url: str
    status: int = 204
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(state.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def _messages_on_queue(moto_endpoint: str, queue_url: str) -> int:
    attributes = client("sqs", endpoint_url=moto_endpoint, region=REGION).get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def _send(moto_endpoint: str, queue_url: str, body: str) -> None:
    client("sqs", endpoint_url=moto_endpoint, region=REGION).send_message(
        QueueUrl=queue_url, MessageBody=body
    )


def _forwarder(moto_endpoint: str, queue_url: str, target_url: str) -> SqsForwarder:
    return SqsForwarder(
        queue_url, target_url, endpoint_url=moto_endpoint, region=REGION, wait_seconds=1
    )


def test_forwarder__target_answers_2xx__posts_binary_cloudevent_then_deletes(
    moto_endpoint: str, sqs_queue: str, receiver: Receiver
) -> None:
    # Given
    body = '{"pack_id": "p1", "events": [{"user_id": "u1", "flag_name": "f", "result": true}]}'
    _send(moto_endpoint, sqs_queue, body)

    # When
    delivered = _forwarder(moto_endpoint, sqs_queue, receiver.url).forward_once()

    # Then
    assert delivered == 1
    [(headers, data)] = receiver.requests
    assert data == body.encode()
    assert headers["ce-type"] == "dev.knative.eventing.aws-sqs"
    assert headers["ce-source"] == "dev.knative.eventing.aws-sqs-source"
    assert headers["ce-specversion"] == "1.0"
    assert uuid.UUID(headers["ce-id"])
    assert headers["content-type"] == "application/json"
    assert _messages_on_queue(moto_endpoint, sqs_queue) == 0


def test_forwarder__target_answers_500__message_stays_for_redelivery(
    moto_endpoint: str, sqs_queue: str, receiver: Receiver
) -> None:
    # Given
    receiver.status = 500
    _send(moto_endpoint, sqs_queue, '{"user_id": "u1"}')

    # When
    delivered = _forwarder(moto_endpoint, sqs_queue, receiver.url).forward_once()

    # Then
    assert delivered == 0
    assert len(receiver.requests) == 1
    assert _messages_on_queue(moto_endpoint, sqs_queue) == 1


def test_forwarder__target_unreachable__message_stays_for_redelivery(
    moto_endpoint: str, sqs_queue: str
) -> None:
    # Given nobody listens on the target port
    _send(moto_endpoint, sqs_queue, '{"user_id": "u1"}')
    target = f"http://127.0.0.1:{free_port()}/"

    # When
    delivered = _forwarder(moto_endpoint, sqs_queue, target).forward_once()

    # Then
    assert delivered == 0
    assert _messages_on_queue(moto_endpoint, sqs_queue) == 1


def test_forwarder__running_in_a_thread__delivers_and_stops_when_told(
    moto_endpoint: str, sqs_queue: str, receiver: Receiver
) -> None:
    # Given
    stop = threading.Event()
    forwarder = _forwarder(moto_endpoint, sqs_queue, receiver.url)
    thread = threading.Thread(target=forwarder.run, args=(stop,), daemon=True)
    thread.start()

    # When
    for index in range(3):
        _send(moto_endpoint, sqs_queue, f'{{"n": {index}}}')
    for _ in range(100):
        if len(receiver.requests) == 3:
            break
        time.sleep(0.05)
    stop.set()
    thread.join(timeout=5)

    # Then
    assert not thread.is_alive()
    assert sorted(data for _, data in receiver.requests) == [b'{"n": 0}', b'{"n": 1}', b'{"n": 2}']
    assert _messages_on_queue(moto_endpoint, sqs_queue) == 0


def test_forwarder__one_slow_message__the_others_delivered_meanwhile(
    moto_endpoint: str, sqs_queue: str
) -> None:
    # Given a target that takes 2 s over one message and answers the others at once
    arrived: list[tuple[float, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if body == b'"slow"':
                time.sleep(2)
            arrived.append((time.monotonic(), body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    for body in ['"slow"', *(f'"fast-{n}"' for n in range(5))]:
        _send(moto_endpoint, sqs_queue, body)
    forwarder = _forwarder(
        moto_endpoint, sqs_queue, f"http://127.0.0.1:{server.server_address[1]}/"
    )

    # When one receive's messages are delivered
    started = time.monotonic()
    delivered = 0
    while delivered < 6 and time.monotonic() - started < 10:
        delivered += forwarder.forward_once()
    server.shutdown()
    server.server_close()

    # Then the fast ones arrived before the slow one was answered, and all were deleted
    fast = [at for at, body in arrived if body != b'"slow"']
    slow = [at for at, body in arrived if body == b'"slow"']
    assert len(fast) == 5 and len(slow) == 1
    assert max(fast) < slow[0]
    assert _messages_on_queue(moto_endpoint, sqs_queue) == 0


def test_forwarder__delete_fails_twice__retried_and_the_message_gone(
    moto_endpoint: str, sqs_queue: str, receiver: Receiver
) -> None:
    # Given SQS refusing the forwarder's first two deletes
    from tests.integration.analytics_support import FaultyProxy

    _send(moto_endpoint, sqs_queue, '{"n": 1}')
    with FaultyProxy(moto_endpoint) as proxy:
        proxy.fail, proxy.failures_left = {"DeleteMessageBatch"}, 2
        forwarder = _forwarder(proxy.url, sqs_queue, receiver.url)
        # When it forwards the message
        delivered = forwarder.forward_once()
    # Then the delete was retried until SQS took it
    assert delivered == 1
    assert proxy.refused == 2
    assert _messages_on_queue(moto_endpoint, sqs_queue) == 0
