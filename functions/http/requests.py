"""Reading a request: its body (parsed safely, validated into a model), its query
parameters, and its bearer key. Every way a request can be wrong is a 4xx naming the
field or parameter at fault. The body's size was checked before it was read (see
`functions.http.limits`)."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from functions.core.errors import BadRequest, PayloadTooLarge
from functions.core.parsing import json_path, parse_json, parse_yaml
from functions.http.limits import MAX_BODY_BYTES
from functions.http.messages import Request

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")

Model = TypeVar("Model", bound=BaseModel)


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization") or ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def api_key(request: Request) -> str | None:
    """The key in `Authorization: Bearer`, else in `X-API-Key` (what OpenFeature
    providers send)."""
    token = bearer_token(request)
    if token is not None:
        return token
    sent = (request.headers.get("x-api-key") or "").strip()
    return sent or None


def read_limited(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body, refused above `limit`: for a route that reads less than its
    `body_limit` in some cases (the router already refused anything above that)."""
    raw = request.body
    if len(raw) > limit:
        raise PayloadTooLarge(f"the body is larger than {limit} bytes")
    return raw


def read_document(request: Request, *, limit: int) -> Any:
    """A JSON or YAML body (by Content-Type), parsed but not yet validated."""
    raw = read_limited(request, limit)
    if not raw.strip():
        raise BadRequest("a body is required")
    return parse_yaml(raw) if request.mimetype in YAML_TYPES else parse_json(raw)


def read_json(request: Request, model: type[Model], *, optional: bool = False) -> Model:
    """Parse the body into `model`; every way it can be wrong is a 400 naming the field.
    `optional`: an empty body is the model's defaults."""
    raw = read_limited(request)
    if not raw.strip():
        if optional:
            return model.model_validate({})
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


def wants_yaml(request: Request) -> bool:
    accept = parse_accept_header(request.headers.get("accept"), MIMEAccept)
    best = accept.best_match(["application/json", *YAML_TYPES])
    return best in YAML_TYPES


def bool_query(request: Request, name: str) -> bool:
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
    request: Request, name: str, *, default: int | None, low: int, high: int
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


def text_query(request: Request, name: str, *, limit: int) -> str:
    """A required, non-empty query parameter of at most `limit` characters."""
    value = request.args.get(name, "")
    if not value:
        raise BadRequest(f"query parameter '{name}' is required", parameter=name)
    if len(value) > limit:
        raise BadRequest(
            f"query parameter '{name}' is longer than {limit} characters", parameter=name
        )
    return value
