"""Routing: method and path to a handler, a correlation id on every request, the body
limit of each route, the one place where an exception becomes an error response
(500s included), and the request's log line (`functions.http.request_log`).
Protocol-neutral: the WSGI and ASGI adapters call `Router.handle`."""

from __future__ import annotations

import itertools
import logging
import os
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from werkzeug.exceptions import MethodNotAllowed as WerkzeugMethodNotAllowed
from werkzeug.exceptions import NotFound as WerkzeugNotFound
from werkzeug.routing import Map, PathConverter, Rule

from functions.core import metrics
from functions.core.errors import (
    InternalError,
    MethodNotAllowed,
    NotFound,
    ToggleMasterError,
)
from functions.core.logs import REQUEST_ID_HEADER, correlation_id
from functions.core.parsing import check_query
from functions.http.limits import MAX_BODY_BYTES, body_refusal
from functions.http.messages import Request, Response
from functions.http.operations import (
    JSON,
    Access,
    Handler,
    Operation,
    Parameter,
    refuses_repeats,
    strict_parameters,
)
from functions.http.request_log import RequestLog
from functions.http.requests import refuse_repeated_parameters, refuse_unknown_parameters
from functions.http.responses import error_response

CORRELATION_HEADER = REQUEST_ID_HEADER
EXECUTION_ID_HEADER = "Function-Execution-Id"
"""functions-framework's name for a request's id: the adapters' middlewares set it to
the correlation id, so that the framework's logs and ours agree."""
MAX_REQUEST_ID = 64

log = logging.getLogger("togglemaster.http")


class _RequestIds:
    """Correlation ids for requests that bring none: a random prefix per process and a
    counter, unique across workers and replicas without a uuid4 (and its os.urandom
    call) on every request. A forked worker draws a prefix of its own."""

    def __init__(self) -> None:
        self._reseed()
        os.register_at_fork(after_in_child=self._reseed)

    def _reseed(self) -> None:
        self._prefix = secrets.token_hex(8) + "-"
        self._counter = itertools.count(1)

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter):x}"


_request_ids = _RequestIds()


def request_id(sent: str | None) -> str:
    """The request's correlation id: the one it sent (cut to 64 characters) when it is
    printable ASCII without spaces, or a new one: what it sends ends up in every log line."""
    if sent and sent.isascii() and sent.isprintable() and " " not in sent:
        return sent[:MAX_REQUEST_ID]
    return _request_ids.next()


BodyLimit = int | Callable[[], int]
"""A route's largest body in bytes, or what reads it from the function's settings (an
import's limit is a variable, validated at start-up, read once the settings are)."""


DENIAL_STATUSES = frozenset({401, 403, 429})
_NO_ARGUMENTS: Mapping[str, Any] = {}


def note_denial(error: ToggleMasterError) -> None:
    """Count a refusal of the caller's key (401), rights (403) or rate (429) in
    `togglemaster_auth_denials_total`, by reason: the 401's `reason` (`missing`,
    `unknown`, `revoked`...), `scope` or `environment` for a good key that may not do
    this, `rate_limited`. Any other error is not a denial."""
    if error.status not in DENIAL_STATUSES:
        return
    details = error.details
    reason = details.get("reason")
    if error.status == 429:
        reason = "rate_limited"
    elif not isinstance(reason, str):
        if "missing_scope" in details or "scopes" in details:
            reason = "scope"
        elif "key_environment" in details or "environment" in details:
            reason = "environment"
        else:
            reason = "forbidden"
    metrics.current().deny(reason)


class _Route:
    __slots__ = ("_body_limit", "accepted", "handler", "path", "refuses_repeats", "repeatable")

    def __init__(
        self,
        handler: Handler,
        body_limit: BodyLimit,
        path: str,
        accepted: frozenset[str] | None = None,
        repeatable: frozenset[str] = frozenset(),
        refuses_repeats: bool = False,
    ) -> None:
        self.handler = handler
        self._body_limit = body_limit
        self.path = path
        """The pattern, `/flags/<name>`: what the request log groups answers by."""
        self.accepted = accepted
        """The query parameters it takes; None: any (see `operations.strict_parameters`)."""
        self.repeatable = repeatable
        """Those of them that may be given more than once (`Parameter.repeatable`)."""
        self.refuses_repeats = refuses_repeats
        """Whether any other parameter given twice is refused (`operations.refuses_repeats`:
        every API route, those taking any parameter included)."""

    @property
    def body_limit(self) -> int:
        limit = self._body_limit
        return limit if isinstance(limit, int) else limit()


class _AnyTextPath(PathConverter):
    """Werkzeug's `path`, whose `.` stops at a newline: a flag key holding one (`%0A`)
    would get the router's 404 instead of the route's own answer (OFREP's
    FLAG_NOT_FOUND)."""

    regex = "[^/](?s:.)*?"


class Router:
    """Maps method and path to a handler; the function's target hands its requests to
    `handle` through the adapter of its protocol.

    Each route also says what it reads and answers (see `Operation`), which is all
    `functions.http.openapi` needs to describe the function.

    `summarise_every`: seconds; successful answers are logged as one summary line per
    route and status that often, not one line each (the hot path: see `RequestLog`).
    """

    def __init__(
        self,
        name: str = "",
        description: str | None = None,
        *,
        summarise_every: float | None = None,
    ) -> None:
        self.name = name
        self.description = description
        self.requests = RequestLog(summarise_every)
        self._map = Map(
            strict_slashes=False, merge_slashes=False, converters={"path": _AnyTextPath}
        )
        self._routes: dict[str, _Route] = {}
        self._static: dict[str, dict[str, _Route]] = {}
        """Paths without a variable: method → route, looked up before the URL map."""
        self._operations: list[Operation] = []

    @property
    def operations(self) -> tuple[Operation, ...]:
        return tuple(self._operations)

    def route(
        self,
        path: str,
        *methods: str,
        summary: str = "",
        body: Any = None,
        body_media: Sequence[str] = (JSON,),
        body_required: bool = True,
        body_limit: BodyLimit = MAX_BODY_BYTES,
        responses: Mapping[int, Any] | None = None,
        response_media: Sequence[str] = (JSON,),
        errors: Iterable[int] = (),
        parameters: Sequence[Parameter] = (),
        access: Access = Access.NONE,
        versioned: bool = False,
    ) -> Callable[[Handler], Handler]:
        """`body`: the request body's type (or a mapping of media type to type);
        `body_limit`: the largest body accepted, in bytes, or a function answering it
        (413 above it, before the body is read); `responses`: status to body type,
        `None` for no body; `errors`: the statuses beyond those every route of its kind
        answers (see `Operation.statuses`); `versioned`: its answers carry the
        resource's `ETag`."""
        bodies: Mapping[str, Any] = (
            {}
            if body is None
            else body
            if isinstance(body, Mapping)
            else dict.fromkeys(body_media, body)
        )

        def register(handler: Handler) -> Handler:
            endpoint = f"{handler.__name__}:{path}"
            rule = Rule(path, endpoint=endpoint, methods=list(methods))
            self._map.add(rule)
            accepted = strict_parameters(access, parameters, responses)
            repeatable = frozenset(p.name for p in parameters if p.repeatable)
            route = _Route(
                handler,
                body_limit,
                path,
                accepted,
                repeatable,
                refuses_repeats(access, responses),
            )
            self._routes[endpoint] = route
            if not rule.arguments:
                static = self._static.setdefault(path, {})
                for method in rule.methods or ():
                    static.setdefault(method, route)
            self._operations.extend(
                Operation(
                    method=method,
                    path=path,
                    handler=handler,
                    summary=summary,
                    body=bodies,
                    body_required=body_required,
                    responses=dict(responses or {200: Any}),
                    response_media=tuple(response_media),
                    errors=frozenset(errors),
                    parameters=tuple(parameters),
                    access=access,
                    versioned=versioned,
                )
                for method in methods
            )
            return handler

        return register

    def handle(self, request: Request) -> Response:
        """The response to `request`, never an exception: every error is a JSON body,
        every response carries the request's correlation id, every request is logged."""
        started = time.perf_counter()
        rid = request_id(request.headers.get(CORRELATION_HEADER))
        token = correlation_id.set(rid)
        try:
            response, route = self._call(request)
            self.requests.note(request.method, request.path, route, response.status, started, rid)
        finally:
            correlation_id.reset(token)
        response.headers[CORRELATION_HEADER] = rid
        return response

    def body_limit(self, method: str, path: str) -> int:
        """The largest body the route of `method` and `path` accepts: what the body-limit
        middlewares refuse above, before the framework reads the body."""
        try:
            route, _ = self._match(method, path)
        except (WerkzeugNotFound, WerkzeugMethodNotAllowed):
            return MAX_BODY_BYTES
        return route.body_limit

    def _match(self, method: str, path: str) -> tuple[_Route, Mapping[str, Any]]:
        static = self._static.get(path)
        if static is not None:
            route = static.get(method)
            if route is not None:
                return route, {}
        adapter = self._map.bind("localhost", path_info=path, url_scheme="http")
        endpoint, arguments = adapter.match(method=method)
        return self._routes[endpoint], arguments

    def _call(self, request: Request) -> tuple[Response, str | None]:
        """The response, and the pattern of the route that gave it (None: no route did)."""
        path = request.path
        route: _Route | None = None
        try:
            query = request.query_string
            if "\x00" in path or "%00" in query or "\x00" in query:
                check_query([path, *(p for pair in request.args.items(multi=True) for p in pair)])
            static = self._static.get(path)
            route = None if static is None else static.get(request.method)
            arguments: Mapping[str, Any] = _NO_ARGUMENTS
            if route is None:
                route, arguments = self._match(request.method, path)
            if request.body:
                refusal = body_refusal(len(request.body), route.body_limit)
                if refusal is not None:
                    return refusal, route.path
            if query:
                if route.accepted is not None:
                    refuse_unknown_parameters(request, route.accepted)
                if route.refuses_repeats:
                    refuse_repeated_parameters(request, route.repeatable)
            if arguments:
                return route.handler(request, **arguments), route.path
            return route.handler(request), route.path
        except WerkzeugNotFound:
            return error_response(NotFound(f"no route for {request.method} {path}")), None
        except WerkzeugMethodNotAllowed as exc:
            allowed = ", ".join(sorted(exc.valid_methods or []))
            response = error_response(
                MethodNotAllowed(f"{request.method} is not allowed on {path}", allowed=allowed)
            )
            response.headers["Allow"] = allowed
            return response, None
        except ToggleMasterError as exc:
            note_denial(exc)
            if exc.status >= 500:
                log.warning("request failed", extra={"code": exc.code, "error": exc.message})
            return error_response(exc), None if route is None else route.path
        except Exception:
            log.exception("unexpected error", extra={"path": path, "method": request.method})
            internal = InternalError("internal error", correlation_id=correlation_id.get())
            return error_response(internal), None if route is None else route.path
