"""Memory exhaustion by request bodies (issue 17, finding 1): a 200 MiB body, declared or
chunked, with or without a key, on any route or none, is refused with a 413 after at most
its route's limit was read; the connection is closed rather than drained, the worker's
peak memory stays where it was, and the function keeps answering."""

from __future__ import annotations

import http.client
import json
import re
import socket

import pytest
import requests

from functions.devstack.stack import DevStack
from functions.http.limits import MAX_BODY_BYTES
from tests.e2e.streaming import MIB, peak_rss_mib, stream_body

pytestmark = pytest.mark.e2e

ATTACK_BYTES = 200 * MIB
PEAK_GROWTH_MIB = 20
"""What a refused attempt may add to a worker's peak memory: well under the body."""
SLACK_BYTES = 8 * MIB
"""What the client gets into the connection beyond the route's limit before the server
stops it: socket buffers on both sides, never the body."""

MASTER, KEY, NONE = "master", "key", "none"
ATTACKS = [
    # (function, method, path, who): a write route without and with a key, a method the
    # path does not allow (405), a path with no route (404).
    ("auth", "POST", "/admin/keys", NONE),
    ("auth", "POST", "/admin/keys", MASTER),
    ("auth", "POST", "/validate", KEY),
    ("auth", "PATCH", "/admin/keys", NONE),
    ("flags", "POST", "/flags", NONE),
    ("flags", "POST", "/flags", KEY),
    ("flags", "POST", "/import", NONE),
    ("flags", "POST", "/import", KEY),
    ("flags", "PATCH", "/flags", NONE),
    ("flags", "POST", "/nowhere", NONE),
    ("targeting", "POST", "/rules", NONE),
    ("targeting", "POST", "/rules", KEY),
    ("targeting", "PATCH", "/rules", NONE),
    ("evaluation", "POST", "/evaluate", NONE),
    ("evaluation", "POST", "/evaluate", KEY),
    ("evaluation", "PATCH", "/evaluate", NONE),
    ("evaluation", "POST", "/nowhere", NONE),
    ("analytics", "POST", "/", NONE),
    ("analytics", "PUT", "/", NONE),
    ("analytics", "POST", "/nowhere", NONE),
]


def _stated_limit(body: bytes) -> int:
    """The route's limit, as the 413 answer states it ("larger than N bytes")."""
    found = re.search(r"larger than (\d+) bytes", json.loads(body)["error"])
    assert found, body
    return int(found.group(1))


def _headers(stack: DevStack, api_key: str, who: str) -> dict[str, str]:
    token = {MASTER: stack.master_key, KEY: api_key}.get(who)
    return {"Authorization": f"Bearer {token}"} if token else {}


def _port(stack: DevStack, function: str) -> int:
    return stack.ports.of_function(function)


@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "chunked"])
@pytest.mark.parametrize(
    ("function", "method", "path", "who"),
    ATTACKS,
    ids=[f"{f}-{m}-{p}-{w}" for f, m, p, w in ATTACKS],
)
def test_huge_body__any_function_route_and_framing__413_unread_memory_unchanged(
    stack: DevStack,
    api_key: str,
    function: str,
    method: str,
    path: str,
    who: str,
    chunked: bool,
) -> None:
    # Given the function's workers and their peak memory
    workers = stack.server_pids(function)[1:]
    before = {pid: peak_rss_mib(pid) for pid in workers}
    # When a 200 MiB body is streamed at it
    outcome = stream_body(
        _port(stack, function),
        method,
        path,
        size=ATTACK_BYTES,
        chunked=chunked,
        headers=_headers(stack, api_key, who),
    )
    # Then it is refused in JSON once the route's limit is passed, the connection closed
    # rather than drained: no more than the limit (and socket buffers) was sent
    assert outcome.status == 413, outcome
    assert json.loads(outcome.body)["code"] == "payload_too_large"
    assert "connection: close" in outcome.head
    assert outcome.closed, outcome
    assert outcome.sent <= _stated_limit(outcome.body) + SLACK_BYTES, outcome
    # and no worker's peak memory grew by more than a few MiB (the route's limit at most)
    growth = max(peak_rss_mib(pid) - before[pid] for pid in workers)
    assert growth < PEAK_GROWTH_MIB, f"peak memory grew by {growth:.1f} MiB"
    # and the function keeps answering
    assert requests.get(f"{stack.url_of(function)}/health", timeout=10).status_code == 200


@pytest.mark.parametrize("function", ["auth", "flags", "targeting", "evaluation", "analytics"])
def test_body_within_the_limit__no_key__early_answer_and_the_connection_kept(
    stack: DevStack, function: str
) -> None:
    # Given a keep-alive connection
    connection = http.client.HTTPConnection("127.0.0.1", _port(stack, function), timeout=10)
    path = {"auth": "/admin/keys", "flags": "/flags", "targeting": "/rules"}.get(
        function, "/evaluate" if function == "evaluation" else "/nowhere"
    )
    try:
        # When a body just within the limit comes without a key (or to no route)
        connection.request("POST", path, body=b"x" * (MAX_BODY_BYTES - 1))
        refused = connection.getresponse()
        refused.read()
        # Then it gets its early answer, the body read to its end (no more than the
        # limit), and the same connection serves the next request
        connection.request("GET", "/health")
        health = connection.getresponse()
        health.read()
    finally:
        connection.close()
    assert refused.status in (401, 403, 404), refused.status
    assert health.status == 200


@pytest.mark.parametrize("function", ["auth", "flags", "targeting", "evaluation", "analytics"])
def test_http2_prior_knowledge__refused__the_server_speaks_http1_only(
    stack: DevStack, function: str
) -> None:
    # Given an HTTP/2 connection preface and an empty SETTINGS frame, which an HTTP/2
    # server answers with its own SETTINGS frame (HTTP/2 bodies need not declare their
    # length, so none could be counted before the framework reads it)
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
    # When it is sent
    with socket.create_connection(("127.0.0.1", _port(stack, function)), timeout=10) as sock:
        sock.sendall(preface)
        try:
            answer = sock.recv(64)
        except ConnectionResetError:
            answer = b""
    # Then no HTTP/2 answer comes back
    assert not (len(answer) >= 9 and answer[3] == 0x04), answer
    assert answer == b"" or answer.startswith(b"HTTP/1.1 4"), answer


def _cut_short(port: int, path: str, body: bytes, api_key: str) -> tuple[int, bytes]:
    """POST `body` declaring 50 bytes more than it holds, then half-close: a client
    that dies mid-upload. The status and body of the answer."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {api_key}\r\nContent-Length: {len(body) + 50}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode() + body)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head_part, _, payload = answer.partition(b"\r\n\r\n")
    return int(head_part.split()[1]), payload


@pytest.mark.parametrize("function", ["flags", "evaluation"])
def test_body_cut_short__client_gone_mid_upload__400_and_nothing_done(
    stack: DevStack, api_key: str, function: str
) -> None:
    # Given a body that is whole JSON but shorter than its Content-Length, its sender
    # gone: what a document cut at a line break looks like to a parser
    path, body = {
        "flags": ("/flags", b'{"name": "cut_short_upload"}'),
        "evaluation": ("/evaluate", b'{"flag_name": "x", "context": {"user_id": "u"}}'),
    }[function]
    # When
    status, payload = _cut_short(_port(stack, function), path, body, api_key)
    # Then a 400 JSON answer, and nothing written
    assert status == 400, payload
    assert "the body ended after" in json.loads(payload)["error"]
    flag = requests.get(
        f"{stack.url_of('flags')}/flags/cut_short_upload",
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=10,
    )
    assert flag.status_code == 404
