"""Bodies of `GET /health` and `GET /ready`, which every function answers."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from functions.core.models.common import ResponseBody, absent


class Health(ResponseBody):
    status: Literal["ok"] = "ok"


class CheckResult(ResponseBody):
    """One dependency; `error` (only when not ok) names the variable or command to fix."""

    ok: bool
    error: str | None = Field(default=None, exclude_if=absent)
    detail: dict[str, Any] | None = Field(
        default=None,
        exclude_if=absent,
        description="what the dependency holds (evaluation:"
        " the snapshot's version, age and source)",
    )


class Readiness(ResponseBody):
    status: Literal["ready", "unavailable"]
    checks: dict[str, CheckResult] = Field(description="by dependency: database, redis, ...")
    error: str | None = Field(
        default=None, exclude_if=absent, description="every failed check's error, when not ready"
    )
