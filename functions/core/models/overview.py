"""`GET /overview`: every flag with its state, rules and last change in every environment,
one page at a time: what the web console shows."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from functions.core.models.common import ResponseBody
from functions.core.models.flags import FlagType


class RuleSummary(ResponseBody):
    """A flag's rule document in one environment, in a few words."""

    enabled: bool = Field(description="false: the document is stored but switched off")
    count: int = Field(description="how many rules the document holds")
    kinds: list[str] = Field(description="each rule's type, in order: PERCENTAGE, SEGMENT, ...")
    summary: str = Field(
        description='e.g. "30 % rollout", "2 rules: segment beta, country in [PT]; otherwise off"'
    )


class LastChange(ResponseBody):
    """The latest write to the flag in one environment: its state or its rules there, or
    its creation. Who made it is not recorded, so not said."""

    at: datetime
    what: Literal["created", "state", "rules"]


class EnvironmentView(ResponseBody):
    enabled: bool
    rollout: float | None = Field(
        description="the share of users (%) served the rollout's variant, when the rules are"
        " a single percentage rollout; else null"
    )
    rules: RuleSummary | None = Field(description="null: no rule document in this environment")
    last_change: LastChange


class FlagView(ResponseBody):
    name: str
    description: str | None
    type: FlagType
    default_variant: str = Field(description="served when the flag is on and no rule decides")
    off_variant: str = Field(description="served when the flag is off or archived")
    tags: list[str]
    owner: str | None
    archived: bool
    created_at: datetime
    updated_at: datetime = Field(
        description="the last change of anything about the flag, in any environment"
    )
    environments: dict[str, EnvironmentView] = Field(description="by environment key")


class Overview(ResponseBody):
    """One page of flags, ordered by name, all read in one consistent snapshot."""

    environments: list[str] = Field(description="the environments shown, in key order")
    flags: list[FlagView]
    config_version: int = Field(description="the configuration version this page shows")
    next: str | None = Field(description="the next page's URL (path and query); null on the last")
