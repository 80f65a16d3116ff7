"""Routing and body parsing: every bad input is a 4xx JSON error."""

from __future__ import annotations

import json

import flask
import pytest

from functions.core.errors import Conflict
from functions.core.models.flags import CreateFlagRequest
from functions.http.requests import read_json
from functions.http.responses import json_response
from functions.http.router import Router

app = flask.Flask(__name__)
router = Router()


@router.route("/things", "POST")
def create_thing(request: flask.Request) -> flask.Response:
    body = read_json(request, CreateFlagRequest)
    if body.name == "taken":
        raise Conflict("thing 'taken' already exists")
    return json_response(body, status=201)


@router.route("/boom", "GET")
def boom(request: flask.Request) -> flask.Response:
    raise RuntimeError("secret internals")


def _call(method: str, path: str, data: bytes | None = None) -> tuple[int, dict[str, object]]:
    with app.test_request_context(path, method=method, data=data, content_type="application/json"):
        response = router.dispatch(flask.request)
    return response.status_code, json.loads(response.get_data())


@pytest.mark.parametrize(
    ("data", "status", "fragment"),
    [
        (b"", 400, "JSON body is required"),
        (b"{not json", 400, "not valid JSON"),
        (b"[1, 2]", 400, "must be a JSON object"),
        (b"{}", 400, "name is required"),
        (b'{"name": 5}', 400, "name"),
        (b'{"name": "ok", "is_enabled": "yes"}', 400, "is_enabled"),
        (json.dumps({"name": "x" * 101}).encode(), 400, "name"),
        (json.dumps({"name": "bad name!"}).encode(), 400, "name"),
        (json.dumps({"name": "ok", "description": "d" * 300_000}).encode(), 413, "larger"),
        (b'{"name": "taken"}', 409, "already exists"),
    ],
)
def test_dispatch__bad_body__json_error(data: bytes, status: int, fragment: str) -> None:
    # Given / When a bad body is posted
    code, body = _call("POST", "/things", data)
    # Then a JSON error with the expected status says what is wrong
    assert code == status
    assert fragment in str(body["error"])
    assert body["code"]


def test_dispatch__unknown_path_and_method__404_and_405_json() -> None:
    # Given / When / Then
    assert _call("GET", "/nowhere")[0] == 404
    code, body = _call("DELETE", "/things")
    assert code == 405
    assert "POST" in str(body["allowed"])


def test_dispatch__unexpected_exception__500_json_without_internals() -> None:
    # Given a handler that fails unexpectedly
    # When it is called
    code, body = _call("GET", "/boom")
    # Then the client sees a generic JSON error and a correlation id, never the exception
    assert code == 500
    assert "secret" not in json.dumps(body)
    assert body["correlation_id"]


def test_dispatch__valid_body__created() -> None:
    # Given / When
    code, body = _call("POST", "/things", b'{"name": "checkout_v2", "is_enabled": true}')
    # Then
    assert code == 201
    assert {key: body[key] for key in ("name", "description", "is_enabled", "type")} == {
        "name": "checkout_v2",
        "description": None,
        "is_enabled": True,
        "type": "boolean",
    }
