"""`togglemaster-serve` as the container runs it: granian over WSGI or ASGI, answering,
refusing an oversized body in JSON; then on SIGTERM every worker runs its shutdown hooks
and the process exits within seconds."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from functions.devstack.errors import StartupError
from functions.devstack.processes import free_port, venv_script, wait_until

SOURCE = """
import os

import flask
import functions_framework
import functions_framework.aio
from starlette.requests import Request as StarletteRequest
from starlette.responses import Response as StarletteResponse

from functions.http import asgi, wsgi
from functions.http.messages import Request, Response
from functions.http.responses import json_response
from functions.http.router import Router
from functions.http.startup import on_shutdown

router = Router("stand-in")


@router.route("/health", "GET", "POST")
def health(request: Request) -> Response:
    return json_response({"status": "ok"})


def _flushed() -> None:
    with open(os.environ["MARKER"], "a") as out:
        out.write(f"{os.getpid()}\\n")


on_shutdown(_flushed)


@functions_framework.http
def auth(request: flask.Request) -> flask.Response:
    return wsgi.handle(router, request)


@functions_framework.aio.http
async def evaluation(request: StarletteRequest) -> StarletteResponse:
    return await asgi.handle(router, request)
"""


def _post(port: int, body: bytes) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("POST", "/health", body=body)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _answers(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
        return bool(response.status == 200)


@pytest.mark.parametrize("target", ["auth", "evaluation"], ids=["wsgi", "asgi"])
def test_serve__sigterm__workers_run_their_hooks_and_exit_within_seconds(
    tmp_path: Path, target: str
) -> None:
    # Given the server command running two workers of a stand-in function
    source = tmp_path / "main.py"
    source.write_text(SOURCE)
    marker = tmp_path / "flushed"
    port = free_port()
    env = {
        **os.environ,
        "FUNCTION_TARGET": target,
        "FUNCTION_SOURCE": str(source),
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "WORKERS": "2",
        "MARKER": str(marker),
    }
    log = tmp_path / "server.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [venv_script("togglemaster-serve")], env=env, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            try:
                wait_until(
                    lambda: _answers(f"http://127.0.0.1:{port}/health"),
                    timeout=30,
                    what=target,
                    alive=lambda: server.poll() is None,
                )
            except StartupError as exc:
                raise AssertionError(f"{exc}:\n{log.read_text()}") from None
            refused = _post(port, b"x" * 300_000)
            # When it gets SIGTERM, as Kubernetes sends it
            time.sleep(0.5)
            started = time.monotonic()
            server.send_signal(signal.SIGTERM)
            code = server.wait(timeout=15)
            took = time.monotonic() - started
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
    # Then a body over the limit was refused in JSON (before the framework read it);
    # the server exits at once, cleanly, and each worker ran its shutdown hooks
    assert refused[0] == 413
    assert json.loads(refused[1])["code"] == "payload_too_large"
    text = log.read_text()
    assert code == 0, text
    assert took < 5, text
    pids = marker.read_text().split()
    assert len(pids) == len(set(pids)) == 3, text  # both workers, and the main process
