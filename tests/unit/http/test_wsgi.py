"""The WSGI adapter and its body-limit middleware: a body over the limit is refused with
a 413 JSON answer before the application (or the framework around it) reads it."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from typing import Any

import flask
import pytest
from werkzeug.test import EnvironBuilder

from functions.http import wsgi
from functions.http.messages import Request, Response
from functions.http.responses import json_response, no_content, yaml_response
from functions.http.router import CORRELATION_HEADER, Router

router = Router()


@router.route("/echo", "POST", body_limit=100)
def echo(request: Request) -> Response:
    return json_response(
        {
            "body": request.body.decode(),
            "path": request.path,
            "tags": request.args.getlist("tag"),
            "type": request.mimetype,
            "custom": request.headers.get("x-custom"),
        }
    )


@router.route("/empty", "DELETE")
def empty(request: Request) -> Response:
    return no_content()


@router.route("/yaml", "GET")
def as_yaml(request: Request) -> Response:
    return yaml_response({"a": 1})


app = flask.Flask(__name__)


def _handle(method: str, path: str, **kwargs: Any) -> flask.Response:
    with app.test_request_context(path, method=method, **kwargs):
        return wsgi.handle(router, flask.request)


def test_handle__flask_request__routed_with_body_query_and_headers() -> None:
    # Given / When
    response = _handle(
        "POST",
        "/echo?tag=a&tag=%C3%A9",
        data=b"hello",
        content_type="text/plain; charset=utf-8",
        headers={"X-Custom": "1", CORRELATION_HEADER: "abc"},
    )
    # Then
    assert response.status_code == 200
    assert response.content_type == "application/json"
    assert response.headers[CORRELATION_HEADER] == "abc"
    assert response.get_json() == {
        "body": "hello",
        "path": "/echo",
        "tags": ["a", "é"],
        "type": "text/plain",
        "custom": "1",
    }


def test_handle__declared_body_over_the_route_limit__413_unread() -> None:
    # Given / When a body longer than the route's 100 bytes
    response = _handle("POST", "/echo", data=b"x" * 101)
    # Then
    assert response.status_code == 413
    assert response.get_json()["code"] == "payload_too_large"


def test_handle__no_content_and_yaml__their_headers() -> None:
    # Given / When
    empty_answer = _handle("DELETE", "/empty")
    yaml_answer = _handle("GET", "/yaml")
    # Then a 204 has no Content-Type; YAML says so
    assert empty_answer.status_code == 204
    assert "Content-Type" not in empty_answer.headers
    assert yaml_answer.content_type == "application/yaml"
    assert yaml_answer.get_data() == b"a: 1\n"


def test_to_flask__route_headers__kept() -> None:
    # Given / When
    sent = wsgi.to_flask(Response(b"{}", 304, {"ETag": '"x"'}, None))
    # Then
    assert sent.status_code == 304
    assert sent.headers["ETag"] == '"x"'


class _Stream(io.BytesIO):
    """A request body that counts what was read of it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.taken = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.taken += len(chunk)
        return chunk


class _App:
    """The framework behind the middleware: records what it was given."""

    def __init__(self) -> None:
        self.environ: dict[str, Any] | None = None
        self.body = b""

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.environ = environ
        self.body = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]


def _call(middleware: wsgi.BodyLimit, environ: dict[str, Any]) -> tuple[str, dict[str, str], bytes]:
    started: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started.update(status=status, headers=dict(headers))

    body = b"".join(middleware(environ, start_response))
    return started["status"], started["headers"], body


def _environ(
    body: bytes, *, declared: bool = True, path: str = "/echo", method: str = "POST"
) -> tuple[dict[str, Any], _Stream]:
    environ = EnvironBuilder(path=path, method=method).get_environ()
    stream = _Stream(body)
    environ["wsgi.input"] = stream
    environ.pop("CONTENT_LENGTH", None)
    if declared:
        environ["CONTENT_LENGTH"] = str(len(body))
    else:
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    return environ, stream


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_body_limit__body_over_the_limit__413_json_before_the_app(declared: bool) -> None:
    # Given a limit of 1 000 bytes and a body of 1 MB
    inner = _App()
    middleware = wsgi.BodyLimit(inner, lambda method, path: 1000)
    environ, stream = _environ(b"x" * 1_000_000, declared=declared)
    environ["HTTP_X_REQUEST_ID"] = "req-1"
    # When
    status, headers, body = _call(middleware, environ)
    # Then a 413 JSON answer, the app never called; a declared length is refused unread,
    # a chunked body as soon as it passes the limit
    assert status.startswith("413 ")
    assert headers["Content-Type"] == "application/json"
    assert headers[CORRELATION_HEADER] == "req-1"
    assert json.loads(body)["code"] == "payload_too_large"
    assert inner.environ is None
    assert stream.taken == (0 if declared else 1001)


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_body_limit__body_within_the_limit__handed_on_with_its_length(declared: bool) -> None:
    # Given
    inner = _App()
    middleware = wsgi.BodyLimit(inner, lambda method, path: 1000)
    environ, _ = _environ(b"y" * 1000, declared=declared)
    # When
    status, _, body = _call(middleware, environ)
    # Then the app reads the whole body, of an exact Content-Length
    assert (status, body) == ("200 OK", b"ok")
    assert inner.body == b"y" * 1000
    assert inner.environ is not None
    assert inner.environ["CONTENT_LENGTH"] == "1000"
    assert "HTTP_TRANSFER_ENCODING" not in inner.environ


def test_body_limit__body_shorter_than_declared__400_json_before_the_app() -> None:
    # Given a Content-Length of 100 and a client that sent 26 bytes and closed: a
    # document cut short is often still valid JSON or YAML
    inner = _App()
    environ, _ = _environ(b'{"name": "a", "descrip')
    environ["CONTENT_LENGTH"] = "100"
    # When
    status, headers, body = _call(wsgi.BodyLimit(inner), environ)
    # Then a 400 JSON answer naming both lengths; the app never sees the fragment
    assert status.startswith("400 ")
    assert headers["Content-Type"] == "application/json"
    assert "ended after 22 bytes of the 100" in json.loads(body)["error"]
    assert inner.environ is None


def test_body_limit__no_body__environ_untouched() -> None:
    # Given a GET without a body
    inner = _App()
    environ = EnvironBuilder(path="/echo", method="GET").get_environ()
    original = environ["wsgi.input"]
    # When
    _call(wsgi.BodyLimit(inner), environ)
    # Then
    assert inner.environ is environ
    assert environ["wsgi.input"] is original


def test_body_limit__the_limit_of_the_route__asked_by_method_and_path() -> None:
    # Given the router's own limits (100 bytes on POST /echo)
    middleware = wsgi.BodyLimit(_App(), router.body_limit)
    # When / Then
    assert _call(middleware, _environ(b"z" * 101)[0])[0].startswith("413")
    assert _call(middleware, _environ(b"z" * 100)[0])[0].startswith("200")
    assert _call(middleware, _environ(b"z" * 101, path="/other")[0])[0].startswith("200")


def test_body_limit__refusal_over_http1__closes_the_connection() -> None:
    # Given a body over the limit on an HTTP/1.1 connection
    middleware = wsgi.BodyLimit(_App(), lambda method, path: 1000)
    environ, _ = _environ(b"x" * 2000)
    environ["SERVER_PROTOCOL"] = "HTTP/1.1"
    # When
    status, headers, _ = _call(middleware, environ)
    # Then the rest of the body is not read: the connection closes after the answer
    assert status.startswith("413 ")
    assert headers["Connection"] == "close"


def test_body_limit__http2_body_without_length__counted_and_refused_at_the_limit() -> None:
    # Given an HTTP/2 request, whose body need declare neither length nor chunks
    inner = _App()
    middleware = wsgi.BodyLimit(inner, lambda method, path: 1000)
    environ, stream = _environ(b"x" * 1_000_000)
    del environ["CONTENT_LENGTH"]
    environ["SERVER_PROTOCOL"] = "HTTP/2"
    # When
    status, headers, body = _call(middleware, environ)
    # Then it is read only up to the limit, refused before the app, no Connection header
    # (HTTP/2 has none)
    assert status.startswith("413 ")
    assert json.loads(body)["code"] == "payload_too_large"
    assert inner.environ is None
    assert stream.taken == 1001
    assert "Connection" not in headers


def test_body_limit__http2_body_within_the_limit__handed_on_with_its_length() -> None:
    # Given
    inner = _App()
    middleware = wsgi.BodyLimit(inner, lambda method, path: 1000)
    environ, _ = _environ(b"y" * 10)
    del environ["CONTENT_LENGTH"]
    environ["SERVER_PROTOCOL"] = "HTTP/2"
    # When
    status, _, _ = _call(middleware, environ)
    # Then
    assert status == "200 OK"
    assert inner.body == b"y" * 10
    assert inner.environ is not None
    assert inner.environ["CONTENT_LENGTH"] == "10"


@pytest.mark.parametrize(
    ("sent", "expected"),
    [({}, None), ({"HTTP_X_REQUEST_ID": "trace-7"}, "trace-7")],
)
def test_body_limit__any_request__framework_execution_id_is_the_correlation_id(
    sent: dict[str, str], expected: str | None
) -> None:
    # Given a GET with or without the caller's request id
    inner = _App()
    environ = {**EnvironBuilder(path="/echo", method="GET").get_environ(), **sent}
    # When it passes the middleware
    _call(wsgi.BodyLimit(inner), environ)
    # Then functions-framework finds the correlation id as its execution id
    assert inner.environ is not None
    correlation = inner.environ["HTTP_X_REQUEST_ID"]
    assert correlation == (expected or correlation) and correlation
    assert inner.environ["HTTP_FUNCTION_EXECUTION_ID"] == correlation
