"""Targeting rules: the targeting function's logic.

A rule document is parsed by the engine before it is stored, and stored in the
engine's canonical form, so nothing evaluation cannot run is ever written.
"""

from __future__ import annotations

from typing import Any

from functions.core import environment_store, flag_store, notices, rule_store
from functions.core.cache import redis_client
from functions.core.db import Connection, transaction
from functions.core.models import CreateRuleRequest, Rule, UpdateRuleRequest
from functions.core.rule_documents import canonical_rule_document


class TargetingService:
    def __init__(self, *, database_url: str, redis_url: str) -> None:
        self._database_url = database_url
        self._redis_url = redis_url

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
        self._announce(rule.flag_name)
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
        self._announce(flag_name)
        return rule

    def delete_rule(self, flag_name: str, *, environment: str) -> None:
        with transaction(self._database_url) as conn:
            environment_store.get_environment(conn, environment)
            if not rule_store.delete_rule(conn, flag_name, environment=environment):
                rule_store.get_rule(conn, flag_name, environment=environment)
        self._announce(flag_name)

    def _announce(self, flag_name: str) -> None:
        notices.announce_change(redis_client(self._redis_url), kind="rule", name=flag_name)


def canonical_rules(conn: Connection, flag_name: str, document: Any) -> Any:
    """The document in the engine's canonical form, or 422 naming the offending field."""
    flag_store.get_flag_id(conn, flag_name)
    return canonical_rule_document(flag_name, document, path="$.rules")
