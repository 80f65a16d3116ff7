"""`GET /health` (the process answers) and `GET /ready` (its dependencies do), added to
every function's router the same way."""

from __future__ import annotations

from collections.abc import Callable

import flask

from functions.core.adapters.readiness import Check, report
from functions.http.responses import json_response
from functions.http.router import Router


def add_probes(router: Router, checks: Callable[[], dict[str, Check]]) -> None:
    @router.route("/health", "GET")
    def health(request: flask.Request) -> flask.Response:
        return json_response({"status": "ok"})

    @router.route("/ready", "GET")
    def ready(request: flask.Request) -> flask.Response:
        ok, body = report(checks())
        return json_response(body, status=200 if ok else 503)
