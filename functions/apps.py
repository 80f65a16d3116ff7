"""The app `togglemaster-serve` runs for FUNCTION_TARGET, with the body-limit middleware of
its protocol in front (the limits its router declares).

functions-framework stays the function API: `functions_framework.create_app` loads
FUNCTION_SOURCE (default: `functions/main.py`) and answers a Flask app for a
`@functions_framework.http` target, a Starlette app for a `@functions_framework.aio.http`
one; the protocol follows. `wsgi` and `asgi` are the same as granian factories
(`granian --interface wsgi --factory functions.apps:wsgi`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import flask
import functions_framework

from functions.http import wsgi as wsgi_adapter
from functions.http.limits import BodyLimitOf, default_limit
from functions.http.router import Router
from functions.http.startup import install_exit_hooks

Interface = Literal["wsgi", "asgi"]

MAIN = Path(__file__).resolve().with_name("main.py")


def build() -> tuple[Interface, Any]:
    """The protocol FUNCTION_TARGET speaks and its app, ready to serve."""
    target = os.environ.get("FUNCTION_TARGET", "")
    if not target:
        raise SystemExit("togglemaster: FUNCTION_TARGET is required (the function to serve)")
    source = os.environ.get("FUNCTION_SOURCE") or str(MAIN)
    app = functions_framework.create_app(target, source)  # type: ignore[no-untyped-call]
    limit = _body_limit(target)
    if isinstance(app, flask.Flask):
        return "wsgi", wsgi_adapter.BodyLimit(app, limit)
    from functions.http import asgi as asgi_adapter  # Starlette: only for an ASGI target

    _route_everything_to_the_target(app)
    return "asgi", asgi_adapter.BodyLimit(app, limit)


def start_main_process_work() -> Callable[[], None] | None:
    """What the target's module runs in the server's main process before the fork
    (evaluation: the event relay), if anything; what stops it when the server is done."""
    module = sys.modules.get(f"functions.{os.environ.get('FUNCTION_TARGET', '')}")
    start = getattr(module, "relay_events", None)
    if start is None:
        return None
    return start().close  # type: ignore[no-any-return]


def worker_started() -> None:
    """What each worker process does before serving: run the shutdown hooks when it exits."""
    install_exit_hooks()


def wsgi() -> Any:
    return _factory("wsgi")


def asgi() -> Any:
    return _factory("asgi")


def _factory(interface: Interface) -> Any:
    served, app = build()
    if served != interface:
        raise SystemExit(
            f"togglemaster: {os.environ['FUNCTION_TARGET']} is served over {served.upper()}"
        )
    worker_started()
    return app


def _body_limit(target: str) -> BodyLimitOf:
    """The router's per-route limits when the target is one of ours (`functions/main.py`
    imported `functions.<target>`); the default limit for any other source."""
    router = getattr(sys.modules.get(f"functions.{target}"), "router", None)
    if isinstance(router, Router):
        return router.body_limit
    return default_limit


def _route_everything_to_the_target(app: Any) -> None:
    """The framework's Starlette routes refuse a few paths before the function sees them
    (a newline in the path, `/robots.txt`, `/favicon.ico`, a method they do not list)
    with a plain-text page, and try every route's pattern on every request: hand every
    request to the target at once, so that its router answers in JSON like any other
    path. The ASGI twin of `functions.main`'s `_route_everything_to`."""
    from starlette.routing import Route, request_response

    endpoint = next(
        route.endpoint
        for route in app.router.routes
        if isinstance(route, Route) and route.path == "/"
    )
    app.router.routes = []
    app.router.default = request_response(endpoint)
