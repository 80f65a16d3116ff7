"""Routing: method and path to a handler, a correlation id on every request, and the one
place where an exception becomes an error response (500s included)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import flask
from werkzeug.exceptions import MethodNotAllowed as WerkzeugMethodNotAllowed
from werkzeug.exceptions import NotFound as WerkzeugNotFound
from werkzeug.routing import Map, Rule

from functions.core.errors import (
    InternalError,
    MethodNotAllowed,
    NotFound,
    ToggleMasterError,
)
from functions.core.logs import correlation_id
from functions.core.parsing import check_query
from functions.http.operations import JSON, Access, Handler, Operation, Parameter
from functions.http.responses import error_response

CORRELATION_HEADER = "X-Request-Id"

log = logging.getLogger("togglemaster.http")


class Router:
    """Maps method and path to a handler; the function's target calls `dispatch`.

    Each route also says what it reads and answers (see `Operation`), which is all
    `functions.http.openapi` needs to describe the function.
    """

    def __init__(self, name: str = "", description: str | None = None) -> None:
        self.name = name
        self.description = description
        self._map = Map(strict_slashes=False, merge_slashes=False)
        self._handlers: dict[str, Handler] = {}
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
        responses: Mapping[int, Any] | None = None,
        response_media: Sequence[str] = (JSON,),
        errors: Iterable[int] = (),
        parameters: Sequence[Parameter] = (),
        access: Access = Access.NONE,
    ) -> Callable[[Handler], Handler]:
        """`body`: the request body's type (or a mapping of media type to type);
        `responses`: status to body type, `None` for no body; `errors`: the statuses
        beyond those every route of its kind answers (see `Operation.statuses`)."""
        bodies: Mapping[str, Any] = (
            {}
            if body is None
            else body
            if isinstance(body, Mapping)
            else dict.fromkeys(body_media, body)
        )

        def register(handler: Handler) -> Handler:
            endpoint = f"{handler.__name__}:{path}"
            self._map.add(Rule(path, endpoint=endpoint, methods=list(methods)))
            self._handlers[endpoint] = handler
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
                )
                for method in methods
            )
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
            return error_response(
                InternalError("internal error", correlation_id=correlation_id.get())
            )
