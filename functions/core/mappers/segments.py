"""Segments between representations: stored rows into response bodies, and response
bodies back into the engine's segment document."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from functions.core.models.targeting import Segment

_DOCUMENT_FIELDS = ("name", "description", "included", "excluded", "conditions")


def segment(*, row: Mapping[str, Any]) -> Segment:
    """A `segments` row (key, canonical document, timestamps) as the API shows it."""
    document = row["document"]
    return Segment(
        key=row["key"],
        name=document.get("name"),
        description=document.get("description"),
        included=document.get("included", []),
        excluded=document.get("excluded", []),
        conditions=document.get("conditions"),
        grammar=row["grammar"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def segment_document(*, body: Mapping[str, Any]) -> dict[str, Any]:
    """A `GET /segments/<key>` answer back to the engine's segment document."""
    document = {"key": body["key"]}
    for name in _DOCUMENT_FIELDS:
        if body.get(name) is not None:
            document[name] = body[name]
    return document
