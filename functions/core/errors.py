"""One exception hierarchy for every function.

Each subclass carries its HTTP status and a stable machine-readable `code`, so the
single mapping in `functions.http.router` can turn any of them into the JSON error body
without a handler ever building an error by hand.
"""

from __future__ import annotations

from typing import Any, ClassVar

from functions.core.models.errors import ErrorBody, InternalErrorBody


class ToggleMasterError(Exception):
    """Base of every error a client may see."""

    status: int = 500
    code: str = "internal_error"
    body: ClassVar[type[ErrorBody]] = ErrorBody

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_body(self) -> ErrorBody:
        return self.body.model_validate({"error": self.message, "code": self.code, **self.details})

    def headers(self) -> dict[str, str]:
        """Response headers this error calls for (`Retry-After` on a 429)."""
        return {}


class InternalError(ToggleMasterError):
    """What the client sees of a bug: nothing but the correlation id to report."""

    status = 500
    code = "internal_error"
    body = InternalErrorBody


class BadRequest(ToggleMasterError):
    status = 400
    code = "bad_request"


class Unauthorized(ToggleMasterError):
    status = 401
    code = "unauthorized"


class Forbidden(ToggleMasterError):
    status = 403
    code = "forbidden"


class NotFound(ToggleMasterError):
    status = 404
    code = "not_found"


class MethodNotAllowed(ToggleMasterError):
    status = 405
    code = "method_not_allowed"


class Conflict(ToggleMasterError):
    status = 409
    code = "conflict"


class PreconditionFailed(ToggleMasterError):
    """`If-Match` named a version the resource no longer has: someone changed it since the
    caller read it, and the write was not made."""

    status = 412
    code = "precondition_failed"


class PayloadTooLarge(ToggleMasterError):
    status = 413
    code = "payload_too_large"


class Unprocessable(ToggleMasterError):
    """The body is well-formed but says something that cannot hold (a bad rule)."""

    status = 422
    code = "unprocessable"


class UnknownField(Unprocessable):
    """A body field the endpoint does not take: most often a typo, which would otherwise
    do nothing. The details name it (`field`) and list what is `accepted`."""

    code = "unknown_field"


class InvalidValue(Unprocessable):
    """A field or query parameter with a value of the wrong type or out of range; the
    details name it and say what it must be. (A missing required field stays a 400, as
    the seed's clients expect.)"""

    code = "invalid_value"


class LimitExceeded(Unprocessable):
    """A rule document or segment beyond one of the caps that bound what an evaluation
    costs (`functions.core.engine.limits`); `limit` names the cap, `maximum` its value."""

    code = "limit_exceeded"


class UnknownParameter(Unprocessable):
    """A query parameter the endpoint does not take; `parameter` and `accepted` say."""

    code = "unknown_parameter"


class TooManyRequests(ToggleMasterError):
    """A client over a rate limit (`functions.http.throttle`): `retry_after` seconds until
    the window that counts it ends, also sent as `Retry-After`."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, **details: Any) -> None:
        super().__init__(message, retry_after=retry_after, **details)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class ServiceUnavailable(ToggleMasterError):
    """A dependency is down; the client may retry."""

    status = 503
    code = "unavailable"


class ConfigError(Exception):
    """Start-up configuration is wrong; the message names the variable."""


class FlagNotFound(NotFound):
    code = "flag_not_found"


class EnvironmentNotFound(NotFound):
    code = "environment_not_found"


class SegmentNotFound(NotFound):
    code = "segment_not_found"


class SegmentInUse(Conflict):
    """A segment that targeting rules still name cannot be deleted."""

    code = "segment_in_use"


class FlagRequired(Conflict):
    """A flag that other flags require (prerequisites) cannot be deleted or archived."""

    code = "flag_required"


class PrerequisiteCycle(Unprocessable):
    """Rules whose prerequisites would make a flag require itself; `cycle` is the path."""

    code = "prerequisite_cycle"
