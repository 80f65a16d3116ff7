"""Reading a request: its body (parsed safely, validated into a model), its query
parameters, and its bearer key. Every way a request can be wrong is a 4xx naming the
field or parameter at fault. The body's size was checked before it was read (see
`functions.http.limits`)."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from functions.core.errors import (
    BadRequest,
    InvalidValue,
    PayloadTooLarge,
    UnknownField,
    UnknownParameter,
    Unprocessable,
)
from functions.core.models.problems import Problem, accepted_fields, problems
from functions.core.parsing import parse_json, parse_yaml
from functions.core.services.preconditions import IfMatch
from functions.http.limits import MAX_BODY_BYTES
from functions.http.messages import QueryArgs, Request

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")

Model = TypeVar("Model", bound=BaseModel)


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def if_match(request: Request) -> IfMatch | None:
    """The versions `If-Match` names (`"v1", "v2"`, or `*` for any); None without one.
    A weak tag (`W/"v"`) never matches, as HTTP's strong comparison says; a tag sent
    without its quotes is taken as it is."""
    header = request.headers.get("if-match")
    if header is None:
        return None
    tags = [tag.strip() for tag in header.split(",") if tag.strip()]
    if not tags:
        raise InvalidValue(
            'header If-Match must name an ETag (as the GET answered it, e.g. "3f2a...") or *',
            parameter="If-Match",
        )
    if "*" in tags:
        return IfMatch(any=True)
    versions = frozenset(tag.strip('"') for tag in tags if not tag.startswith("W/"))
    return IfMatch(versions=versions)


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
    """Parse the body into `model`. An unknown field is a 422 naming it and the accepted
    ones; any other way it can be wrong is a 400 naming the field. `optional`: an empty
    body is the model's defaults."""
    raw = read_limited(request)
    if not raw.strip():
        if optional:
            return model.model_validate({})
        required = ", ".join(f'"{name}": ...' for name in _required(model))
        raise BadRequest(
            f"a JSON body is required: send an object such as {{{required}}}",
            accepted=list(accepted_fields(model)),
        )
    document = parse_json(raw)
    if not isinstance(document, dict):
        raise BadRequest(
            f"the body must be a JSON object, not {_json_kind(document)}",
            accepted=list(accepted_fields(model)),
        )
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise validation_refusal(problems(exc, model)) from None


def validation_refusal(found: list[Problem]) -> BadRequest | Unprocessable:
    """The one error for a body's problems: 422 when a field is unknown (with the fields
    accepted) or has a wrong value, 400 when required fields are only missing (the seed's
    contract); `field` is the first at fault (an unknown one first), `fields` lists them
    all."""
    found = sorted(found, key=lambda problem: not problem.unknown)
    message = "; ".join(problem.message for problem in found)
    fields = [{"path": problem.path, "problem": problem.message} for problem in found]
    unknown = next((problem for problem in found if problem.unknown), None)
    if unknown is not None:
        return UnknownField(
            message, field=unknown.field, accepted=list(unknown.accepted or ()), fields=fields
        )
    if all(problem.missing for problem in found):
        return BadRequest(message, field=found[0].field, fields=fields)
    wrong = next(problem for problem in found if not problem.missing)
    return InvalidValue(message, field=wrong.field, fields=fields)


def _required(model: type[Model]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items() if info.is_required()]


def _json_kind(document: object) -> str:
    if isinstance(document, list):
        return "a list"
    if isinstance(document, str):
        return "a string"
    if isinstance(document, bool):
        return "a boolean"
    if isinstance(document, int | float):
        return "a number"
    return "null"


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
    raise InvalidValue(
        f"query parameter '{name}' must be true or false, not '{value}'", parameter=name
    )


def int_query(
    request: Request, name: str, *, default: int | None, low: int, high: int
) -> int | None:
    """An integer query parameter within bounds; absent → `default`, anything else → 422."""
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or len(raw) > 19 or not low <= int(raw) <= high:
        raise InvalidValue(
            f"query parameter '{name}' must be a whole number from {low} to {high}",
            parameter=name,
        )
    return int(raw)


def text_query(args: QueryArgs, name: str, *, limit: int) -> str:
    """A required, non-empty query parameter of at most `limit` characters."""
    value = args.get(name)
    if not value:
        raise BadRequest(f"query parameter '{name}' is required", parameter=name)
    if len(value) > limit:
        raise InvalidValue(
            f"query parameter '{name}' is longer than {limit} characters", parameter=name
        )
    return value


def refuse_unknown_parameters(request: Request, accepted: frozenset[str]) -> None:
    """422 for a query parameter outside `accepted`: a misspelt `?enviroment=` would
    otherwise act on the default environment, silently."""
    for name in request.args:
        if name not in accepted:
            listed = ", ".join(sorted(accepted))
            raise UnknownParameter(
                f"unknown query parameter '{name}'; "
                + (f"accepted parameters: {listed}" if accepted else "this endpoint takes none"),
                parameter=name,
                accepted=sorted(accepted),
            )


def refuse_repeated_parameters(request: Request, repeatable: frozenset[str]) -> None:
    """422 for a query parameter given twice that is not `repeatable`:
    `?environment=production&environment=staging` names two, and acting on either would
    be a guess."""
    for name in request.args.repeated():
        if name not in repeatable:
            raise InvalidValue(
                f"query parameter '{name}' is given more than once; it takes one value",
                parameter=name,
            )
