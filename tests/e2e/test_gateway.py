"""The one URL: every function through the stack's gateway, as `make dev` serves it — real
functions behind a real proxy. Requests and answers pass whole (method, path, query,
headers, status, body, streamed both ways); what the gateway answers itself (`/`,
`/health`, `/ready`, `/openapi.json`, `/docs`) covers every function."""

from __future__ import annotations

import http.client
import json
import re
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests
from openapi_spec_validator import validate

from functions.commands.openapi import router_of
from functions.core.names import FUNCTIONS
from functions.core.routes import HOST_PATHS, INTERNAL_PATHS, ROUTES, routed_functions
from functions.devstack.gateway import Gateway
from functions.devstack.processes import free_port
from functions.devstack.stack import DevStack, read_env_file
from functions.http import docs
from functions.http.openapi import openapi_path

pytestmark = pytest.mark.e2e


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def gateway(stack: DevStack) -> str:
    return stack.gateway_url


def test_gateway__flag_created_read_and_evaluated__each_function_reached_on_one_url(
    stack: DevStack, gateway: str
) -> None:
    # Given the walk-through key `make dev` exports, and one URL
    key = stack.walkthrough_key
    # When a flag is created, ruled, read and evaluated through the gateway
    created = requests.post(
        f"{gateway}/flags",
        json={"name": "gateway_flag", "is_enabled": True},
        headers=_bearer(key),
        timeout=10,
    )
    rule = requests.post(
        f"{gateway}/rules",
        json={"flag_name": "gateway_flag", "rules": {"type": "PERCENTAGE", "value": 100}},
        headers=_bearer(key),
        timeout=10,
    )
    read = requests.get(f"{gateway}/flags/gateway_flag", headers=_bearer(key), timeout=10)
    stack.settle()
    decided = requests.get(
        f"{gateway}/evaluate",
        params={"user_id": "user-1", "flag_name": "gateway_flag"},
        headers=_bearer(key),
        timeout=10,
    )
    # Then each answer is the function's own
    assert created.status_code == 201, created.text
    assert rule.status_code == 201, rule.text
    assert read.json()["name"] == "gateway_flag"
    assert decided.status_code == 200, decided.text
    assert decided.json()["result"] is True
    assert (decided.json()["flag_name"], decided.json()["user_id"]) == ("gateway_flag", "user-1")


def test_gateway__same_request_direct_and_through__same_status_body_and_headers(
    stack: DevStack, gateway: str, api_key: str
) -> None:
    # Given a request with a query, a key and a correlation id
    headers = {**_bearer(api_key), "X-Request-Id": "gateway-test-1"}
    # When it is sent to flags directly and through the gateway
    direct = requests.get(f"{stack.url_of('flags')}/environments", headers=headers, timeout=10)
    through = requests.get(f"{gateway}/environments", headers=headers, timeout=10)
    # Then the answers are the same
    assert (through.status_code, through.json()) == (direct.status_code, direct.json())
    assert through.headers["X-Request-Id"] == "gateway-test-1"
    assert through.headers["Content-Type"] == direct.headers["Content-Type"]


def test_gateway__environment_keys__auth_answers_other_environment_paths_flags(
    stack: DevStack, gateway: str, api_key: str
) -> None:
    # Given / When
    keys = requests.get(
        f"{gateway}/environments/production/keys", headers=_bearer(stack.master_key), timeout=10
    )
    environment = requests.get(
        f"{gateway}/environments/production", headers=_bearer(api_key), timeout=10
    )
    # Then the more specific route wins
    assert keys.status_code == 200, keys.text
    assert keys.json()["environment"] == "production"
    assert "active_keys" in keys.json()
    assert environment.status_code == 200, environment.text
    assert environment.json()["key"] == "production"


def test_gateway__if_none_match__304_without_body_through_the_gateway(
    stack: DevStack, gateway: str, api_key: str
) -> None:
    # Given an OFREP bulk evaluation, whose answer has an ETag, asked with X-API-Key
    stack.settle()
    url = f"{gateway}/ofrep/v1/evaluate/flags"
    headers = {"X-API-Key": api_key}
    first = requests.post(
        url, json={"context": {"targetingKey": "u1"}}, headers=headers, timeout=10
    )
    etag = first.headers["ETag"]
    # When asked again with If-None-Match
    again = requests.post(
        url,
        json={"context": {"targetingKey": "u1"}},
        headers={**headers, "If-None-Match": etag},
        timeout=10,
    )
    # Then 304 with no body, the header passed both ways
    assert first.status_code == 200, first.text
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == etag


def test_gateway__body_over_the_limit__the_function_refuses_it_413(
    gateway: str, api_key: str
) -> None:
    # Given a body far over a flag body's limit, sent in pieces of unknown total length
    def pieces() -> Iterator[bytes]:
        yield b'{"name": "big", "description": "'
        for _ in range(64):
            yield b"x" * 65536
        yield b'"}'

    # When it is streamed through the gateway
    response = requests.post(
        f"{gateway}/flags",
        data=pieces(),
        headers={**_bearer(api_key), "Content-Type": "application/json"},
        timeout=30,
    )
    # Then the function's own limit answers
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "payload_too_large"


def test_gateway__methods_and_seed_prefixes__put_delete_and_auth_prefix_reach_the_function(
    stack: DevStack, gateway: str, api_key: str
) -> None:
    # Given a flag
    requests.post(
        f"{gateway}/flags", json={"name": "gateway_doomed"}, headers=_bearer(api_key), timeout=10
    )
    # When it is changed and deleted, and auth is reached by the seed's `/auth` prefix
    changed = requests.put(
        f"{gateway}/flags/gateway_doomed",
        json={"description": "going"},
        headers=_bearer(api_key),
        timeout=10,
    )
    deleted = requests.delete(
        f"{gateway}/flags/gateway_doomed", headers=_bearer(api_key), timeout=10
    )
    validated = requests.get(f"{gateway}/auth/validate", headers=_bearer(api_key), timeout=10)
    health = requests.get(f"{gateway}/targeting/health", timeout=10)
    # Then
    assert changed.status_code == 200, changed.text
    assert changed.json()["description"] == "going"
    assert deleted.status_code == 204
    assert validated.status_code == 200, validated.text
    assert health.json() == {"status": "ok"}


def test_gateway__unknown_path__json_404_saying_where_things_are(gateway: str) -> None:
    # Given / When
    response = requests.post(f"{gateway}/nowhere", json={"a": 1}, timeout=10)
    # Then
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "not_found"
    assert "POST /nowhere" in body["error"]
    assert body["routes"] == {route.prefix: route.function for route in ROUTES}
    assert body["docs"] == "/docs"


def test_gateway__one_connection__carries_several_requests(gateway: str) -> None:
    # Given one connection to the gateway
    connection = http.client.HTTPConnection(urlsplit(gateway).netloc, timeout=10)
    # When a routed path and an unknown one are asked on it, one after the other
    connection.request("GET", "/flags/nothing_here")
    routed = connection.getresponse()
    routed.read()
    connection.request("GET", "/nowhere")
    missing = connection.getresponse()
    body = json.loads(missing.read())
    connection.close()
    # Then each got its answer on the same connection: flags' own 401, the gateway's 404
    assert routed.status == 401
    assert missing.status == 404
    assert body["code"] == "not_found"


def test_gateway__function_not_listening__502_naming_it() -> None:
    # Given a gateway whose functions listen nowhere
    nowhere = f"http://127.0.0.1:{free_port()}"
    proxy = Gateway(free_port(), dict.fromkeys(FUNCTIONS, nowhere))
    proxy.start()
    try:
        # When a flags path and the probes are asked
        flags = requests.get(f"{proxy.url}/flags", timeout=10)
        health = requests.get(f"{proxy.url}/health", timeout=10)
    finally:
        proxy.stop()
    # Then flags is named as not answering, and the probes say every function is down
    assert flags.status_code == 502
    assert flags.json()["code"] == "bad_gateway"
    assert flags.json()["function"] == "flags"
    assert "flags is not answering" in flags.json()["error"]
    assert health.status_code == 503
    assert health.json()["status"] == "unavailable"
    assert {entry["http_status"] for entry in health.json()["functions"].values()} == {502}


def test_gateway__index__every_function_its_url_and_routes(stack: DevStack, gateway: str) -> None:
    # Given / When
    body = requests.get(f"{gateway}/", timeout=10).json()
    # Then
    assert [entry["function"] for entry in body["functions"]] == list(FUNCTIONS)
    assert {entry["function"]: entry["url"] for entry in body["functions"]} == stack.function_urls
    assert [route["prefix"] for route in body["routes"]] == [route.prefix for route in ROUTES]
    assert (body["openapi"], body["docs"], body["health"], body["ready"]) == (
        "/openapi.json",
        "/docs",
        "/health",
        "/ready",
    )


@pytest.mark.parametrize(("path", "status"), [("/health", "ok"), ("/ready", "ready")])
def test_gateway__probes__every_function_reported(gateway: str, path: str, status: str) -> None:
    # Given / When
    response = requests.get(f"{gateway}{path}", timeout=10)
    # Then
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == status
    assert sorted(body["functions"]) == sorted(FUNCTIONS)
    assert {entry["status"] for entry in body["functions"].values()} == {status}


def test_gateway__openapi__every_routed_operation_once_valid_and_tagged(gateway: str) -> None:
    # Given every public operation of every routed function, from the routers
    wanted = {
        (operation.method.lower(), openapi_path(operation.path)[0], function)
        for function in routed_functions()
        for operation in router_of(function).operations
        if operation.path not in (*HOST_PATHS, *INTERNAL_PATHS)
        and not operation.path.startswith("/docs")
    }
    # When the gateway's description is read
    response = requests.get(f"{gateway}/openapi.json", timeout=20)
    # Then it is valid OpenAPI 3.1 holding exactly those, each tagged with its function
    assert response.status_code == 200
    described = response.json()
    validate(described)
    found = {
        (method, path, operation["tags"][0])
        for path, item in described["paths"].items()
        for method, operation in item.items()
    }
    assert found == wanted
    ids = [op["operationId"] for item in described["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("where", ["gateway", *FUNCTIONS])
def test_docs__gateway_and_each_function__page_with_only_local_files(
    stack: DevStack, where: str
) -> None:
    # Given the gateway or a function's own port (evaluation over ASGI among them)
    base = stack.gateway_url if where == "gateway" else stack.url_of(where)
    # When its API page and what it references are fetched
    page = requests.get(f"{base}/docs", timeout=10)
    references = re.findall(r'(?:src|href)="([^"]*)"', page.text)
    description = re.search(r'"url": "([^"]*)"', page.text)
    # Then every reference is relative and served there, the description included
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert "://" not in page.text
    assert sorted(references) == sorted(f"docs/{name}" for name in docs.FILES)
    for reference in references:
        assert requests.get(f"{base}/{reference}", timeout=10).status_code == 200, reference
    assert description is not None
    assert requests.get(f"{base}/{description[1]}", timeout=20).json()["openapi"] == "3.1.0"


@pytest.mark.parametrize("function", FUNCTIONS)
def test_index__each_function_port__says_which_function_and_links_docs(
    stack: DevStack, function: str
) -> None:
    # Given / When
    body = requests.get(f"{stack.url_of(function)}/", timeout=10).json()
    # Then
    assert body["function"] == function
    assert {"method": "GET", "path": "/health", "summary": "The process answers"} in body[
        "operations"
    ]
    assert (body["openapi"], body["docs"]) == ("/openapi.json", "/docs")


def test_dev_env__written_by_the_stack__one_url_first_and_a_working_walkthrough_key(
    stack: DevStack,
) -> None:
    # Given what the stack exported
    exported = read_env_file(stack.env_file)
    # When the walk-through key is checked by auth, through the one URL
    validated = requests.get(
        f"{exported['TOGGLEMASTER_URL']}/validate", headers=_bearer(exported["TM_KEY"]), timeout=10
    )
    # Then the one URL comes first, the per-function URLs stay, the key can do the tour
    assert next(iter(exported)) == "TOGGLEMASTER_URL"
    assert exported["TOGGLEMASTER_URL"] == f"http://localhost:{stack.ports.gateway}"
    assert exported["FLAGS_URL"] == stack.url_of("flags")
    assert validated.status_code == 200, validated.text
    assert sorted(validated.json()["scopes"]) == ["evaluate", "read", "write"]


@pytest.mark.parametrize(
    ("sent", "status", "code"),
    [
        (b"POST /flags HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n", 400, "bad_request"),
        (
            b"POST /flags HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            400,
            "bad_request",
        ),
        (
            b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
            405,
            "method_not_allowed",
        ),
        # a method nobody serves: the function's own 405, not the server's HTML 501
        (b"PROPFIND /flags HTTP/1.1\r\nHost: x\r\n\r\n", 405, "method_not_allowed"),
        (b"GARBAGE\r\n\r\n", 400, "bad_request"),
        (b"GET /flags HTTP/9.9\r\nHost: x\r\n\r\n", 505, "http_version_not_supported"),
        (b"GET /" + b"x" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "request_uri_too_long"),
        (
            b"GET /flags HTTP/1.1\r\nX-Big: " + b"x" * 70_000 + b"\r\n\r\n",
            431,
            "request_header_fields_too_large",
        ),
    ],
)
def test_gateway__malformed_or_misdirected_request__json_error(
    gateway: str, sent: bytes, status: int, code: str
) -> None:
    # Given a raw request: a length that is no number, a chunk size that is no number,
    # or a POST to a path the gateway answers itself
    port = urlsplit(gateway).port
    assert port is not None
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(sent)
        # When the answer is read
        answer = http.client.HTTPResponse(sock)
        answer.begin()
        body = json.loads(answer.read())
    # Then it is a JSON error saying what was wrong
    assert answer.status == status
    assert body["code"] == code
    assert body["error"]
