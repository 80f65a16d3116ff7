"""Bodies of the analytics function."""

from __future__ import annotations

from pydantic import Field

from functions.core.models.common import ResponseBody


class Receipt(ResponseBody):
    """What analytics answers a delivery: a 2xx means stored, and the source deletes it."""

    stored: int = Field(description="events written (or rewritten, on a redelivery)")
    refused: int = Field(description="events of the pack that could not be read")
    pack_id: str | None = Field(description="null for the seed's single-event body")
