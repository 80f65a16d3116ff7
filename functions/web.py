"""What every HTTP function shares: routing, JSON bodies, the bearer key, and the
one place where errors become JSON responses.

This is the only module besides the function modules that knows about Flask.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import flask
import yaml
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import MethodNotAllowed as WerkzeugMethodNotAllowed
from werkzeug.exceptions import NotFound as WerkzeugNotFound
from werkzeug.routing import Map, Rule

from functions.core.auth_client import AuthClient, Caller
from functions.core.documents import check_query, json_path, parse_json, parse_yaml
from functions.core.environments import ENVIRONMENT_PARAMETER, resolve_environment
from functions.core.errors import (
    BadRequest,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    ToggleMasterError,
)
from functions.core.logs import correlation_id
from functions.core.readiness import Check, report

MAX_BODY_BYTES = 256 * 1024
CORRELATION_HEADER = "X-Request-Id"

Model = TypeVar("Model", bound=BaseModel)
Handler = Callable[..., flask.Response]

log = logging.getLogger("togglemaster.http")


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> flask.Response:
    if isinstance(body, BaseModel):
        body = body.model_dump(mode="json")
    payload = json.dumps(body, separators=(",", ":"), default=str)
    return flask.Response(payload, status=status, headers=headers, mimetype="application/json")


def no_content() -> flask.Response:
    return flask.Response(status=204)


def error_response(error: ToggleMasterError) -> flask.Response:
    return json_response(error.to_body(), status=error.status)


def bearer_token(request: flask.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def read_limited(request: flask.Request, limit: int = MAX_BODY_BYTES) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"the body is larger than {limit} bytes")
    raw = request.get_data(cache=True)
    if len(raw) > limit:
        raise PayloadTooLarge(f"the body is larger than {limit} bytes")
    return raw


YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")


def read_document(request: flask.Request, *, limit: int) -> Any:
    """A JSON or YAML body (by Content-Type), parsed but not yet validated."""
    raw = read_limited(request, limit)
    if not raw.strip():
        raise BadRequest("a body is required")
    return parse_yaml(raw) if request.mimetype in YAML_TYPES else parse_json(raw)


def wants_yaml(request: flask.Request) -> bool:
    best = request.accept_mimetypes.best_match(["application/json", *YAML_TYPES])
    return best in YAML_TYPES


def yaml_response(body: Any, status: int = 200) -> flask.Response:
    text = yaml.safe_dump(body, sort_keys=False, allow_unicode=True)
    return flask.Response(text, status=status, mimetype="application/yaml")


def flag_query(request: flask.Request, name: str) -> bool:
    """A boolean query parameter: `true`/`false` (also 1/0, yes/no), absent = false."""
    value = request.args.get(name)
    if value is None:
        return False
    lowered = value.lower()
    if lowered in ("true", "1", "yes", ""):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise BadRequest(f"query parameter '{name}' must be true or false", parameter=name)


def int_query(
    request: flask.Request, name: str, *, default: int | None, low: int, high: int
) -> int | None:
    """An integer query parameter within bounds; absent → `default`, anything else → 400."""
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or len(raw) > 19 or not low <= int(raw) <= high:
        raise BadRequest(
            f"query parameter '{name}' must be an integer from {low} to {high}", parameter=name
        )
    return int(raw)


def read_json(request: flask.Request, model: type[Model]) -> Model:
    """Parse the body into `model`; every way it can be wrong is a 400 naming the field."""
    raw = read_limited(request)
    if not raw.strip():
        raise BadRequest("a JSON body is required")
    document = parse_json(raw)
    if not isinstance(document, dict):
        raise BadRequest("the body must be a JSON object")
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise BadRequest(
            "invalid request body: " + "; ".join(_describe(e) for e in exc.errors()),
            fields=[_field(e) for e in exc.errors()],
        ) from None


def _field(error: Any) -> dict[str, str]:
    problem = "is required" if error["type"] == "missing" else error["msg"]
    return {"path": json_path(error["loc"]), "problem": problem}


def _describe(error: Any) -> str:
    field = _field(error)
    return f"{field['path'].removeprefix('$.')} {field['problem']}"


class Router:
    """Maps method and path to a handler; the function's target calls `dispatch`."""

    def __init__(self) -> None:
        self._map = Map(strict_slashes=False, merge_slashes=False)
        self._handlers: dict[str, Handler] = {}

    def route(self, path: str, *methods: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            endpoint = f"{handler.__name__}:{path}"
            self._map.add(Rule(path, endpoint=endpoint, methods=list(methods)))
            self._handlers[endpoint] = handler
            return handler

        return register

    def dispatch(self, request: flask.Request) -> flask.Response:
        request_id = request.headers.get(CORRELATION_HEADER) or str(uuid.uuid4())
        token = correlation_id.set(request_id[:64])
        try:
            response = self._call(request)
        finally:
            correlation_id.reset(token)
        response.headers[CORRELATION_HEADER] = request_id[:64]
        return response

    def _call(self, request: flask.Request) -> flask.Response:
        adapter = self._map.bind("localhost", path_info=request.path, url_scheme="http")
        try:
            check_query(
                [request.path, *(p for pair in request.args.items(multi=True) for p in pair)]
            )
            endpoint, arguments = adapter.match(method=request.method)
            return self._handlers[endpoint](request, **arguments)
        except WerkzeugNotFound:
            return error_response(NotFound(f"no route for {request.method} {request.path}"))
        except WerkzeugMethodNotAllowed as exc:
            allowed = ", ".join(sorted(exc.valid_methods or []))
            response = error_response(
                MethodNotAllowed(
                    f"{request.method} is not allowed on {request.path}", allowed=allowed
                )
            )
            response.headers["Allow"] = allowed
            return response
        except ToggleMasterError as exc:
            if exc.status >= 500:
                log.warning("request failed", extra={"code": exc.code, "error": exc.message})
            return error_response(exc)
        except Exception:
            log.exception(
                "unexpected error", extra={"path": request.path, "method": request.method}
            )
            return json_response(
                {
                    "error": "internal error",
                    "code": "internal_error",
                    "correlation_id": correlation_id.get(),
                },
                status=500,
            )


def add_probes(router: Router, checks: Callable[[], dict[str, Check]]) -> None:
    """`GET /health` (the process answers) and `GET /ready` (its dependencies do)."""

    @router.route("/health", "GET")
    def health(request: flask.Request) -> flask.Response:
        return json_response({"status": "ok"})

    @router.route("/ready", "GET")
    def ready(request: flask.Request) -> flask.Response:
        ok, body = report(checks())
        return json_response(body, status=200 if ok else 503)


def authenticate(request: flask.Request, client: AuthClient, *, scope: str) -> Caller:
    """The caller behind the bearer key (or 401), holding `scope` (or 403)."""
    caller = client.validate(bearer_token(request))
    caller.require(scope)
    return caller


def acting_environment(request: flask.Request, caller: Caller, *, default: str) -> str:
    """The environment this request acts on (`?environment=`, the key's, or the default)."""
    return resolve_environment(caller, request.args.get(ENVIRONMENT_PARAMETER), default=default)
