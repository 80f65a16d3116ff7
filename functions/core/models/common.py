"""What every body shares: the strictness of requests, the shape of rows, small value types.

Request bodies are strict (a string is not a boolean) and refuse unknown fields: a
misspelt field (`is_enable`) would otherwise do nothing, silently. Attributes of an
evaluation context are free-form (an object field, not fields of the body), and the
OpenFeature protocol's bodies keep its own leniency (`models.ofrep`). Response bodies
are frozen.
The same models describe the API in the OpenAPI document.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Description = Annotated[str, StringConstraints(max_length=2000)]


class RequestBody(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class ResponseBody(BaseModel):
    model_config = ConfigDict(frozen=True)


def absent(value: object) -> bool:
    """`exclude_if` for the fields a body leaves out, rather than sending null, when unset."""
    return value is None


class Change(ResponseBody):
    """One difference a plan or a promotion reports: the value before and after."""

    from_: Any = Field(alias="from")
    to: Any
