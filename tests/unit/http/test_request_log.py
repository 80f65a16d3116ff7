"""The request log: one INFO line per request with method, path, status, duration and the
request id as correlation id, never a key nor the query string; on the hot path,
successful answers summarised per route and status."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from functions.core import metrics
from functions.core.logs import configure_logging
from functions.http.messages import Headers, Request, Response
from functions.http.responses import json_response
from functions.http.router import CORRELATION_HEADER, Router

KEY = "tm_key_" + "s3cret" * 6


def _router(summarise_every: float | None = None) -> Router:
    router = Router("logged", summarise_every=summarise_every)

    @router.route("/things/<name>", "GET")
    def one_thing(request: Request, name: str) -> Response:
        if name == "missing":
            return json_response({"error": "no such thing"}, status=404)
        return json_response({"name": name})

    return router


def _get(router: Router, path: str, **headers: str) -> Response:
    path, _, query = path.partition("?")
    sent = Headers.of({"Authorization": f"Bearer {KEY}", "X-API-Key": KEY, **headers}.items())
    return router.handle(Request("GET", path, query_string=query, headers=sent))


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """The JSON lines the functions' log configuration writes, as a stream to read back."""
    stream = io.StringIO()
    level = logging.getLogger().level
    configure_logging("logged", "INFO")
    handler = next(h for h in logging.getLogger().handlers if getattr(h, "togglemaster", False))
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    yield stream
    logging.getLogger().removeHandler(handler)
    logging.getLogger().setLevel(level)


def _records(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_handle__any_request__one_info_line_with_its_fields_and_no_secret(
    lines: io.StringIO,
) -> None:
    # Given a router, and a request with a key, a query string and a request id
    router = _router()
    # When it is answered
    response = _get(router, "/things/lamp?user_id=ana@example.com", **{"X-Request-Id": "req-7"})
    # Then one INFO line says what was asked and answered, under the request's id
    (line,) = _records(lines)
    assert line["level"] == "INFO"
    assert line["message"] == "GET /things/lamp 200"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/things/lamp", 200)
    assert isinstance(line["duration_ms"], float) and 0 <= line["duration_ms"] < 1000
    assert line["correlation_id"] == "req-7" == response.headers[CORRELATION_HEADER]
    # And neither the key nor the query string's values appear anywhere in it
    text = lines.getvalue()
    assert "s3cret" not in text and "ana@example.com" not in text and "user_id" not in text


def test_handle__no_or_insane_request_id__a_new_one_logged_and_returned(
    lines: io.StringIO,
) -> None:
    # Given a router
    router = _router()
    # When a request sends no id, and another an id with a newline and a space
    plain = _get(router, "/things/a")
    forged = _get(router, "/things/b", **{"X-Request-Id": "x\n{forged} y"})
    # Then each got a minted id, in its answer and in its log line
    first, second = _records(lines)
    assert first["correlation_id"] == plain.headers[CORRELATION_HEADER]
    assert second["correlation_id"] == forged.headers[CORRELATION_HEADER]
    assert "forged" not in forged.headers[CORRELATION_HEADER]
    assert plain.headers[CORRELATION_HEADER] != forged.headers[CORRELATION_HEADER]


def test_handle__summarising_router__errors_at_once_successes_in_one_summary(
    lines: io.StringIO,
) -> None:
    # Given a router that summarises its successful answers
    router = _router(summarise_every=3600)
    # When three requests succeed (the second slowest is unknown) and one is a 404
    for name in ("a", "b", "c"):
        _get(router, f"/things/{name}", **{"X-Request-Id": f"id-{name}"})
    _get(router, "/things/missing", **{"X-Request-Id": "id-404"})
    at_once = _records(lines)
    router.requests.flush()
    # Then the 404 was logged at once, the successes as one line per route and status
    assert [line["message"] for line in at_once] == ["GET /things/missing 404"]
    (summary,) = _records(lines)[1:]
    assert summary["message"] == "GET /things/<name> 200 x3"
    assert (summary["path"], summary["status"], summary["count"]) == ("/things/<name>", 200, 3)
    assert summary["slowest_request_id"] in {"id-a", "id-b", "id-c"}
    assert float(str(summary["max_duration_ms"])) >= float(str(summary["duration_ms"]))
    # And an empty window writes nothing
    router.requests.flush()
    assert len(_records(lines)) == 2


def test_handle__summarising_router_at_debug__every_request_has_its_line(
    lines: io.StringIO,
) -> None:
    # Given a summarising router, with the log level at DEBUG
    logging.getLogger().setLevel(logging.DEBUG)
    router = _router(summarise_every=3600)
    # When two requests succeed
    _get(router, "/things/a")
    _get(router, "/things/b")
    # Then each has its own line
    messages = [line["message"] for line in _records(lines)]
    assert messages == ["GET /things/a 200", "GET /things/b 200"]


def test_handle__summarising_router__answers_reach_the_metrics_without_loss(
    lines: io.StringIO,
) -> None:
    # Given fresh metrics and a router that summarises its successful answers
    fresh = metrics.reset()
    router = _router(summarise_every=3600)

    def served() -> float | None:
        return fresh.registry.get_sample_value(
            "togglemaster_http_requests_total",
            {"method": "GET", "route": "/things/<name>", "status": "200"},
        )

    def timed() -> float | None:
        return fresh.registry.get_sample_value(
            "togglemaster_http_request_duration_seconds_count",
            {"method": "GET", "route": "/things/<name>"},
        )

    # When three answers are counted at a metrics flush, two more land just before the
    # log's own window is written, and one after it
    for name in ("a", "b", "c"):
        _get(router, f"/things/{name}")
    fresh.flush()
    assert (served(), timed()) == (3, 3)
    _get(router, "/things/d")
    _get(router, "/things/e")
    router.requests.flush()
    _get(router, "/things/f")
    fresh.render()
    # Then every answer is in the metrics once, counted and timed
    assert (served(), timed()) == (6, 6)
    # And a 404, logged at once, is counted as well
    _get(router, "/things/missing")
    fresh.flush()
    assert (
        fresh.registry.get_sample_value(
            "togglemaster_http_requests_total",
            {"method": "GET", "route": "/things/<name>", "status": "404"},
        )
        == 1
    )
