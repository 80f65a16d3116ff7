"""Structured JSON logs with a correlation id on every line.

Core modules log through the standard `logging` module; `configure_logging` gives
the root logger Powertools' JSON formatter and stamps each record with the
correlation id of the request being served (`X-Request-Id`, which calls to other
functions pass on: `request_id_headers`). Nothing logs a header but that one, so no key
reaches a log line.
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

REQUEST_ID_HEADER = "X-Request-Id"
"""Where a request's correlation id travels: accepted or minted at the edge (the router),
answered back, and sent on with every call one function makes to another."""

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)


def request_id_headers() -> dict[str, str]:
    """The header that passes the current request's correlation id on (none outside a
    request), for a call to another function."""
    current = correlation_id.get()
    return {} if current is None else {REQUEST_ID_HEADER: current}


class _CorrelationFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = correlation_id.get()
        return True


def configure_logging(service: str, level: str) -> None:
    """JSON lines on standard output. A request can carry text that is not valid UTF-8 (a
    lone surrogate from a JSON `\\ud800` escape) into a line's fields: it is written
    backslash-escaped rather than making the line fail and vanish."""
    reconfigure = getattr(sys.stdout, "reconfigure", None)  # absent when captured
    if reconfigure is not None:
        reconfigure(errors="backslashreplace")
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "togglemaster", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(LambdaPowertoolsFormatter(service=f"togglemaster-{service}"))
    handler.addFilter(_CorrelationFilter())
    handler.togglemaster = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
