"""What a route declares about itself besides its handler: the bodies it reads and
answers, its parameters, the key it takes and the errors it can answer. The router
keeps them; `functions.http.openapi` turns them into the function's description."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from functions.core.models.errors import ErrorBody, InternalErrorBody
from functions.http.messages import Response

Handler = Callable[..., Response]
"""A route: `handler(request, **path_arguments) -> Response`."""

JSON = "application/json"


class Access(enum.Enum):
    """Which key a route takes in `Authorization: Bearer`."""

    NONE = "none"
    KEY = "key"
    """An API key (`tm_key_...`) holding the route's scope."""
    MASTER = "master"
    """The master key, or an API key with the `admin` scope."""


@dataclass(frozen=True, slots=True)
class Parameter:
    """A query parameter or request header. `free_form`: any further query parameters,
    gathered under `name` as a string-valued object (OpenAPI's form style, exploded);
    `repeatable`: a list of values of `schema`, the name repeated."""

    name: str
    description: str
    location: Literal["query", "header"] = "query"
    required: bool = False
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "string"})
    free_form: bool = False
    repeatable: bool = False
    """May be given more than once (`?tag=a&tag=b`), every value kept; any other query
    parameter given twice is refused (422) rather than one of its values picked."""


IF_MATCH = Parameter(
    "If-Match",
    "the ETag of the resource as it was read: the write is made only if it still has that"
    " version, else 412 and nothing is written (`*`: any version). Without it, the write"
    " is made whatever changed since",
    location="header",
)


def strict_parameters(
    access: Access, parameters: Sequence[Parameter], responses: Mapping[int, Any] | None
) -> frozenset[str] | None:
    """The query parameters a route refuses anything beyond (422), or None when the
    router checks none: the routes whose query it checks (`_router_checks_query`) take
    exactly those they declare, unless one gathers the rest (`free_form`: `GET
    /evaluate`'s attributes)."""
    if not _router_checks_query(access, responses) or any(p.free_form for p in parameters):
        return None
    return frozenset(p.name for p in parameters if p.location == "query")


def refuses_repeats(access: Access, responses: Mapping[int, Any] | None) -> bool:
    """Whether a route refuses a query parameter given twice (422) unless it is
    `repeatable`: every route whose query the router checks, those taking any parameter
    included."""
    return _router_checks_query(access, responses)


def _router_checks_query(access: Access, responses: Mapping[int, Any] | None) -> bool:
    """The API's routes (those behind a key), but those answering their protocol's own
    400 (OFREP, which checks its parameters itself). Open routes (probes, descriptions)
    are what probes and browsers call with whatever they append."""
    return access is not Access.NONE and 400 not in (responses or {})


@dataclass(frozen=True, slots=True)
class Operation:
    """One method on one path. Bodies are types (a model, `list[Model]`, a union) by media
    type; a response of `None` has no body."""

    method: str
    path: str
    handler: Handler
    summary: str
    body: Mapping[str, Any]
    body_required: bool
    responses: Mapping[int, Any]
    response_media: tuple[str, ...]
    errors: frozenset[int]
    parameters: tuple[Parameter, ...]
    access: Access
    versioned: bool = False
    """Its successful answers carry the resource's `ETag` (see `IF_MATCH`)."""

    @property
    def description(self) -> str | None:
        doc = self.handler.__doc__
        return " ".join(doc.split()) if doc else None

    @property
    def operation_id(self) -> str:
        return self.handler.__name__

    def statuses(self) -> dict[int, Any]:
        """Every status it answers with its body type: its own, then the errors every
        request can meet (a bad query, a bug) and those its body and key bring."""
        errors = {400, 500, *self.errors}
        if self.body:
            errors.add(413)
        strict = strict_parameters(self.access, self.parameters, self.responses) is not None
        takes_input = bool(self.body or self.parameters) and 400 not in self.responses
        if strict or takes_input:
            errors.add(422)  # an unknown body field or query parameter, or a wrong value
        if IF_MATCH in self.parameters:
            errors.add(412)  # changed since it was read
        if self.access is not Access.NONE:
            errors |= {401, 403, 503}  # no key or a bad one; a good one without the right
            errors.add(429)  # a client that failed to authenticate too often (http.throttle)
        answers: dict[int, Any] = dict(self.responses)
        for status in errors - answers.keys():
            answers[status] = InternalErrorBody if status == 500 else ErrorBody
        return dict(sorted(answers.items()))
