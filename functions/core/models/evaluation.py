"""Bodies of the evaluation function."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StringConstraints, field_validator

from functions.core.models.common import RequestBody, ResponseBody, absent
from functions.core.names import MAX_FLAG_NAME, MAX_USER_ID, EnvironmentKey

_USER_ID = {"type": "string", "minLength": 1, "maxLength": MAX_USER_ID}
_USER_ID_REQUIRED: list[Any] = [
    {"required": ["user_id"], "properties": {"user_id": _USER_ID}},
    {
        "required": ["targetingKey"],
        "properties": {"targetingKey": _USER_ID},
        "not": {"required": ["user_id"]},
    },
]
"""What `_has_user_id` checks, said in the schema so clients (and the fuzzer) know it."""
_ENVIRONMENT = (
    "the environment to decide in, as `?environment=` says it (send one or the other, or"
    " both the same); omitted: the key's own, or the default environment"
)


def with_user_id(context: dict[str, Any]) -> dict[str, Any]:
    """The context with `user_id` set (from `targetingKey` when absent), or ValueError."""
    user_id = context.get("user_id", context.get("targetingKey"))
    if not isinstance(user_id, str) or not user_id:
        raise ValueError("context.user_id (or context.targetingKey) must be a non-empty string")
    if len(user_id) > MAX_USER_ID:
        raise ValueError(f"context.user_id is longer than {MAX_USER_ID} characters")
    return {**context, "user_id": user_id}


def _rule_index() -> Any:
    return Field(
        default=None,
        exclude_if=absent,
        description="the position (from 0) of the rule that decided; present only when a"
        " rule did (reason TARGETING_MATCH, or SPLIT served by a rule)",
    )


def _rule_id() -> Any:
    return Field(
        default=None,
        exclude_if=absent,
        description="the `id` of the rule that decided, when that rule has one",
    )


class EvaluateRequest(RequestBody):
    """`POST /evaluate`: the context as JSON, so attributes keep their types."""

    flag_name: Annotated[str, StringConstraints(min_length=1, max_length=MAX_FLAG_NAME)]
    context: dict[str, Any] = Field(
        description="`user_id` (or OpenFeature's `targetingKey`) plus any attributes",
        json_schema_extra={"anyOf": _USER_ID_REQUIRED},
    )
    environment: EnvironmentKey | None = Field(None, description=_ENVIRONMENT)

    @field_validator("context")
    @classmethod
    def _has_user_id(cls, context: dict[str, Any]) -> dict[str, Any]:
        return with_user_id(context)

    @property
    def user_id(self) -> str:
        return str(self.context["user_id"])


class EvaluationResult(ResponseBody):
    flag_name: str
    user_id: str
    result: bool = Field(
        description="the seed's answer: a boolean flag's value; for other types, whether"
        " the variant served is not the off variant"
    )
    value: Any
    variant: str | None
    reason: str
    rule_index: int | None = _rule_index()
    rule_id: str | None = _rule_id()
    prerequisite: str | None = Field(
        None,
        description="with reason PREREQUISITE_FAILED: the required flag that did not serve"
        " a listed variant",
    )
    error_code: str | None = Field(
        default=None,
        exclude_if=absent,
        description="with reason ERROR: why (PARSE_ERROR, TARGETING_KEY_MISSING, ...), as in"
        " the bulk answer and OFREP",
    )
    environment: str
    config_version: int = Field(description="the configuration version the answer was decided on")
    config_age_ms: int = Field(
        description="how long ago that version was last confirmed to be the newest"
    )
    stale: bool = Field(
        description="true when this process cannot confirm it holds the newest configuration"
        " (PostgreSQL unreachable, or still starting from the Redis copy)"
    )


class BulkEvaluateRequest(RequestBody):
    """`POST /evaluate/all`: every flag of the environment for one context, or `flags`."""

    context: dict[str, Any] = Field(
        description="`user_id` (or OpenFeature's `targetingKey`) plus any attributes",
        json_schema_extra={"anyOf": _USER_ID_REQUIRED},
    )
    flags: (
        list[Annotated[str, StringConstraints(min_length=1, max_length=MAX_FLAG_NAME)]] | None
    ) = Field(default=None, max_length=1000, description="only these flags (default: all)")
    environment: EnvironmentKey | None = Field(None, description=_ENVIRONMENT)

    @field_validator("context")
    @classmethod
    def _has_user_id(cls, context: dict[str, Any]) -> dict[str, Any]:
        return with_user_id(context)

    @property
    def user_id(self) -> str:
        return str(self.context["user_id"])


class FlagAnswer(ResponseBody):
    result: bool
    value: Any
    variant: str | None
    reason: str
    rule_index: int | None = _rule_index()
    rule_id: str | None = _rule_id()
    error_code: str | None = Field(default=None, exclude_if=absent)


class BulkEvaluationResult(ResponseBody):
    user_id: str
    environment: str
    flags: dict[str, FlagAnswer]
    config_version: int
    config_age_ms: int
    stale: bool
