"""Each function's OpenAPI description: generated from its routes, committed, served
without a key, and valid OpenAPI 3.1."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import functions_framework.aio
import pytest
from flask.testing import FlaskClient
from openapi_spec_validator import validate

import functions
from functions.commands.openapi import expected, router_of
from functions.core.names import FUNCTIONS
from functions.http import startup
from functions.http.openapi import document
from tests.unit.http.unreachable import UNREACHABLE_DEPENDENCIES

SOURCE = str(Path(functions.__file__).parent / "main.py")
ASGI_FUNCTIONS = {"evaluation"}
"""Served over ASGI (a `functions_framework.aio` target)."""

ClientFactory = Callable[[str, dict[str, str]], FlaskClient]

ENVIRONMENTS = UNREACHABLE_DEPENDENCIES


def _operations(described: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, methods in described["paths"].items()
        for method, operation in methods.items()
    ]


def test_committed_descriptions__compared_with_generator__identical() -> None:
    # Given what the routes and models produce now
    wanted = expected()
    # When the committed files are read
    stale = [
        path.name for path, text in wanted.items() if not path.exists() or path.read_text() != text
    ]
    # Then none differs: a change to a route or model comes with `make openapi`
    assert not stale, f"run `make openapi`: {', '.join(stale)} out of date"


def asgi_get(app: Any, path: str) -> tuple[int, str, bytes]:
    """One GET through an ASGI app, no server: (status, media type, body)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"test")],
        "server": ("test", 80),
        "client": ("127.0.0.1", 1),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], headers.get("content-type", "").split(";")[0], body


@pytest.mark.parametrize("function", FUNCTIONS)
def test_openapi_json__without_key__200_valid_openapi_3_1(
    function_client: ClientFactory, function: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the function, its dependencies unreachable
    # When its description is asked for without a key
    if function in ASGI_FUNCTIONS:
        for name, value in ENVIRONMENTS[function].items():
            monkeypatch.setenv(name, value)
        startup.reset(f"functions.{function}")
        status, media, body = asgi_get(
            functions_framework.aio.create_asgi_app(function, SOURCE),  # type: ignore[no-untyped-call]
            "/openapi.json",
        )
    else:
        response = function_client(function, ENVIRONMENTS[function]).get("/openapi.json")
        status, media, body = response.status_code, response.mimetype or "", response.data
    # Then it is served, is the generated document, and is valid OpenAPI 3.1
    assert status == 200
    assert media == "application/json"
    served = json.loads(body)
    assert served == document(router_of(function))
    assert served["openapi"].startswith("3.1.")
    validate(served)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_description__every_operation__summary_security_and_error_bodies(function: str) -> None:
    # Given a function's description
    described = document(router_of(function))
    for method, path, operation in _operations(described):
        # Then every operation says what it does and which key it takes
        assert operation.get("summary"), f"{method} {path}"
        assert "security" in operation, f"{method} {path}"
        # and every error is the error body, a 500 carrying the correlation id
        assert operation["responses"]["500"] == {
            "$ref": "#/components/responses/InternalServerError"
        }
    internal = described["components"]["schemas"]["InternalErrorBody"]
    assert {"error", "code", "correlation_id"} <= set(internal["required"])


def _operation(function: str, method: str, path: str) -> dict[str, Any]:
    operation: dict[str, Any] = document(router_of(function))["paths"][path][method.lower()]
    return operation


def test_description__seed_create_flag__201_400_401_403_409_with_bearer_key() -> None:
    # Given / When
    operation = _operation("flags", "POST", "/flags")
    # Then the seed's statuses are there, and the body is the request model
    assert {"201", "400", "401", "403", "409"} <= set(operation["responses"])
    assert operation["security"] == [{"apiKey": []}]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/CreateFlagRequest"}


def test_description__seed_create_key__master_key_201_400_401_403_422() -> None:
    # Given / When
    operation = _operation("auth", "POST", "/admin/keys")
    # Then a missing or bad key is 401, as everywhere; a key without `admin` 403; an
    # unknown field 422
    assert {"201", "400", "401", "403", "422"} <= set(operation["responses"])
    assert operation["security"] == [{"masterKey": []}]
    schema = document(router_of("auth"))["components"]["schemas"]["CreateKeyRequest"]
    assert schema["additionalProperties"] is False


def test_description__seed_evaluate__query_parameters_and_free_form_attributes() -> None:
    # Given / When
    operation = _operation("evaluation", "GET", "/evaluate")
    parameters = {parameter["name"]: parameter for parameter in operation["parameters"]}
    # Then user_id and flag_name are required, environment optional, the rest attributes
    assert parameters["user_id"]["required"] is True
    assert parameters["flag_name"]["required"] is True
    assert parameters["environment"]["required"] is False
    assert parameters["attributes"]["style"] == "form"
    assert parameters["attributes"]["explode"] is True
    assert "200" in operation["responses"]


def test_description__path_parameters__braces_and_integer_key_id() -> None:
    # Given / When
    described = document(router_of("auth"))
    operation = described["paths"]["/admin/keys/{key_id}"]["get"]
    # Then `<int:key_id>` became an integer path parameter
    assert operation["parameters"][0] == {
        "name": "key_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
    }


def test_description__analytics_delivery__binary_and_structured_cloud_events() -> None:
    # Given / When
    operation = _operation("analytics", "POST", "/")
    # Then both CloudEvent modes are described, with the binary mode's headers
    content = operation["requestBody"]["content"]
    assert set(content) == {"application/json", "application/cloudevents+json"}
    headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
    assert headers == {"ce-specversion", "ce-id", "ce-source", "ce-type"}
    assert operation["security"] == []


def test_description__delete__204_without_body() -> None:
    # Given / When
    response = _operation("flags", "DELETE", "/flags/{name}")["responses"]["204"]
    # Then
    assert "content" not in response


def test_render__committed_form__indented_json_with_trailing_newline() -> None:
    # Given / When
    text = next(iter(expected().values()))
    # Then
    assert text.endswith("}\n")
    assert json.loads(text)["openapi"] == "3.1.0"
