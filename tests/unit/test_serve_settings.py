"""`togglemaster-serve`: its variables are checked once, naming the one at fault, and the
app it serves is functions-framework's for the target, in the target's protocol, behind
the body-limit middleware of that protocol."""

from __future__ import annotations

import asyncio
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import EnvironBuilder

from functions import apps
from functions.http import asgi, wsgi
from functions.serve import DEFAULT_HOST, DEFAULT_PORT, ServeError, read_settings

SOURCE = """
import flask
import functions_framework
import functions_framework.aio
from starlette.requests import Request as StarletteRequest
from starlette.responses import Response as StarletteResponse

from functions.http import asgi, wsgi
from functions.http.messages import Request, Response
from functions.http.responses import json_response
from functions.http.router import Router

router = Router("stand-in")


@router.route("/health", "GET", "POST")
def health(request: Request) -> Response:
    return json_response({"status": "ok", "size": len(request.body)})


@functions_framework.http
def auth(request: flask.Request) -> flask.Response:
    return wsgi.handle(router, request)


@functions_framework.aio.http
async def evaluation(request: StarletteRequest) -> StarletteResponse:
    return await asgi.handle(router, request)
"""


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({}, "FUNCTION_TARGET"),
        ({"FUNCTION_TARGET": "billing"}, "FUNCTION_TARGET"),
        ({"FUNCTION_TARGET": "auth", "PORT": "http"}, "PORT"),
        ({"FUNCTION_TARGET": "auth", "PORT": "70000"}, "PORT"),
        ({"FUNCTION_TARGET": "auth", "WORKERS": "0"}, "WORKERS"),
        ({"FUNCTION_TARGET": "auth", "WORKERS": "two"}, "WORKERS"),
        ({"FUNCTION_TARGET": "x", "FUNCTION_SOURCE": "/nowhere/main.py"}, "FUNCTION_SOURCE"),
        ({"FUNCTION_TARGET": "not a name", "FUNCTION_SOURCE": __file__}, "FUNCTION_TARGET"),
    ],
)
def test_read_settings__bad_variable__error_names_it(env: dict[str, str], variable: str) -> None:
    # Given / When / Then
    with pytest.raises(ServeError, match=variable):
        read_settings(env)


def test_read_settings__only_the_target__defaults() -> None:
    # Given / When
    settings = read_settings({"FUNCTION_TARGET": "evaluation"})
    # Then the container's port, one worker per core, every interface
    assert (settings.target, settings.port, settings.host) == (
        "evaluation",
        DEFAULT_PORT,
        DEFAULT_HOST,
    )
    assert settings.workers == os.cpu_count()
    assert settings.source is None


def test_read_settings__another_source__any_target_it_defines() -> None:
    # Given / When
    settings = read_settings(
        {"FUNCTION_TARGET": "hello", "FUNCTION_SOURCE": __file__, "PORT": "9000", "WORKERS": "3"}
    )
    # Then
    assert (settings.target, settings.port, settings.workers) == ("hello", 9000, 3)
    assert settings.source == __file__


@pytest.fixture
def stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    source = tmp_path / "main.py"
    source.write_text(SOURCE)
    monkeypatch.setenv("FUNCTION_SOURCE", str(source))
    return source


def _wsgi_call(app: Any, method: str, path: str, body: bytes = b"") -> tuple[str, bytes, int]:
    """(status, body, bytes read of the request body)."""
    environ = EnvironBuilder(path=path, method=method, data=body).get_environ()
    stream = io.BytesIO(body)
    environ["wsgi.input"] = stream
    started: list[str] = []
    answer = b"".join(app(environ, lambda status, headers, exc_info=None: started.append(status)))
    return started[0], answer, stream.tell()


def test_build__http_target__wsgi_behind_the_body_limit(
    stand_in: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a `functions_framework.http` target
    monkeypatch.setenv("FUNCTION_TARGET", "auth")
    # When its app is built
    interface, app = apps.build()
    # Then WSGI, answering; a body over the limit refused before anything reads it,
    # the framework included (which reads every body after the response)
    assert interface == "wsgi"
    assert isinstance(app, wsgi.BodyLimit)
    status, body, _ = _wsgi_call(app, "GET", "/health")
    assert status.startswith("200")
    assert json.loads(body)["status"] == "ok"
    status, body, read = _wsgi_call(app, "POST", "/health", b"x" * 300_000)
    assert status.startswith("413")
    assert json.loads(body)["code"] == "payload_too_large"
    assert read == 0


def _asgi_call(app: Any, method: str, path: str) -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [],
        "scheme": "http",
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 1),
        "root_path": "",
    }
    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/health", 200),
        ("GET", "/robots.txt", 404),
        ("GET", "/favicon.ico", 404),
        ("GET", "/health\n", 404),
        ("TRACE", "/health", 405),
    ],
)
def test_build__aio_target__asgi_every_request_to_the_router(
    stand_in: Path, monkeypatch: pytest.MonkeyPatch, method: str, path: str, status: int
) -> None:
    # Given a `functions_framework.aio.http` target
    monkeypatch.setenv("FUNCTION_TARGET", "evaluation")
    # When its app is built and asked
    interface, app = apps.build()
    answer = _asgi_call(app, method, path)
    # Then ASGI, and the router answers every path and method in JSON (the framework's
    # own routes would answer some of them in plain text)
    assert interface == "asgi"
    assert isinstance(app, asgi.BodyLimit)
    assert answer[0] == status
    assert json.loads(answer[1])
