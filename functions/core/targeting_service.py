"""Targeting rules and segments: the targeting function's logic.

A rule document is parsed by the engine against the flag's real definition and the
known segments before it is stored, and stored in the engine's canonical form, so
nothing evaluation cannot run is ever written. Segments are shared by every
environment (like flag definitions): a rule promoted between environments keeps
naming segments that exist, and a segment is one audience, edited in one place.
"""

from __future__ import annotations

from typing import Any

from functions.core import (
    environment_store,
    flag_store,
    notices,
    rule_documents,
    rule_store,
    segment_store,
)
from functions.core.cache import redis_client
from functions.core.db import Connection, transaction
from functions.core.errors import SegmentInUse
from functions.core.models import (
    CreateRuleRequest,
    CreateSegmentRequest,
    Rule,
    Segment,
    SegmentBody,
    UpdateRuleRequest,
)


class TargetingService:
    def __init__(self, *, database_url: str, redis_url: str) -> None:
        self._database_url = database_url
        self._redis_url = redis_url

    # -- rules -------------------------------------------------------------------------

    def get_rule(self, flag_name: str, *, environment: str) -> Rule:
        with transaction(self._database_url) as conn:
            environment_store.get_environment(conn, environment)
            return rule_store.get_rule(conn, flag_name, environment=environment)

    def create_rule(self, request: CreateRuleRequest, *, environment: str) -> Rule:
        with transaction(self._database_url) as conn:
            environment_store.get_environment(conn, environment)
            document = canonical_rules(conn, request.flag_name, request.rules)
            rule = rule_store.create_rule(
                conn,
                flag_name=request.flag_name,
                environment=environment,
                rules=document,
                is_enabled=request.is_enabled,
            )
        self._announce("rule", rule.flag_name)
        return rule

    def update_rule(self, flag_name: str, request: UpdateRuleRequest, *, environment: str) -> Rule:
        changes: dict[str, Any] = {}
        with transaction(self._database_url) as conn:
            environment_store.get_environment(conn, environment)
            if request.rules is not None:
                changes["rules"] = canonical_rules(conn, flag_name, request.rules)
            if request.is_enabled is not None:
                changes["is_enabled"] = request.is_enabled
            rule = rule_store.update_rule(conn, flag_name, environment=environment, changes=changes)
        self._announce("rule", flag_name)
        return rule

    def delete_rule(self, flag_name: str, *, environment: str) -> None:
        with transaction(self._database_url) as conn:
            environment_store.get_environment(conn, environment)
            if not rule_store.delete_rule(conn, flag_name, environment=environment):
                rule_store.get_rule(conn, flag_name, environment=environment)
        self._announce("rule", flag_name)

    # -- segments ----------------------------------------------------------------------

    def list_segments(self) -> list[Segment]:
        with transaction(self._database_url) as conn:
            return segment_store.list_segments(conn)

    def get_segment(self, key: str) -> Segment:
        with transaction(self._database_url) as conn:
            return segment_store.get_segment(conn, key)

    def create_segment(self, request: CreateSegmentRequest) -> Segment:
        document = segment_document(request.key, request)
        with transaction(self._database_url) as conn:
            segment = segment_store.create_segment(conn, key=request.key, document=document)
        self._announce("segment", segment.key)
        return segment

    def update_segment(self, key: str, request: SegmentBody) -> Segment:
        """Replace the segment's audience (PUT: the body is the whole segment)."""
        document = segment_document(key, request)
        with transaction(self._database_url) as conn:
            segment = segment_store.update_segment(conn, key=key, document=document)
        self._announce("segment", key)
        return segment

    def delete_segment(self, key: str) -> None:
        """Refused (409 naming the flags) while a stored rule names the segment."""
        with transaction(self._database_url) as conn:
            segment_store.lock_segment(conn, key)
            users = rule_store.rules_naming_segment(conn, key)
            if users:
                flags = sorted({use["flag_name"] for use in users})
                raise SegmentInUse(
                    f"segment '{key}' is used by the rules of {', '.join(flags)}:"
                    " change those rules first",
                    segment=key,
                    flags=flags,
                    rules=users,
                )
            segment_store.delete_segment(conn, key)
        self._announce("segment", key)

    def _announce(self, kind: str, name: str) -> None:
        notices.announce_change(redis_client(self._redis_url), kind=kind, name=name)


def canonical_rules(conn: Connection, flag_name: str, document: Any) -> Any:
    """The document in the engine's canonical form, or 422 naming the offending field.

    The flag's definition and the segments are share-locked until the rule commits, so
    neither a variant nor a segment it names can disappear in the meantime.
    """
    definition = rule_documents.flag_definition(
        flag_name, flag_store.definition_for_rules(conn, flag_name)
    )
    segment_keys = segment_store.lock_existing(conn, rule_documents.referenced_segments(document))
    return rule_documents.canonical_rule_document(
        definition, document, segment_keys, path="$.rules"
    )


def segment_document(key: str, body: SegmentBody) -> dict[str, Any]:
    """The canonical segment document of a request body, or 422 naming the field."""
    document: dict[str, Any] = {"key": key, **body.model_dump(exclude={"key"}, exclude_none=True)}
    return rule_documents.canonical_segment_document(document)
