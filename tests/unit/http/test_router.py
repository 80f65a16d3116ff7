"""Routing, whatever the protocol: every bad input is a 4xx JSON error, every answer
carries a correlation id, a route's body limit holds, and a bug is a 500 that says
nothing of its internals."""

from __future__ import annotations

import json
import logging
import os
import re

import pytest

from functions.core.errors import Conflict
from functions.core.logs import correlation_id
from functions.core.models.flags import CreateFlagRequest
from functions.http.limits import MAX_BODY_BYTES
from functions.http.messages import Headers, Request, Response
from functions.http.operations import Access, Parameter
from functions.http.requests import read_json
from functions.http.responses import json_response
from functions.http.router import CORRELATION_HEADER, Router, request_id

router = Router()
seen: dict[str, object] = {}


@router.route("/things", "POST")
def create_thing(request: Request) -> Response:
    body = read_json(request, CreateFlagRequest)
    if body.name == "taken":
        raise Conflict("thing 'taken' already exists")
    return json_response(body, status=201)


@router.route("/things/<int:thing_id>", "GET", "DELETE")
def one_thing(request: Request, thing_id: int) -> Response:
    seen["correlation_id"] = correlation_id.get()
    return json_response({"id": thing_id, "method": request.method})


@router.route("/things/mine", "GET")
def my_things(request: Request) -> Response:
    return json_response({"mine": True, "tags": request.args.getlist("tag")})


@router.route("/small", "POST", body_limit=10)
def small(request: Request) -> Response:
    return json_response({"size": len(request.body)})


@router.route("/keys/<path:key>", "GET")
def any_key(request: Request, key: str) -> Response:
    return json_response({"key": key})


@router.route("/boom", "GET")
def boom(request: Request) -> Response:
    raise RuntimeError("secret internals")


def _handle(
    method: str, path: str, data: bytes = b"", headers: dict[str, str] | None = None
) -> Response:
    path, _, query = path.partition("?")
    sent = Headers.of({"Content-Type": "application/json", **(headers or {})}.items())
    return router.handle(Request(method, path, query_string=query, headers=sent, body=data))


def _call(method: str, path: str, data: bytes = b"") -> tuple[int, dict[str, object]]:
    response = _handle(method, path, data)
    return response.status, json.loads(response.body)


@pytest.mark.parametrize(
    ("data", "status", "fragment"),
    [
        (b"", 400, "JSON body is required"),
        (b"{not json", 400, "not valid JSON"),
        (b"[1, 2]", 400, "must be a JSON object"),
        (b"{}", 400, "'name' is required"),
        (b'{"name": null}', 400, "'name' is required"),
        (b'{"name": 5}', 422, "name"),
        (b'{"name": "ok", "is_enabled": "yes"}', 422, "is_enabled"),
        (json.dumps({"name": "x" * 101}).encode(), 422, "name"),
        (json.dumps({"name": "bad name!"}).encode(), 422, "name"),
        (json.dumps({"name": "ok", "description": "d" * 300_000}).encode(), 413, "larger"),
        (b'{"name": "taken"}', 409, "already exists"),
    ],
)
def test_handle__bad_body__json_error(data: bytes, status: int, fragment: str) -> None:
    # Given / When a bad body is posted
    code, body = _call("POST", "/things", data)
    # Then a JSON error with the expected status says what is wrong
    assert code == status
    assert fragment in str(body["error"])
    assert body["code"]


def test_handle__unknown_path__404_json() -> None:
    # Given / When
    response = _handle("GET", "/nowhere")
    # Then
    assert response.status == 404
    assert response.media_type == "application/json"
    assert json.loads(response.body)["error"] == "no route for GET /nowhere"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/things", "POST"),
        ("PUT", "/things/7", "DELETE, GET, HEAD"),
        ("OPTIONS", "/things/mine", "GET, HEAD"),
    ],
)
def test_handle__method_not_routed__405_json_with_allow(
    method: str, path: str, allowed: str
) -> None:
    # Given / When a path is called with a method it does not take
    response = _handle(method, path)
    # Then 405, the Allow header and the body name the methods it takes
    assert response.status == 405
    assert response.headers["Allow"] == allowed
    assert json.loads(response.body)["allowed"] == allowed


def test_handle__unexpected_exception__500_json_with_correlation_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a handler that fails unexpectedly
    # When it is called with a correlation id
    with caplog.at_level(logging.ERROR, logger="togglemaster.http"):
        response = _handle("GET", "/boom", headers={"X-Request-Id": "req-42"})
    # Then the client sees a generic JSON error and its id, never the exception
    body = json.loads(response.body)
    assert response.status == 500
    assert "secret" not in json.dumps(body)
    assert body["correlation_id"] == "req-42"
    assert response.headers[CORRELATION_HEADER] == "req-42"
    assert "unexpected error" in caplog.text


def test_handle__valid_body__created() -> None:
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


def test_handle__static_path_beside_variable_one__each_to_its_route() -> None:
    # Given "/things/mine" (no variable) and "/things/<int:thing_id>"
    # When / Then the static path wins, the variable one is converted, HEAD follows GET
    assert _call("GET", "/things/mine?tag=a&tag=b") == (200, {"mine": True, "tags": ["a", "b"]})
    assert _call("GET", "/things/12") == (200, {"id": 12, "method": "GET"})
    assert _call("DELETE", "/things/12") == (200, {"id": 12, "method": "DELETE"})
    assert _handle("HEAD", "/things/12").status == 200
    assert _handle("HEAD", "/things/mine").status == 200
    assert _call("GET", "/things/abc")[0] == 404


def test_handle__trailing_slash__same_route_as_without() -> None:
    # Given / When / Then (werkzeug's strict_slashes=False, as before)
    assert _call("GET", "/things/12/") == (200, {"id": 12, "method": "GET"})


@pytest.mark.parametrize(
    "path", ["/things/mine?tag=a%00", "/things/mine?a%00=1", "/things/1\x00", "/things/mine?x=\x00"]
)
def test_handle__nul_in_path_or_query__400_json(path: str) -> None:
    # Given / When
    code, body = _call("GET", path)
    # Then
    assert code == 400
    assert "NUL" in str(body["error"])


def test_handle__request_id_sent__echoed_cut_to_64_and_set_for_the_logs() -> None:
    # Given / When
    response = _handle("GET", "/things/3", headers={"X-Request-Id": "r" * 100})
    # Then the handler saw it as the correlation id, and the answer carries it
    assert response.headers[CORRELATION_HEADER] == "r" * 64
    assert seen["correlation_id"] == "r" * 64
    assert correlation_id.get() is None


def test_handle__no_request_id__a_new_unique_one() -> None:
    # Given / When
    ids = {_handle("GET", "/things/3").headers[CORRELATION_HEADER] for _ in range(100)}
    # Then each answer has its own id, made of this process's prefix and a counter
    assert len(ids) == 100
    assert len({re.sub(r"-[0-9a-f]+$", "", rid) for rid in ids}) == 1


def test_request_id__forked_process__another_prefix() -> None:
    # Given this process's prefix
    prefix = request_id(None).rsplit("-", 1)[0]
    read, write = os.pipe()
    # When a forked child makes an id
    child = os.fork()
    if child == 0:  # pragma: no cover - the child
        os.write(write, request_id(None).encode())
        os._exit(0)
    os.waitpid(child, 0)
    theirs = os.read(read, 100).decode()
    # Then its prefix differs
    assert theirs.rsplit("-", 1)[0] != prefix


def test_handle__body_over_the_route_limit__413_json() -> None:
    # Given a route taking at most 10 bytes
    # When 11 are sent, then 10
    refused = _handle("POST", "/small", b"x" * 11)
    accepted = _handle("POST", "/small", b"x" * 10)
    # Then
    assert refused.status == 413
    assert json.loads(refused.body)["code"] == "payload_too_large"
    assert CORRELATION_HEADER in refused.headers
    assert json.loads(accepted.body) == {"size": 10}


def test_body_limit__by_route__declared_or_default() -> None:
    # Given / When / Then
    assert router.body_limit("POST", "/small") == 10
    assert router.body_limit("POST", "/things") == MAX_BODY_BYTES
    assert router.body_limit("GET", "/things/1") == MAX_BODY_BYTES
    assert router.body_limit("POST", "/nowhere") == MAX_BODY_BYTES


@router.route(
    "/keyed",
    "GET",
    parameters=[Parameter("environment", "where"), Parameter("tag", "which", repeatable=True)],
    access=Access.KEY,
)
def keyed(request: Request) -> Response:
    return json_response({"tags": request.args.getlist("tag")})


@router.route(
    "/keyed/free",
    "GET",
    parameters=[Parameter("user_id", "who"), Parameter("attributes", "any", free_form=True)],
    access=Access.KEY,
)
def keyed_free(request: Request) -> Response:
    return json_response(dict(request.args.items()))


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("enviroment=production", "enviroment"),
        ("tag=a&tags=b", "tags"),
        ("Environment=x", "Environment"),
    ],
)
def test_handle__unknown_query_parameter__422_naming_it_and_the_accepted_ones(
    query: str, parameter: str
) -> None:
    # Given / When an API route is called with a misspelt query parameter
    code, body = _call("GET", f"/keyed?{query}")
    # Then it is refused, naming the parameter and what the route takes
    assert code == 422
    assert body["code"] == "unknown_parameter"
    assert body["parameter"] == parameter
    assert body["accepted"] == ["environment", "tag"]
    assert body["error"] == (
        f"unknown query parameter '{parameter}'; accepted parameters: environment, tag"
    )


def test_handle__declared_query_parameters__answered() -> None:
    # Given / When
    code, body = _call("GET", "/keyed?environment=production&tag=a&tag=b")
    # Then
    assert code == 200
    assert body == {"tags": ["a", "b"]}


@pytest.mark.parametrize(
    "query",
    ["environment=production&environment=staging", "environment=a&tag=x&environment=a"],
    ids=["two values", "the same value twice"],
)
def test_handle__single_valued_parameter_given_twice__422_naming_it(query: str) -> None:
    # Given / When a parameter that takes one value comes twice: acting on either would
    # be a guess (a key bound to one environment, a script that appended another)
    code, body = _call("GET", f"/keyed?{query}")
    # Then it is refused, naming the parameter
    assert code == 422
    assert body["code"] == "invalid_value"
    assert body["parameter"] == "environment"
    assert body["error"] == (
        "query parameter 'environment' is given more than once; it takes one value"
    )


@pytest.mark.parametrize("query", ["user_id=a&user_id=b", "user_id=a&plan=pro&plan=free"])
def test_handle__free_form_route_parameter_given_twice__422_naming_it(query: str) -> None:
    # Given / When a route that takes any attribute gets one of them twice
    code, body = _call("GET", f"/keyed/free?{query}")
    # Then it is refused, naming it, rather than one of the values picked
    assert code == 422
    assert body["code"] == "invalid_value"
    assert body["parameter"] == query.split("&")[-1].split("=")[0]


def test_handle__free_form_parameters_or_open_route__any_parameter_taken() -> None:
    # Given / When a route gathering attributes, and an open one, get parameters they
    # do not name
    free_code, free_body = _call("GET", "/keyed/free?user_id=u&plan=pro")
    open_code, _ = _call("GET", "/things/mine?whatever=1")
    # Then both answer
    assert (free_code, free_body) == (200, {"user_id": "u", "plan": "pro"})
    assert open_code == 200


def test_handle__unknown_body_field__422_naming_it_and_the_accepted_ones() -> None:
    # Given / When a body with a misspelt field
    code, body = _call("POST", "/things", b'{"name": "typo_flag", "is_enable": true}')
    # Then it is refused, nothing created, naming the field and the accepted ones
    assert code == 422
    assert body["code"] == "unknown_field"
    assert body["field"] == "is_enable"
    assert body["accepted"] == list(CreateFlagRequest.model_fields)
    assert str(body["error"]).startswith(
        "unknown field 'is_enable'; accepted fields: name, description, is_enabled,"
    )


@pytest.mark.parametrize("key", ["a\nb", "ends\n", "a/b", "\u00d4-\u00d9"])
def test_handle__path_variable_with_newline_or_slash__reaches_the_route(key: str) -> None:
    # Given / When a path variable holding a newline (`%0A`), a slash or non-ASCII text
    status, body = _call("GET", f"/keys/{key}")
    # Then the route answers it (OFREP's FLAG_NOT_FOUND), not the router's 404
    assert (status, body) == (200, {"key": key})
