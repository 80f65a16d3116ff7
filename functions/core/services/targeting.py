"""Targeting rules per flag and environment.

A rule document is parsed by the engine against the flag's real definition and the
known segments before it is stored, its prerequisites checked against the other flags
(`services.prerequisites`), and stored in the engine's canonical form, so
nothing evaluation cannot run is ever written. Every document written here is stored in
the current grammar (`engine.grammar`); changing only `is_enabled` keeps the document's.
Segments are shared by every environment (like flag definitions): a rule promoted
between environments keeps naming segments that exist, and a segment is one audience,
edited in one place.
"""

from __future__ import annotations

from typing import Any

from functions.core import engine
from functions.core.adapters.db import Connection, transaction
from functions.core.mappers import definitions
from functions.core.models.targeting import (
    CreateRuleRequest,
    Rule,
    UpdateRuleRequest,
)
from functions.core.services import preconditions, prerequisites
from functions.core.services.change_writes import ConfigWrites
from functions.core.services.preconditions import IfMatch
from functions.core.stores import environments as environment_store
from functions.core.stores import flags as flag_store
from functions.core.stores import rules as rule_store
from functions.core.stores import segments as segment_store


class TargetingService:
    def __init__(self, *, database_url: str, redis_url: str) -> None:
        self._database_url = database_url
        self._writes = ConfigWrites(database_url, redis_url)

    # -- rules -------------------------------------------------------------------------

    def get_rule(self, flag_name: str, *, environment: str) -> Rule:
        with transaction(self._database_url) as conn:
            environment_store.get_environment(conn, environment)
            return rule_store.get_rule(conn, flag_name, environment=environment)

    def create_rule(self, request: CreateRuleRequest, *, environment: str) -> Rule:
        with self._writes.transaction() as conn:
            environment_store.get_environment(conn, environment)
            document = canonical_rules(conn, request.flag_name, request.rules, environment)
            rule = rule_store.create_rule(
                conn,
                flag_name=request.flag_name,
                environment=environment,
                rules=document,
                is_enabled=request.is_enabled,
                grammar=engine.CURRENT_GRAMMAR,
            )
        return rule

    def update_rule(
        self,
        flag_name: str,
        request: UpdateRuleRequest,
        *,
        environment: str,
        if_match: IfMatch | None = None,
    ) -> Rule:
        changes: dict[str, Any] = {}
        with self._writes.transaction() as conn:
            environment_store.get_environment(conn, environment)
            if if_match is not None:
                _check_version(conn, flag_name, environment, if_match)
            if request.rules is not None:
                changes["rules"] = canonical_rules(conn, flag_name, request.rules, environment)
                changes["grammar"] = engine.CURRENT_GRAMMAR
            if request.is_enabled is not None:
                changes["is_enabled"] = request.is_enabled
            rule = rule_store.update_rule(conn, flag_name, environment=environment, changes=changes)
        return rule

    def delete_rule(
        self, flag_name: str, *, environment: str, if_match: IfMatch | None = None
    ) -> None:
        with self._writes.transaction() as conn:
            environment_store.get_environment(conn, environment)
            if if_match is not None:
                _check_version(conn, flag_name, environment, if_match)
            if not rule_store.delete_rule(conn, flag_name, environment=environment):
                rule_store.get_rule(conn, flag_name, environment=environment)


def _check_version(conn: Connection, flag_name: str, environment: str, if_match: IfMatch) -> None:
    """412 unless the rule (locked until the write commits) has a version `if_match` names."""
    preconditions.check(
        if_match,
        rule_store.get_rule(conn, flag_name, environment=environment, lock=True),
        what=f"the rule of flag '{flag_name}' in environment '{environment}'",
        read_again=f"GET /rules/{flag_name}?environment={environment}",
    )


def canonical_rules(conn: Connection, flag_name: str, document: Any, environment: str) -> Any:
    """The document in the engine's canonical form, or 422 naming the offending field.

    The flag's definition, the segments and the flags it requires are share-locked until
    the rule commits, so neither a variant nor a segment nor a prerequisite it names can
    disappear in the meantime; its prerequisites form no cycle in `environment`.
    """
    definition = definitions.flag_definition(
        name=flag_name, fields=flag_store.definition_for_rules(conn, flag_name)
    )
    segment_keys = segment_store.lock_existing(conn, definitions.referenced_segments(document))
    canonical = definitions.canonical_rule_document(
        definition=definition, rules=document, segment_keys=segment_keys, path="$.rules"
    )
    prerequisites.check_rule(conn, flag_name, environment, canonical, path="$.rules")
    return canonical
