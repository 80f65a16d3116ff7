"""Segments: named audiences (listed users, or everyone matching conditions) that rules
of any flag name. Shared by every environment, like flag definitions: a rule promoted
between environments keeps naming segments that exist. Every segment written here is
stored in the current grammar (`engine.grammar`)."""

from __future__ import annotations

from typing import Any

from functions.core import engine
from functions.core.adapters.db import Connection, transaction
from functions.core.mappers import definitions
from functions.core.models.targeting import CreateSegmentRequest, Segment, SegmentBody
from functions.core.services import preconditions
from functions.core.services.change_writes import ConfigWrites
from functions.core.services.guards import delete_unused_segment
from functions.core.services.preconditions import IfMatch
from functions.core.stores import segments as segment_store


class SegmentService:
    def __init__(self, *, database_url: str, redis_url: str) -> None:
        self._database_url = database_url
        self._writes = ConfigWrites(database_url, redis_url)

    def list_segments(self) -> list[Segment]:
        with transaction(self._database_url) as conn:
            return segment_store.list_segments(conn)

    def get_segment(self, key: str) -> Segment:
        with transaction(self._database_url) as conn:
            return segment_store.get_segment(conn, key)

    def create_segment(self, request: CreateSegmentRequest) -> Segment:
        document = segment_document(request.key, request)
        with self._writes.transaction() as conn:
            segment = segment_store.create_segment(
                conn, key=request.key, document=document, grammar=engine.CURRENT_GRAMMAR
            )
        return segment

    def update_segment(
        self, key: str, request: SegmentBody, *, if_match: IfMatch | None = None
    ) -> Segment:
        """Replace the segment's audience (PUT: the body is the whole segment)."""
        document = segment_document(key, request)
        with self._writes.transaction() as conn:
            if if_match is not None:
                _check_version(conn, key, if_match)
            segment = segment_store.update_segment(
                conn, key=key, document=document, grammar=engine.CURRENT_GRAMMAR
            )
        return segment

    def delete_segment(self, key: str, *, if_match: IfMatch | None = None) -> None:
        """Refused (409 naming the flags) while a stored rule names the segment."""
        with self._writes.transaction() as conn:
            if if_match is not None:
                _check_version(conn, key, if_match)
            delete_unused_segment(conn, key)


def _check_version(conn: Connection, key: str, if_match: IfMatch) -> None:
    """412 unless the segment (locked until the write commits) has a version `if_match` names."""
    preconditions.check(
        if_match,
        segment_store.get_segment(conn, key, lock=True),
        what=f"segment '{key}'",
        read_again=f"GET /segments/{key}",
    )


def segment_document(key: str, body: SegmentBody) -> dict[str, Any]:
    """The canonical segment document of a request body, or 422 naming the field."""
    document: dict[str, Any] = {"key": key, **body.model_dump(exclude={"key"}, exclude_none=True)}
    return definitions.canonical_segment_document(document=document)
