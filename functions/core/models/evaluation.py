"""Bodies of the evaluation function."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StringConstraints, field_validator

from functions.core.models.common import RequestBody, ResponseBody
from functions.core.names import MAX_FLAG_NAME, MAX_USER_ID

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


class EvaluateRequest(RequestBody):
    """`POST /evaluate`: the context as JSON, so attributes keep their types."""

    flag_name: Annotated[str, StringConstraints(min_length=1, max_length=MAX_FLAG_NAME)]
    context: dict[str, Any] = Field(
        description="`user_id` (or OpenFeature's `targetingKey`) plus any attributes",
        json_schema_extra={"anyOf": _USER_ID_REQUIRED},
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
    environment: str
