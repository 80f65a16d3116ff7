"""Structured JSON logs with a correlation id on every line.

Core modules log through the standard `logging` module; `configure_logging` gives
the root logger Powertools' JSON formatter and stamps each record with the
correlation id of the request being served.
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)


class _CorrelationFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = correlation_id.get()
        return True


def configure_logging(service: str, level: str) -> None:
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
