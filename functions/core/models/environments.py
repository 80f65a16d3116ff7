"""Bodies of the flags function's environment and promotion endpoints."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from functions.core.models.common import Change, RequestBody, ResponseBody
from functions.core.names import EnvironmentDisplayName, EnvironmentKey


class CreateEnvironmentRequest(RequestBody):
    key: EnvironmentKey
    name: EnvironmentDisplayName | None = None


class UpdateEnvironmentRequest(RequestBody):
    name: EnvironmentDisplayName


class PromoteRequest(RequestBody):
    from_: EnvironmentKey = Field(alias="from")
    to: EnvironmentKey
    dry_run: bool = False


class Environment(ResponseBody):
    key: str
    name: str
    created_at: datetime
    updated_at: datetime


class Promotion(ResponseBody):
    """What `POST /flags/<name>/promote` did (or, with `dry_run`, would do) to `to`."""

    flag_name: str
    from_: str = Field(alias="from")
    to: str
    dry_run: bool
    applied: bool = Field(description="false on a dry run, or when nothing differed")
    changes: dict[str, Change] = Field(description="`is_enabled` and `rule`, when they differ")
