"""Bodies of the flags function's flag endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from functions.core.models.common import Description, RequestBody, ResponseBody
from functions.core.names import TAG_PATTERN, FlagName

FlagType = Literal["boolean", "string", "number", "json"]
Tag = Annotated[str, StringConstraints(pattern=TAG_PATTERN)]
Tags = Annotated[list[Tag], Field(max_length=20)]
Owner = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


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


class Flag(ResponseBody):
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
