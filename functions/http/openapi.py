"""Each function's OpenAPI 3.1 description, generated from its routes and the models they
name, served at `GET /openapi.json` and committed in `functions/contracts/openapi/`
(`make openapi`; a test fails when the two differ). Beside it, for people: `GET /` (what
the function is and every operation it serves) and `GET /docs` (Swagger UI on it).

Request bodies are described as pydantic validates them, response bodies as it
serializes them; both share `components/schemas`, named after the models.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode

from functions.core.errors import NotFound
from functions.core.models.discovery import FunctionIndex, OperationSummary
from functions.core.models.errors import ErrorBody, InternalErrorBody
from functions.http import docs
from functions.http.messages import Request, Response
from functions.http.operations import JSON, Access, Operation, Parameter
from functions.http.responses import json_response
from functions.http.router import CORRELATION_HEADER, Router

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1"
PATH = "/openapi.json"
REF_TEMPLATE = "#/components/schemas/{model}"

_RULE_PART = re.compile(r"<(?:(?P<converter>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")
_CONVERTED: dict[str, dict[str, Any]] = {
    "int": {"type": "integer", "minimum": 0},
    "default": {"type": "string", "minLength": 1, "pattern": "^[^/]+$"},
}
_SECURITY_SCHEMES = {
    Access.KEY: (
        "apiKey",
        "an API key (`tm_key_...`, from `POST /admin/keys`) holding the scope the"
        " operation needs; a key bound to an environment acts only there",
    ),
    Access.MASTER: ("masterKey", "the MASTER_KEY, or an API key with the `admin` scope"),
}


def add_openapi(router: Router) -> None:
    """`GET /openapi.json`, without a key: the description of the function `router` serves,
    built on the first request (every route is registered by then) and kept."""

    @functools.cache
    def served() -> bytes:
        return json.dumps(document(router), separators=(",", ":")).encode()

    @router.route(
        PATH,
        "GET",
        summary="This function's OpenAPI 3.1 description",
        responses={200: dict[str, Any]},
    )
    def openapi(request: Request) -> Response:
        return Response(served(), media_type=JSON)

    @router.route("/", "GET", summary="What this function serves", responses={200: FunctionIndex})
    def index(request: Request) -> Response:
        return json_response(function_index(router))

    @router.route(
        docs.PATH,
        "GET",
        summary="The interactive API page",
        responses={200: str},
        response_media=("text/html",),
    )
    def docs_page(request: Request) -> Response:
        title = f"ToggleMaster {router.name}".strip()
        return Response(docs.page(request.path, title=title).encode(), media_type="text/html")

    @router.route(
        docs.PATH + "/<name>",
        "GET",
        summary="A file of the interactive API page",
        responses={200: bytes},
        response_media=tuple(sorted(set(docs.FILES.values()))),
        errors=[404],
    )
    def docs_file(request: Request, name: str) -> Response:
        found = docs.file(name)
        if found is None:
            raise NotFound(f"no file {name!r} here: the page uses {', '.join(docs.FILES)}")
        content, media_type = found
        return Response(content, headers={"Cache-Control": "max-age=3600"}, media_type=media_type)


def function_index(router: Router) -> FunctionIndex:
    """`GET /`: the function, the first line of its description, every operation."""
    description = (router.description or "").strip()
    return FunctionIndex(
        function=router.name,
        description=" ".join(description.split("\n\n")[0].split()),
        operations=[
            OperationSummary(
                method=operation.method,
                path=openapi_path(operation.path)[0],
                summary=operation.summary,
            )
            for operation in router.operations
        ],
    )


def render(router: Router) -> str:
    """The committed form: stable, indented, one trailing newline."""
    return json.dumps(document(router), indent=2, ensure_ascii=False) + "\n"


def document(router: Router) -> dict[str, Any]:
    schemas = _Schemas()
    for operation in router.operations:
        for body_type in operation.body.values():
            schemas.want(body_type, "validation")
        for body_type in operation.statuses().values():
            if body_type is not None:
                schemas.want(body_type, "serialization")
    schemas.generate()
    paths: dict[str, dict[str, Any]] = {}
    errors: dict[str, Any] = {}
    for operation in router.operations:
        path, path_parameters = openapi_path(operation.path)
        paths.setdefault(path, {})[operation.method.lower()] = _operation(
            operation, path_parameters, schemas, errors
        )
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": f"ToggleMaster {router.name}".strip(),
            "version": API_VERSION,
            **({"description": router.description.strip()} if router.description else {}),
        },
        "paths": paths,
        "components": {
            "schemas": schemas.definitions,
            "responses": dict(sorted(errors.items())),
            "headers": {
                "RequestId": {
                    "description": "the request's correlation id (sent, or made up)",
                    "schema": {"type": "string"},
                },
                "ETag": {
                    "description": "the resource's version as this answer shows it (for a"
                    " flag or a rule: in its environment); it changes exactly when the answer"
                    " does. Send it in `If-Match` when changing or deleting the resource: if"
                    " someone changed it since, the write is refused with 412 and nothing is"
                    " written",
                    "schema": {"type": "string"},
                },
            },
            "securitySchemes": {
                name: {"type": "http", "scheme": "bearer", "description": text}
                for name, text in _SECURITY_SCHEMES.values()
            },
        },
    }


class _Schemas:
    """Every body type, generated at once so that shared models become one component."""

    def __init__(self) -> None:
        self._wanted: dict[tuple[Any, JsonSchemaMode], None] = {}
        self._generated: dict[tuple[Any, JsonSchemaMode], dict[str, Any]] = {}
        self.definitions: dict[str, Any] = {}

    def want(self, body_type: Any, mode: JsonSchemaMode) -> None:
        self._wanted[(body_type, mode)] = None

    def generate(self) -> None:
        inputs = [(key, key[1], TypeAdapter(key[0]).core_schema) for key in self._wanted]
        generator = GenerateJsonSchema(ref_template=REF_TEMPLATE)
        generated, definitions = generator.generate_definitions(inputs)
        self._generated = {key: schema for (key, _), schema in generated.items()}
        self.definitions = dict(sorted(definitions.items()))

    def of(self, body_type: Any, mode: JsonSchemaMode) -> dict[str, Any]:
        return self._generated[(body_type, mode)]


def openapi_path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    """`/admin/keys/<int:key_id>` → `/admin/keys/{key_id}` and its path parameter."""
    parameters = [
        {
            "name": match["name"],
            "in": "path",
            "required": True,
            "schema": _CONVERTED.get(match["converter"] or "default", _CONVERTED["default"]),
        }
        for match in _RULE_PART.finditer(rule)
    ]
    return _RULE_PART.sub(lambda match: "{" + match["name"] + "}", rule), parameters


def _operation(
    operation: Operation,
    path_parameters: list[dict[str, Any]],
    schemas: _Schemas,
    errors: dict[str, Any],
) -> dict[str, Any]:
    described: dict[str, Any] = {"operationId": operation.operation_id}
    if operation.summary:
        described["summary"] = operation.summary
    if operation.description:
        described["description"] = operation.description
    parameters = path_parameters + [_parameter(p) for p in operation.parameters]
    if parameters:
        described["parameters"] = parameters
    if operation.body:
        described["requestBody"] = {
            "required": operation.body_required,
            "content": {
                media: {"schema": schemas.of(body_type, "validation")}
                for media, body_type in operation.body.items()
            },
        }
    responses: dict[str, Any] = {}
    for status, body_type in operation.statuses().items():
        described_response = _response(status, body_type, operation.response_media, schemas)
        if operation.versioned and status < 300:
            described_response["headers"]["ETag"] = {"$ref": "#/components/headers/ETag"}
        if body_type in (ErrorBody, InternalErrorBody):
            # The same few error answers on every operation: described once, referred to.
            name = HTTPStatus(status).name.title().replace("_", "")
            errors[name] = described_response
            described_response = {"$ref": f"#/components/responses/{name}"}
        responses[str(status)] = described_response
    described["responses"] = responses
    scheme = _SECURITY_SCHEMES.get(operation.access)
    described["security"] = [{scheme[0]: []}] if scheme else []
    return described


def _parameter(parameter: Parameter) -> dict[str, Any]:
    described: dict[str, Any] = {
        "name": parameter.name,
        "in": parameter.location,
        "description": parameter.description,
        "required": parameter.required,
    }
    if parameter.free_form:
        described.update(
            style="form",
            explode=True,
            schema={"type": "object", "additionalProperties": {"type": "string"}},
        )
    elif parameter.repeatable:
        described.update(
            style="form", explode=True, schema={"type": "array", "items": dict(parameter.schema)}
        )
    else:
        described["schema"] = dict(parameter.schema)
    return described


def _response(
    status: int, body_type: Any, media_types: Iterable[str], schemas: _Schemas
) -> dict[str, Any]:
    described: dict[str, Any] = {
        "description": HTTPStatus(status).phrase,
        "headers": {CORRELATION_HEADER: {"$ref": "#/components/headers/RequestId"}},
    }
    if body_type is not None:
        schema = schemas.of(body_type, "serialization")
        # Errors are always JSON, whatever the operation answers when it succeeds.
        media = media_types if status < 400 else ("application/json",)
        described["content"] = {m: {"schema": schema} for m in media}
    return described
