"""Request and response bodies shared by the functions.

Request bodies are strict (a string is not a boolean) and ignore unknown fields, so
newer clients can send more than an older server knows. The same models describe
the API in the OpenAPI document.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

FlagName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")]
EnvironmentKey = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
EnvironmentName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
]
KeyName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Description = Annotated[str, StringConstraints(max_length=2000)]


class RequestBody(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class CreateKeyRequest(RequestBody):
    name: KeyName


class CreateFlagRequest(RequestBody):
    name: FlagName
    description: Description | None = None
    is_enabled: bool = False


class UpdateFlagRequest(RequestBody):
    description: Description | None = None
    is_enabled: bool | None = None


class CreateRuleRequest(RequestBody):
    flag_name: FlagName
    rules: dict[str, Any] | list[Any]
    is_enabled: bool = True


class UpdateRuleRequest(RequestBody):
    rules: dict[str, Any] | list[Any] | None = None
    is_enabled: bool | None = None


class CreateEnvironmentRequest(RequestBody):
    key: EnvironmentKey
    name: EnvironmentName | None = None


class UpdateEnvironmentRequest(RequestBody):
    name: EnvironmentName


class PromoteRequest(RequestBody):
    from_: EnvironmentKey = Field(alias="from")
    to: EnvironmentKey
    dry_run: bool = False


class Row(BaseModel):
    model_config = ConfigDict(frozen=True)


class Environment(Row):
    key: str
    name: str
    created_at: datetime
    updated_at: datetime


class Flag(Row):
    id: int
    name: str
    description: str | None
    is_enabled: bool = Field(description="the flag's state in `environment`")
    created_at: datetime
    updated_at: datetime
    environment: str


class Rule(Row):
    id: int
    flag_name: str
    environment: str
    is_enabled: bool
    rules: Any = Field(description="the stored rule document (the seed's object, or the full form)")
    created_at: datetime
    updated_at: datetime


class CreatedKey(Row):
    id: int
    name: str
    key: str
    message: str


class EvaluationResult(Row):
    flag_name: str
    user_id: str
    result: bool
    value: Any
    variant: str | None
    reason: str
    environment: str
