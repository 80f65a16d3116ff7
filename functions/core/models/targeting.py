"""Bodies of the targeting function: rules per flag and environment, and segments."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from functions.core.models.common import Description, RequestBody, ResponseBody
from functions.core.models.rule_documents import (
    Conditions,
    RuleDocumentInput,
    StoredRuleDocument,
)
from functions.core.names import SegmentKey, StoredFlagName

SegmentName = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Grammar = Literal[1, 2]
"""The grammar a stored rule document or segment was written in (`engine.grammar`)."""


class CreateRuleRequest(RequestBody):
    flag_name: StoredFlagName
    rules: RuleDocumentInput
    is_enabled: bool = True


class UpdateRuleRequest(RequestBody):
    rules: RuleDocumentInput | None = None
    is_enabled: bool | None = None


class SegmentBody(RequestBody):
    """A segment's audience: listed user ids, or everyone matching the conditions."""

    name: SegmentName | None = None
    description: Description | None = None
    included: list[str] = Field(default_factory=list)
    excluded: list[str] = Field(default_factory=list)
    conditions: Conditions | None = Field(
        None, description="a condition tree: all / any / not / a leaf"
    )


class CreateSegmentRequest(SegmentBody):
    key: SegmentKey


class Rule(ResponseBody):
    id: int
    flag_name: str
    environment: str
    is_enabled: bool
    rules: StoredRuleDocument = Field(
        description="the stored rule document (the seed's object, or the full form)"
    )
    grammar: Grammar = Field(
        description="read-only: the grammar the document was written in (1: before grammar"
        " versions, numeric strings compare as strings; 2: as every document written now)"
    )
    created_at: datetime
    updated_at: datetime


class Segment(ResponseBody):
    key: str
    name: str | None
    description: str | None
    included: list[str]
    excluded: list[str]
    conditions: Conditions | None
    grammar: Grammar = Field(description="read-only: the grammar the segment was written in")
    created_at: datetime
    updated_at: datetime
