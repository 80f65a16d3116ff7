"""The error body every 4xx and 5xx carries, so clients and the OpenAPI description
share one shape."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from functions.core.models.common import ResponseBody


class ErrorBody(ResponseBody):
    """`{"error", "code", ...details}`: the details (`field`, `fields`, `parameter`, ...)
    name what is at fault, so they vary by error and are kept as sent."""

    model_config = ConfigDict(extra="allow")

    error: str = Field(description="what went wrong, for a person to read")
    code: str = Field(description="stable and machine-readable, e.g. `bad_request`")


class InternalErrorBody(ErrorBody):
    """A bug: nothing of its cause, only the id to report (also the X-Request-Id header)."""

    correlation_id: str = Field(description="the request's id, to quote when reporting it")
