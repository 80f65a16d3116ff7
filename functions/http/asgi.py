"""The ASGI side (evaluation, on functions-framework's Starlette app under granian): a
Starlette request becomes a `Request`, the router's `Response` a Starlette response, and
`BodyLimit` refuses an oversized body before the framework reads it and runs the
shutdown hooks on lifespan shutdown.

Per-request cost matters here (evaluation is the hot path): headers are decoded once
into a dict, the query string is parsed only if a route reads it, and the response's
raw headers are built directly.

`BodyLimit` also settles the request's correlation id (`X-Request-Id`, the caller's or a
new one) and hands it to functions-framework as the execution id (`Function-Execution-Id`,
unless the request brings one): the framework's logs and ours then name a request the
same way, and the framework does not draw a random id of its own (12 `random.randrange`
calls, about 4 µs a request here).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import Any

from starlette.requests import Request as StarletteRequest
from starlette.responses import Response as StarletteResponse

from functions.http.limits import BodyLimitOf, body_refusal, cut_short, default_limit
from functions.http.messages import Headers, Request, Response
from functions.http.router import CORRELATION_HEADER, EXECUTION_ID_HEADER, Router, request_id
from functions.http.startup import run_shutdown_hooks

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DECODED_HEADERS = "togglemaster.headers"
"""Where `BodyLimit` leaves the request's decoded headers in the ASGI scope, for `handle`:
the middleware reads them to find a body, and a request's headers are decoded once."""
_CORRELATION = CORRELATION_HEADER.lower()
_EXECUTION_ID = EXECUTION_ID_HEADER.lower()
_EXECUTION_ID_RAW = _EXECUTION_ID.encode("latin-1")
_NO_BODY_STATUSES = frozenset({204, 304})
_UNFRAMED_VERSIONS = frozenset({"2", "3"})


async def handle(router: Router, request: StarletteRequest) -> StarletteResponse:
    """What an ASGI function's target returns: `router` answers `request`."""
    scope = request.scope
    method: str = scope["method"]
    path = _path(scope)
    values = scope.get(DECODED_HEADERS)
    if values is None:
        values = _decoded(scope["headers"])
    body = b""
    if _may_have_body(values, scope):
        limit = router.body_limit(method, path)
        body, refusal = await _read(request.receive, _declared(values), limit)
        if refusal is not None:
            return Sent(refusal, head=False)
    query: bytes = scope["query_string"]
    client = scope.get("client")
    answer = router.handle(
        Request(
            method,
            path,
            query_string=query.decode("utf-8", "replace") if query else "",
            headers=Headers.owning(values),
            body=body,
            client=client[0] if client else None,
        )
    )
    return Sent(answer, head=method == "HEAD")


class Sent(StarletteResponse):
    """A `Response` as Starlette sends it: its raw headers built once, Content-Length
    included; a HEAD request gets the headers of the body it did not ask for."""

    def __init__(self, response: Response, *, head: bool = False) -> None:
        body = response.body
        self.status_code = response.status
        self.background = None
        self.body = b"" if head else body
        raw = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in response.headers.items()
        ]
        if response.status >= 200 and response.status not in _NO_BODY_STATUSES:
            raw.append((b"content-length", b"%d" % len(body)))
        media_type = response.media_type
        if media_type is not None:
            raw.append((b"content-type", media_type.encode("latin-1")))
        self.raw_headers = raw


class BodyLimit:
    """ASGI middleware: a body above its route's limit gets a 413 JSON answer before the
    application reads it; lifespan shutdown runs `functions.http.startup`'s shutdown
    hooks after the application's own.

    An HTTP/1 request that declares no body passes untouched. Any other is read here, up
    to its route's limit (a body of unknown length, chunked or HTTP/2's, is refused as
    soon as it crosses it), and handed on whole in a single message. A refusal closes an
    HTTP/1 connection (`Connection: close`) rather than leave the rest of the body to be
    read.
    """

    def __init__(self, app: ASGIApp, limit: BodyLimitOf = default_limit) -> None:
        self.app = app
        self._limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self.app(scope, receive, _running_shutdown_hooks(send))
            return
        if kind != "http":
            await self.app(scope, receive, send)
            return
        raw = scope["headers"]
        values = _decoded(raw)
        scope[DECODED_HEADERS] = values  # `handle` reads them from here
        rid = values[_CORRELATION] = request_id(values.get(_CORRELATION))
        if _EXECUTION_ID not in values:
            values[_EXECUTION_ID] = rid
            scope["headers"] = [*raw, (_EXECUTION_ID_RAW, rid.encode("latin-1"))]
        if not _may_have_body(values, scope):
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope["method"], _path(scope))
        body, refusal = await _read(receive, _declared(values), limit)
        if refusal is not None:
            await _send(refusal, rid, scope, send)
            return
        await self.app(scope, _replay(body, receive), send)


def _running_shutdown_hooks(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
            run_shutdown_hooks()
        await send(message)

    return sending


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body read by the middleware, as one message; then the connection's own."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _read(
    receive: Receive, declared: int | None, limit: int
) -> tuple[bytes, Response | None]:
    """The whole body, or the refusal as soon as the declared length or the bytes
    received pass `limit`, or when the body stops short of whole (`limits.cut_short`)."""
    refusal = body_refusal(declared, limit)
    if refusal is not None:
        return b"", refusal
    parts: list[bytes] = []
    received = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"", cut_short(received, declared)  # the client is gone
        chunk: bytes = message.get("body", b"")
        if chunk:
            parts.append(chunk)
            received += len(chunk)
            refusal = body_refusal(received, limit)
            if refusal is not None:
                return b"", refusal
        if not message.get("more_body", False):
            break
    if declared is not None and received < declared:
        return b"", cut_short(received, declared)
    return b"".join(parts), None


async def _send(response: Response, rid: str, scope: Scope, send: Send) -> None:
    response.headers[CORRELATION_HEADER] = rid
    if not _unframed(scope):
        response.headers["Connection"] = "close"
    await Sent(response)(scope, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


def _may_have_body(headers: Mapping[str, str], scope: Scope) -> bool:
    """Whether the request declares a body (Content-Length, chunked), or may send one
    unframed: an HTTP/1 request that declares none has none."""
    return "content-length" in headers or "transfer-encoding" in headers or _unframed(scope)


def _unframed(scope: Scope) -> bool:
    """Whether the request's body may come without Content-Length or chunked framing:
    HTTP/2 or 3 (`togglemaster-serve` speaks HTTP/1.1 only; another server may not)."""
    return scope.get("http_version") in _UNFRAMED_VERSIONS


def _path(scope: Scope) -> str:
    path: str = scope["path"]
    return path if path.startswith("/") and not path.startswith("//") else "/" + path.lstrip("/")


def _decoded(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """ASGI servers send names in lower case; a repeated header's values are joined."""
    pairs = raw if isinstance(raw, list) else list(raw)
    values = {name.decode("latin-1"): value.decode("latin-1") for name, value in pairs}
    if len(values) == len(pairs):
        return values
    values = {}
    for name, value in pairs:
        key = name.decode("latin-1")
        text = value.decode("latin-1")
        values[key] = f"{values[key]}, {text}" if key in values else text
    return values


def _declared(headers: Mapping[str, str]) -> int | None:
    declared = headers.get("content-length")
    return int(declared) if declared is not None and declared.isdigit() else None
