"""`GET /health` (the process answers) and `GET /ready` (its dependencies do), added to
every function's router the same way."""

from __future__ import annotations

from collections.abc import Callable

from functions.core.adapters.readiness import Check, report
from functions.core.models.probes import Health, Readiness
from functions.http.messages import Request, Response
from functions.http.responses import json_response
from functions.http.router import Router


def add_probes(router: Router, checks: Callable[[], dict[str, Check]]) -> None:
    @router.route("/health", "GET", summary="The process answers", responses={200: Health})
    def health(request: Request) -> Response:
        return json_response(Health())

    @router.route(
        "/ready",
        "GET",
        summary="Every dependency answers",
        responses={200: Readiness, 503: Readiness},
    )
    def ready(request: Request) -> Response:
        """503 names each failed dependency and what to fix (a variable, `make migrate`)."""
        readiness = report(checks())
        return json_response(readiness, status=200 if readiness.status == "ready" else 503)
