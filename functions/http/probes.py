"""What the platform asks of every function, added to each router the same way:
`GET /health` (the process answers), `GET /ready` (its dependencies do) and `GET /metrics`
(Prometheus text, every worker's numbers added up: `functions.core.metrics`).

`/metrics` takes no key, as `/health` does: it is scraped from inside the cluster, and it
holds counts by route pattern, status and reason, never a path's values, a key or a
user id."""

from __future__ import annotations

from collections.abc import Callable

from functions.core import metrics
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

    @router.route(
        "/metrics",
        "GET",
        summary="Metrics, every worker process's added up (Prometheus text format)",
        responses={200: str},
        response_media=("text/plain",),
    )
    def scrape(request: Request) -> Response:
        body, content_type = metrics.render()
        return Response(body, 200, None, content_type)
