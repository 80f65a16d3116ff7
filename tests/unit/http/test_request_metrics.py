"""What the router counts for every request, whatever the protocol: the route's pattern and
the status (never the raw path), the latency, and every refusal of a key by its reason."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from functions.core import metrics
from functions.core.errors import Forbidden, NotFound
from functions.core.keys.access import Caller, refused
from functions.core.models.keys import Refusal
from functions.http.messages import Headers, Request, Response
from functions.http.router import Router

router = Router()


@router.route("/flags/<name>", "GET")
def one_flag(request: Request, name: str) -> Response:
    token = request.headers.get("authorization")
    if token is None:
        raise refused(Refusal.missing())
    if token == "Bearer revoked":
        raise refused(Refusal("revoked", "revoked"))
    if token == "Bearer reader":
        Caller(1, "reader", frozenset({"read"})).require("write")
    if token == "Bearer bound":
        raise Forbidden("bound elsewhere", key_environment="staging")
    raise NotFound(f"flag '{name}' not found")


@pytest.fixture
def fresh() -> Iterator[metrics.Metrics]:
    yield metrics.reset()
    metrics.reset()


def _get(path: str, key: str | None = None) -> Response:
    headers = Headers({} if key is None else {"authorization": f"Bearer {key}"})
    return router.handle(Request("GET", path, headers=headers))


def test_handle__answers__counted_by_route_pattern_and_status_never_the_path(
    fresh: metrics.Metrics,
) -> None:
    # Given requests for a flag whose name is in the path, and for no route at all
    for _ in range(3):
        _get("/flags/secret-project-name", "anything")
    _get("/nothing/here/customer-42")
    # When the worker's tally is flushed and rendered
    text = metrics.render()[0].decode()
    # Then they are counted by the pattern and status, and no path's value appears
    assert (
        'togglemaster_http_requests_total{method="GET",route="/flags/<name>",status="404"} 3.0'
        in (text)
    )
    assert 'route="unmatched",status="404"} 1.0' in text
    assert (
        'togglemaster_http_request_duration_seconds_count{method="GET",route="/flags/<name>"} 3.0'
        in (text)
    )
    assert "secret-project-name" not in text and "customer-42" not in text


def test_handle__refused_keys__denials_counted_by_reason(fresh: metrics.Metrics) -> None:
    # Given requests refused for a missing key, a revoked one, a lacking scope and a
    # key bound to another environment; and one that is not a refusal (404)
    _get("/flags/a")
    _get("/flags/a", "revoked")
    _get("/flags/a", "revoked")
    _get("/flags/a", "reader")
    _get("/flags/a", "bound")
    _get("/flags/a", "good")
    # When counted
    denials = {
        reason: fresh.registry.get_sample_value(
            "togglemaster_auth_denials_total", {"reason": reason}
        )
        for reason in ("missing", "revoked", "scope", "environment", "forbidden")
    }
    # Then each refusal is counted once under its reason, and nothing else is
    assert denials == {
        "missing": 1.0,
        "revoked": 2.0,
        "scope": 1.0,
        "environment": 1.0,
        "forbidden": None,
    }
