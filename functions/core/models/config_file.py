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
              grammar: 2          # absent: 2 (see below)

The document is the whole truth for the environments it lists: importing it makes
them hold exactly its flags, states and rules. A flag it leaves out is reset there
(disabled, no rule), and deleted outright when the document lists every environment
the database has. Flag definitions and segments are shared by every environment:
listed ones are created or replaced, except that a flag's `description`, `tags` or
`owner` left out of the document is left as it is (written as `""`, `[]` or null, it is
cleared); a segment it leaves out is deleted only when
the document lists every environment (and names segments at all). `make schemas`
publishes the JSON Schema in `functions/contracts/`.

A rule and a segment may say the `grammar` they are written in (`engine.grammar`): export
writes each one's, so importing an export keeps what every document means; one that
does not say is read in the current grammar (2), as the API reads what it is sent.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from functions.core.models.common import Change, Description, ResponseBody, absent
from functions.core.models.flags import FlagType, Owner, Tags
from functions.core.models.rule_documents import Conditions, RuleDocumentInput, StoredRuleDocument
from functions.core.models.targeting import Grammar, SegmentName
from functions.core.names import EnvironmentDisplayName, EnvironmentKey, SegmentKey, StoredFlagName


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class RuleSpec(_Strict):
    enabled: StrictBool = True
    rules: RuleDocumentInput = Field(description="a targeting rule document")
    grammar: Grammar = Field(2, description="the grammar `rules` is written in")


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
    conditions: Conditions | None = None
    grammar: Grammar = Field(2, description="the grammar the segment is written in")


class EnvironmentSpec(_Strict):
    key: EnvironmentKey
    name: EnvironmentDisplayName | None = None


class ConfigDocument(_Strict):
    version: Literal[1] = 1
    environments: list[EnvironmentSpec] = Field(min_length=1)
    segments: list[SegmentSpec] | None = None
    flags: list[FlagSpec] = Field(default_factory=list)


# -- what export writes and import answers: response bodies, as loose as stored data ----


class ExportedRule(ResponseBody):
    enabled: bool
    rules: StoredRuleDocument = Field(description="the stored rule document")
    grammar: Grammar = Field(description="the grammar it was written in")


class ExportedState(ResponseBody):
    enabled: bool
    rule: ExportedRule | None


class ExportedFlag(ResponseBody):
    name: str
    description: str | None
    type: FlagType
    variants: dict[str, Any]
    off_variant: str
    default_variant: str
    tags: list[str]
    owner: str | None
    archived: bool
    environments: dict[str, ExportedState]


class ExportedSegment(ResponseBody):
    """A segment's canonical document: optional members only when set."""

    key: str
    name: str | None = Field(default=None, exclude_if=absent)
    description: str | None = Field(default=None, exclude_if=absent)
    included: list[str]
    excluded: list[str]
    conditions: Conditions | None = Field(default=None, exclude_if=absent)
    grammar: Grammar = Field(description="the grammar it was written in")


class ExportedEnvironment(ResponseBody):
    key: str
    name: str


class ExportedDocument(ResponseBody):
    """`GET /export`: a `ConfigDocument` that importing gives back unchanged."""

    version: Literal[1] = 1
    environments: list[ExportedEnvironment]
    segments: list[ExportedSegment]
    flags: list[ExportedFlag]


PlanAction = Literal["created", "changed", "deleted", "unchanged"]


class PlanItem(ResponseBody):
    """One thing an import does: to a segment, a flag (its definition, or with
    `environment` its state there) or an environment itself."""

    action: PlanAction
    segment: str | None = Field(default=None, exclude_if=absent)
    flag: str | None = Field(default=None, exclude_if=absent)
    environment: str | None = Field(default=None, exclude_if=absent)
    changes: dict[str, Change] | None = Field(default=None, exclude_if=absent)


class PlanSummary(ResponseBody):
    created: int
    changed: int
    deleted: int
    unchanged: int


class ImportResult(ResponseBody):
    dry_run: bool
    applied: bool = Field(description="false on a dry run, or when nothing differed")
    summary: PlanSummary
    plan: list[PlanItem]
