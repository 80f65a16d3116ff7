"""The body of `GET /`: what a function serves, for a person finding their way."""

from __future__ import annotations

from pydantic import Field

from functions.core.models.common import ResponseBody


class OperationSummary(ResponseBody):
    method: str
    path: str = Field(description="as OpenAPI writes it: `/flags/{name}`")
    summary: str


class FunctionIndex(ResponseBody):
    """Which function this is, what it does, every operation, and where the rest is."""

    function: str
    description: str = Field(description="what the function is for, in one line")
    operations: list[OperationSummary]
    openapi: str = Field(default="/openapi.json", description="the OpenAPI 3.1 description")
    docs: str = Field(default="/docs", description="the interactive API page")
