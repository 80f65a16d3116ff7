"""What every body shares: the strictness of requests, the shape of rows, small value types.

Request bodies are strict (a string is not a boolean) and ignore unknown fields, so
newer clients can send more than an older server knows. Response bodies are frozen.
The same models describe the API in the OpenAPI document.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

Description = Annotated[str, StringConstraints(max_length=2000)]


class RequestBody(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class ResponseBody(BaseModel):
    model_config = ConfigDict(frozen=True)
