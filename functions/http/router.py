"""Routing: method and path to a handler, a correlation id on every request, and the one
place where an exception becomes an error response (500s included)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

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
from functions.http.responses import error_response

CORRELATION_HEADER = "X-Request-Id"

Handler = Callable[..., flask.Response]

log = logging.getLogger("togglemaster.http")


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
            return error_response(
                InternalError("internal error", correlation_id=correlation_id.get())
            )
