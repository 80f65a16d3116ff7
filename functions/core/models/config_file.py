"""Configuration as a file: the document `GET /export` writes and `POST /import` reads.

Version 1::

    version: 1
    environments:                 # the environments this document speaks for
      - key: staging
        name: Staging
    segments:                     # absent: segments are left as they are
      - key: beta-testers
        included: [u1, u2]
    flags:
      - name: checkout_v2
        description: New checkout
        type: string              # absent: boolean (on = true, off = false)
        variants: {control: old, treatment: new}
        off_variant: control
        default_variant: control
        tags: [checkout]
        owner: payments
        archived: false
        environments:
          staging:
            enabled: true
            rule:                 # absent or null: no targeting rule
              enabled: true
              rules: {type: PERCENTAGE, value: 30}

The document is the whole truth for the environments it lists: importing it makes
them hold exactly its flags, states and rules. A flag it leaves out is reset there
(disabled, no rule), and deleted outright when the document lists every environment
the database has. Flag definitions and segments are shared by every environment:
listed ones are created or replaced; a segment it leaves out is deleted only when
the document lists every environment (and names segments at all). `make schemas`
publishes the JSON Schema in `events/`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from functions.core.models.common import Description
from functions.core.models.flags import FlagType, Owner, Tags
from functions.core.models.targeting import SegmentName
from functions.core.names import EnvironmentDisplayName, EnvironmentKey, SegmentKey, StoredFlagName


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class RuleSpec(_Strict):
    enabled: StrictBool = True
    rules: dict[str, Any] | list[Any] = Field(description="a targeting rule document")


class StateSpec(_Strict):
    enabled: StrictBool = False
    rule: RuleSpec | None = None


class FlagSpec(_Strict):
    name: StoredFlagName
    description: Description | None = None
    type: FlagType = "boolean"
    variants: dict[str, Any] | None = Field(None, description="absent for a boolean: on/off")
    off_variant: str | None = None
    default_variant: str | None = None
    tags: Tags = Field(default_factory=list)
    owner: Owner | None = None
    archived: StrictBool = False
    environments: dict[EnvironmentKey, StateSpec] = Field(default_factory=dict)


class SegmentSpec(_Strict):
    key: SegmentKey
    name: SegmentName | None = None
    description: Description | None = None
    included: list[str] = Field(default_factory=list)
    excluded: list[str] = Field(default_factory=list)
    conditions: dict[str, Any] | None = None


class EnvironmentSpec(_Strict):
    key: EnvironmentKey
    name: EnvironmentDisplayName | None = None


class ConfigDocument(_Strict):
    version: Literal[1] = 1
    environments: list[EnvironmentSpec] = Field(min_length=1)
    segments: list[SegmentSpec] | None = None
    flags: list[FlagSpec] = Field(default_factory=list)
