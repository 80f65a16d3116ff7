"""The WSGI side (the admin functions, on functions-framework's Flask app): a Flask request
becomes a `Request`, the router's `Response` a Flask response, and `BodyLimit` refuses
an oversized body before the framework reads it.

functions-framework's Flask app reads the whole request body after the response, even
after a 413: only middleware in front of it protects anything. `BodyLimit` reads the
body itself, at most the route's limit, and hands the app a buffer of what it read. It
also settles the request's correlation id and hands it to the framework as the
execution id, as the ASGI side does (`functions.http.asgi`).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import flask

from functions.http.limits import BodyLimitOf, body_refusal, cut_short, default_limit
from functions.http.messages import Headers, Request, Response
from functions.http.router import CORRELATION_HEADER, Router, request_id

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

_CHUNK = 64 * 1024


def handle(router: Router, request: flask.Request) -> flask.Response:
    """What a WSGI function's target returns: `router` answers `request`."""
    environ = request.environ
    path = request.path
    method = request.method
    declared = request.content_length
    if declared:
        refusal = body_refusal(declared, router.body_limit(method, path))
        if refusal is not None:
            refusal.headers[CORRELATION_HEADER] = request_id(environ.get("HTTP_X_REQUEST_ID"))
            return to_flask(refusal)
    body = request.get_data(cache=True) if declared or _chunked(environ) else b""
    return to_flask(router.handle(to_request(request, body)))


def to_request(request: flask.Request, body: bytes) -> Request:
    environ = request.environ
    return Request(
        request.method,
        request.path,
        query_string=_text(environ.get("QUERY_STRING", "")),
        headers=_headers(environ),
        body=body,
        client=environ.get("REMOTE_ADDR"),
    )


def to_flask(response: Response) -> flask.Response:
    sent = flask.Response(
        response.body,
        status=response.status,
        headers=response.headers,
        content_type=response.media_type,
    )
    if response.media_type is None and "Content-Type" not in response.headers:
        del sent.headers["Content-Type"]
    return sent


class BodyLimit:
    """WSGI middleware: a body above its route's limit gets a 413 JSON answer before the
    application (or the framework around it) reads a byte of it.

    An HTTP/1 request without Content-Length or chunked framing has no body and passes
    untouched. Any other body is read here, at most `limit + 1` bytes, and replaced by an
    in-memory copy with its exact Content-Length: a body of unknown length (chunked, or
    HTTP/2's) is refused as soon as it crosses the limit. A refusal closes the connection
    (`Connection: close`) rather than leave the rest of the body to be read.
    """

    def __init__(self, app: WSGIApplication, limit: BodyLimitOf = default_limit) -> None:
        self.app = app
        self._limit = limit

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path_info = environ.get("PATH_INFO", "")
        if not path_info.startswith("/") or path_info.startswith("//"):
            # `GET health` or `CONNECT host:443`: the framework's URL map would answer an
            # HTML redirect to the address in the Host header; the router answers in JSON
            environ["PATH_INFO"] = "/" + path_info.lstrip("/")
        rid = environ["HTTP_X_REQUEST_ID"] = request_id(environ.get("HTTP_X_REQUEST_ID"))
        environ.setdefault("HTTP_FUNCTION_EXECUTION_ID", rid)
        declared = environ.get("CONTENT_LENGTH") or ""
        if not declared and not _chunked(environ) and _http1(environ):
            return self.app(environ, start_response)
        length = int(declared) if declared.isdigit() else None
        limit = self._limit(environ.get("REQUEST_METHOD", "GET"), _path(environ))
        refusal = body_refusal(length, limit)
        if refusal is None:
            body, refusal = _read(environ["wsgi.input"], length, limit)
        if refusal is not None:
            return _send(refusal, rid, environ, start_response)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        return self.app(environ, start_response)


def _read(stream: Any, length: int | None, limit: int) -> tuple[bytes, Response | None]:
    """The body (`length` bytes, or up to the end of a chunked one), or the refusal once
    more than `limit` bytes arrived, or when the stream ends before `length` bytes."""
    parts: list[bytes] = []
    received = 0
    wanted = length if length is not None else limit + 1
    while received < wanted:
        chunk = stream.read(min(_CHUNK, wanted - received))
        if not chunk:
            if length is not None:
                return b"", cut_short(received, length)
            break
        parts.append(chunk)
        received += len(chunk)
        refusal = body_refusal(received, limit)
        if refusal is not None:
            return b"", refusal
    return b"".join(parts), None


def _send(
    response: Response, rid: str, environ: WSGIEnvironment, start_response: StartResponse
) -> Iterable[bytes]:
    headers = [
        ("Content-Type", response.media_type or "application/json"),
        ("Content-Length", str(len(response.body))),
        (CORRELATION_HEADER, rid),
        *response.headers.items(),
    ]
    if _http1(environ):
        headers.append(("Connection", "close"))
    start_response(f"{response.status} {HTTPStatus(response.status).phrase}", headers)
    return [response.body]


def _chunked(environ: WSGIEnvironment) -> bool:
    return "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()


def _http1(environ: WSGIEnvironment) -> bool:
    return str(environ.get("SERVER_PROTOCOL", "HTTP/1.1")).startswith("HTTP/1")


def _text(wsgi_string: str) -> str:
    """WSGI strings carry the raw bytes as latin-1: decode them as the UTF-8 they are."""
    if wsgi_string.isascii():
        return wsgi_string
    return wsgi_string.encode("latin-1").decode("utf-8", "replace")


def _path(environ: WSGIEnvironment) -> str:
    return "/" + _text(environ.get("PATH_INFO", "")).lstrip("/")


def _headers(environ: WSGIEnvironment) -> Headers:
    values: dict[str, str] = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            values[key[5:].replace("_", "-").lower()] = value
    if "CONTENT_TYPE" in environ:
        values["content-type"] = environ["CONTENT_TYPE"]
    if "CONTENT_LENGTH" in environ:
        values["content-length"] = environ["CONTENT_LENGTH"]
    return Headers.owning(values)
