"""Bodies of the OpenFeature Remote Evaluation Protocol (OFREP) endpoints, as the
published protocol description (open-feature/protocol, `service/openapi.yaml`) names
them, so that every OpenFeature SDK's OFREP provider reads ToggleMaster unchanged.

The field names are the protocol's (camelCase), not ours. The handlers parse requests
themselves, to answer the protocol's own error codes; these models describe the API.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from functions.core.models.common import RequestBody, ResponseBody

Metadata = dict[str, str | int | float | bool]

ERROR_CODES = (
    "PARSE_ERROR",
    "TARGETING_KEY_MISSING",
    "INVALID_CONTEXT",
    "GENERAL",
)


class ProtocolRequest(RequestBody):
    """The protocol's request bodies admit members it may add later: not refused."""

    model_config = ConfigDict(extra="ignore")


class EvaluationContext(ProtocolRequest):
    targetingKey: str = Field(description="who is asking: ToggleMaster's user_id")


class EvaluationRequest(ProtocolRequest):
    context: dict[str, Any] = Field(
        description="`targetingKey` (required) plus any attributes the rules compare",
        json_schema_extra={"required": ["targetingKey"]},
    )


class EvaluationSuccess(ResponseBody):
    key: str
    value: Any
    reason: str = Field(
        description="STATIC (no rules), TARGETING_MATCH, SPLIT, DEFAULT, DISABLED (also when"
        " a prerequisite is not met: see metadata) or ERROR"
    )
    variant: str
    metadata: Metadata = Field(
        description="config_version, config_age_ms, stale and environment: how fresh the"
        " configuration this answer was decided on is; rule_index and rule_id (when it has"
        " one) of the rule that decided, when one did; reason PREREQUISITE_FAILED and"
        " prerequisite (the flag not met) when a prerequisite made the answer DISABLED"
    )


class EvaluationFailure(ResponseBody):
    key: str
    errorCode: Literal[
        "PARSE_ERROR", "TARGETING_KEY_MISSING", "INVALID_CONTEXT", "GENERAL", "FLAG_NOT_FOUND"
    ]
    errorDetails: str


class BulkFailure(ResponseBody):
    errorCode: Literal["PARSE_ERROR", "TARGETING_KEY_MISSING", "INVALID_CONTEXT", "GENERAL"]
    errorDetails: str


class BulkEvaluationSuccess(ResponseBody):
    flags: list[EvaluationSuccess | EvaluationFailure]
    metadata: Metadata


class GeneralFailure(ResponseBody):
    errorDetails: str
