"""The ASGI adapter and its middleware: a body over the limit is refused with a 413 JSON
answer before the application reads it, and lifespan shutdown runs the shutdown hooks."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from starlette.requests import Request as StarletteRequest

from functions.http import asgi, startup
from functions.http.asgi import Message, Receive, Scope, Send
from functions.http.messages import Request, Response
from functions.http.responses import json_response, no_content
from functions.http.router import CORRELATION_HEADER, Router

router = Router()


@router.route("/echo", "POST", "GET", body_limit=100)
def echo(request: Request) -> Response:
    return json_response(
        {
            "body": request.body.decode(),
            "path": request.path,
            "tags": request.args.getlist("tag"),
            "type": request.mimetype,
            "custom": request.headers.get("X-Custom"),
        }
    )


@router.route("/empty", "DELETE")
def empty(request: Request) -> Response:
    return no_content()


def _scope(
    method: str, path: str, headers: list[tuple[bytes, bytes]], query: bytes = b""
) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "headers": headers,
        "scheme": "http",
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 1),
    }


class _Connection:
    """The server side: body chunks to deliver, messages sent back, chunks taken."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = list(chunks)
        self.taken = 0
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        if not self.chunks:
            return {"type": "http.disconnect"}
        chunk = self.chunks.pop(0)
        self.taken += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": bool(self.chunks)}

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])

    @property
    def headers(self) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self.sent[0]["headers"]}

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent[1:])


async def _target(scope: Scope, receive: Receive, send: Send) -> None:
    """An ASGI function the way functions-framework runs one: Starlette request in,
    Starlette response out."""
    response = await asgi.handle(router, StarletteRequest(scope, receive))
    await response(scope, receive, send)


def _serve(
    app: Any,
    method: str,
    path: str,
    chunks: list[bytes] | None = None,
    headers: dict[str, str] | None = None,
    query: bytes = b"",
) -> _Connection:
    connection = _Connection(chunks or [])
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    asyncio.run(app(_scope(method, path, raw, query), connection.receive, connection.send))
    return connection


def test_handle__starlette_request__routed_with_body_query_and_headers() -> None:
    # Given / When
    connection = _serve(
        _target,
        "POST",
        "/echo",
        [b"hel", b"lo"],
        {
            "Content-Type": "text/plain; charset=utf-8",
            "Transfer-Encoding": "chunked",
            "X-Custom": "1",
            CORRELATION_HEADER: "abc",
        },
        query=b"tag=a&tag=%C3%A9",
    )
    # Then
    assert connection.status == 200
    assert connection.headers["content-type"] == "application/json"
    assert connection.headers["x-request-id"] == "abc"
    assert int(connection.headers["content-length"]) == len(connection.body)
    assert json.loads(connection.body) == {
        "body": "hello",
        "path": "/echo",
        "tags": ["a", "é"],
        "type": "text/plain",
        "custom": "1",
    }


def test_handle__head__headers_without_the_body() -> None:
    # Given / When
    get = _serve(_target, "GET", "/echo")
    head = _serve(_target, "HEAD", "/echo")
    # Then
    assert head.status == 200
    assert head.body == b""
    assert head.headers["content-length"] == str(len(get.body))


def test_handle__no_content__no_length_no_type() -> None:
    # Given / When
    connection = _serve(_target, "DELETE", "/empty")
    # Then
    assert connection.status == 204
    assert "content-length" not in connection.headers
    assert "content-type" not in connection.headers


def test_handle__body_over_the_route_limit__413_json() -> None:
    # Given / When a body longer than the route's 100 bytes, without the middleware
    connection = _serve(_target, "POST", "/echo", [b"x" * 60, b"x" * 60], {"Content-Length": "120"})
    # Then
    assert connection.status == 413
    assert json.loads(connection.body)["code"] == "payload_too_large"


class _App:
    """The framework behind the middleware: records what it was given."""

    def __init__(self) -> None:
        self.called = False
        self.body = b""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.called = True
        while True:
            message = await receive()
            self.body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_body_limit__body_over_the_limit__413_json_before_the_app(declared: bool) -> None:
    # Given a limit of 1 000 bytes and a body of 1 MB in 1 KB chunks
    inner = _App()
    middleware = asgi.BodyLimit(inner, lambda method, path: 1000)
    chunks = [b"x" * 1000] * 1000
    headers = {"Content-Length": "1000000"} if declared else {"Transfer-Encoding": "chunked"}
    # When
    connection = _serve(middleware, "POST", "/echo", chunks, {**headers, CORRELATION_HEADER: "r"})
    # Then a 413 JSON answer, the app never called; a declared length is refused unread,
    # a chunked body as soon as it passes the limit
    assert connection.status == 413
    assert connection.headers["content-type"] == "application/json"
    assert connection.headers["x-request-id"] == "r"
    assert json.loads(connection.body)["code"] == "payload_too_large"
    assert not inner.called
    assert connection.taken == (0 if declared else 2000)


def test_body_limit__body_within_the_limit__handed_on_whole() -> None:
    # Given
    inner = _App()
    middleware = asgi.BodyLimit(inner, lambda method, path: 1000)
    # When
    connection = _serve(
        middleware, "POST", "/echo", [b"a" * 500, b"b" * 500], {"Content-Length": "1000"}
    )
    # Then
    assert connection.status == 200
    assert inner.body == b"a" * 500 + b"b" * 500


class _Vanishing(_Connection):
    """A client gone before its body's last chunk: every chunk says more is coming."""

    async def receive(self) -> Message:
        message = await super().receive()
        if message["type"] == "http.request":
            message["more_body"] = True
        return message


@pytest.mark.parametrize(
    ("connection", "headers"),
    [
        (_Connection([b'{"name": "a", "descrip']), {"Content-Length": "100"}),
        (_Vanishing([b'{"name": "a", "descrip']), {"Transfer-Encoding": "chunked"}),
        (_Vanishing([b'{"name": "a", "descrip']), {"Content-Length": "100"}),
    ],
    ids=["shorter-than-declared", "chunked-client-gone", "declared-client-gone"],
)
def test_body_limit__body_cut_short__400_json_before_the_app(
    connection: _Connection, headers: dict[str, str]
) -> None:
    # Given a body that stops before it is whole: a document cut short is often still
    # valid JSON or YAML
    inner = _App()
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    # When
    asyncio.run(
        asgi.BodyLimit(inner)(_scope("POST", "/echo", raw), connection.receive, connection.send)
    )
    # Then a 400 JSON answer saying so; the app never sees the fragment
    assert connection.status == 400
    assert connection.headers["content-type"] == "application/json"
    assert "the body ended after 22 bytes" in json.loads(connection.body)["error"]
    assert not inner.called


def test_body_limit__no_body__the_connection_untouched() -> None:
    # Given a GET without a body
    seen: list[Any] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(receive)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    connection = _Connection([])
    # When
    asyncio.run(
        asgi.BodyLimit(app)(_scope("GET", "/echo", []), connection.receive, connection.send)
    )
    # Then the app got the server's own receive
    assert seen == [connection.receive]


def test_body_limit__the_limit_of_the_route__asked_by_method_and_path() -> None:
    # Given the router's own limits (100 bytes on POST /echo) in front of the adapter
    middleware = asgi.BodyLimit(_target, router.body_limit)
    # When / Then
    assert (
        _serve(middleware, "POST", "/echo", [b"z" * 101], {"Content-Length": "101"}).status == 413
    )
    assert (
        _serve(middleware, "POST", "/echo", [b"z" * 100], {"Content-Length": "100"}).status == 200
    )


def test_body_limit__lifespan__startup_passed_on_shutdown_runs_the_hooks(hooks: list[str]) -> None:
    # Given an app with a lifespan of its own, and a shutdown hook
    startup.on_shutdown(lambda: hooks.append("hook"))

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "lifespan"
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                hooks.append("app startup")
                await send({"type": "lifespan.startup.complete"})
            else:
                hooks.append("app shutdown")
                await send({"type": "lifespan.shutdown.complete"})
                return

    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    # When the server starts and stops the app
    asyncio.run(asgi.BodyLimit(app)({"type": "lifespan"}, receive, send))
    # Then the hooks ran after the app's own shutdown, before the server heard of it
    assert hooks == ["app startup", "app shutdown", "hook"]
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


def test_body_limit__refusal_over_http1__closes_the_connection() -> None:
    # Given / When a body over the limit on an HTTP/1.1 connection
    connection = _serve(
        asgi.BodyLimit(_App(), lambda method, path: 1000),
        "POST",
        "/echo",
        [b"x" * 2000],
        {"Content-Length": "2000"},
    )
    # Then the rest of the body is not read: the connection closes after the answer
    assert connection.status == 413
    assert connection.headers["connection"] == "close"


def _serve_http2(app: Any, chunks: list[bytes]) -> _Connection:
    """A POST /echo over HTTP/2 whose body declares no length (HTTP/2 need not)."""
    connection = _Connection(chunks)
    scope = {**_scope("POST", "/echo", []), "http_version": "2"}
    asyncio.run(app(scope, connection.receive, connection.send))
    return connection


def test_body_limit__http2_body_without_length__counted_and_refused_at_the_limit() -> None:
    # Given / When an HTTP/2 body of 1 MB in 1 KB chunks, no Content-Length
    inner = _App()
    connection = _serve_http2(
        asgi.BodyLimit(inner, lambda method, path: 1000), [b"x" * 1000] * 1000
    )
    # Then it is read only up to the limit and refused before the app (no Connection
    # header: HTTP/2 has none)
    assert connection.status == 413
    assert not inner.called
    assert connection.taken == 2000
    assert "connection" not in connection.headers


def test_handle__http2_body_without_length__read_and_routed() -> None:
    # Given / When an HTTP/2 body within the limit, behind the middleware as served
    connection = _serve_http2(asgi.BodyLimit(_target, router.body_limit), [b"hel", b"lo"])
    # Then the route gets the body
    assert connection.status == 200
    assert json.loads(connection.body)["body"] == "hello"


def _ids_seen(headers: dict[str, str]) -> tuple[dict[bytes, bytes], dict[str, str]]:
    """The raw headers the framework behind `BodyLimit` got, and the answer's headers."""
    seen: list[dict[bytes, bytes]] = []

    async def framework(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(dict(scope["headers"]))
        await _target(scope, receive, send)

    connection = _serve(asgi.BodyLimit(framework), "GET", "/echo", headers=headers)
    return seen[0], connection.headers


def test_body_limit__request_without_ids__framework_execution_id_is_the_correlation_id() -> None:
    # Given a request that brings no id, When it passes the middleware
    raw, answer = _ids_seen({})
    # Then functions-framework finds an execution id (and draws none of its own): the
    # correlation id the answer carries
    correlation = answer[CORRELATION_HEADER.lower()]
    assert correlation
    assert raw[b"function-execution-id"] == correlation.encode()


def test_body_limit__caller_request_id__also_the_execution_id() -> None:
    raw, answer = _ids_seen({CORRELATION_HEADER: "trace-7"})
    assert answer[CORRELATION_HEADER.lower()] == "trace-7"
    assert raw[b"function-execution-id"] == b"trace-7"


def test_body_limit__platform_execution_id__kept_as_it_came() -> None:
    # Given a platform that names its requests itself
    raw, answer = _ids_seen({"Function-Execution-Id": "exec-1", CORRELATION_HEADER: "trace-7"})
    # Then the framework keeps the platform's id, and the correlation id is the caller's
    assert raw[b"function-execution-id"] == b"exec-1"
    assert answer[CORRELATION_HEADER.lower()] == "trace-7"
