"""Bodies of the flags function's environment and promotion endpoints."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from functions.core.models.common import RequestBody, ResponseBody
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
