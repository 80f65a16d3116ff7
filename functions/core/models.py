"""Request and response bodies shared by the functions.

Request bodies are strict (a string is not a boolean) and ignore unknown fields, so
newer clients can send more than an older server knows. The same models describe
the API in the OpenAPI document.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from functions.core.names import ENVIRONMENT_PATTERN

FlagName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")]
"""What a new flag may be called."""
StoredFlagName = Annotated[str, StringConstraints(pattern=r"^[^/\x00-\x1f\x7f]{1,100}$")]
"""What a flag may already be called: databases migrated from the old schema hold
names like "New checkout v2", which must stay addressable, exportable and importable."""
EnvironmentKey = Annotated[str, StringConstraints(pattern=ENVIRONMENT_PATTERN)]
EnvironmentName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
]
KeyName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Description = Annotated[str, StringConstraints(max_length=2000)]
FlagType = Literal["boolean", "string", "number", "json"]
Tag = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/\-]{0,49}$")]
Tags = Annotated[list[Tag], Field(max_length=20)]
Owner = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
SegmentKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")]
SegmentName = Annotated[str, StringConstraints(min_length=1, max_length=200)]
MAX_USER_ID = 256


class RequestBody(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class CreateFlagRequest(RequestBody):
    """A boolean flag needs none of the variant fields: it gets on = true, off = false."""

    name: FlagName
    description: Description | None = None
    is_enabled: bool = False
    type: FlagType = "boolean"
    variants: dict[str, Any] | None = Field(
        None, description="variant name -> value, every value of the flag's type"
    )
    off_variant: str | None = Field(None, description="served when the flag is off or archived")
    default_variant: str | None = Field(None, description="served when it is on without rules")
    tags: Tags = Field(default_factory=list)
    owner: Owner | None = None


class UpdateFlagRequest(RequestBody):
    """Only the fields sent change. `is_enabled` acts on the request's environment; every
    other field is the flag's definition, shared by all environments."""

    description: Description | None = None
    is_enabled: bool | None = None
    type: FlagType | None = None
    variants: dict[str, Any] | None = None
    off_variant: str | None = None
    default_variant: str | None = None
    tags: Tags | None = None
    owner: Owner | None = None
    archived: bool | None = Field(
        None, description="true stops evaluation everywhere (reason DISABLED); false restores it"
    )


class CreateRuleRequest(RequestBody):
    flag_name: StoredFlagName
    rules: dict[str, Any] | list[Any]
    is_enabled: bool = True


class UpdateRuleRequest(RequestBody):
    rules: dict[str, Any] | list[Any] | None = None
    is_enabled: bool | None = None


class SegmentBody(RequestBody):
    """A segment's audience: listed user ids, or everyone matching the conditions."""

    name: SegmentName | None = None
    description: Description | None = None
    included: list[str] = Field(default_factory=list)
    excluded: list[str] = Field(default_factory=list)
    conditions: dict[str, Any] | None = Field(None, description="a clause: all / any / not / leaf")


class CreateSegmentRequest(SegmentBody):
    key: SegmentKey


class EvaluateRequest(RequestBody):
    """`POST /evaluate`: the context as JSON, so attributes keep their types."""

    flag_name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    context: dict[str, Any] = Field(
        description="`user_id` (or OpenFeature's `targetingKey`) plus any attributes"
    )

    @field_validator("context")
    @classmethod
    def _has_user_id(cls, context: dict[str, Any]) -> dict[str, Any]:
        user_id = context.get("user_id", context.get("targetingKey"))
        if not isinstance(user_id, str) or not user_id:
            raise ValueError("context.user_id (or context.targetingKey) must be a non-empty string")
        if len(user_id) > MAX_USER_ID:
            raise ValueError(f"context.user_id is longer than {MAX_USER_ID} characters")
        return {**context, "user_id": user_id}

    @property
    def user_id(self) -> str:
        return str(self.context["user_id"])


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
    type: FlagType
    variants: dict[str, Any]
    off_variant: str
    default_variant: str
    tags: list[str]
    owner: str | None
    archived: bool
    archived_at: datetime | None


class Rule(Row):
    id: int
    flag_name: str
    environment: str
    is_enabled: bool
    rules: Any = Field(description="the stored rule document (the seed's object, or the full form)")
    created_at: datetime
    updated_at: datetime


class Segment(Row):
    key: str
    name: str | None
    description: str | None
    included: list[str]
    excluded: list[str]
    conditions: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime


class EvaluationResult(Row):
    flag_name: str
    user_id: str
    result: bool = Field(
        description="the seed's answer: a boolean flag's value; for other types, whether"
        " the variant served is not the off variant"
    )
    value: Any
    variant: str | None
    reason: str
    environment: str
