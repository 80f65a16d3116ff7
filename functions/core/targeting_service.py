"""Targeting rules: the targeting function's logic.

A rule document is parsed by the engine before it is stored, so nothing the
evaluation cannot run is ever written.
"""

from __future__ import annotations

from typing import Any

from functions.core import engine, flag_store, notices, rule_store
from functions.core.cache import redis_client
from functions.core.db import Connection, transaction
from functions.core.errors import Unprocessable
from functions.core.models import CreateRuleRequest, Rule, UpdateRuleRequest


class TargetingService:
    def __init__(self, *, database_url: str, redis_url: str) -> None:
        self._database_url = database_url
        self._redis_url = redis_url

    def get_rule(self, flag_name: str) -> Rule:
        with transaction(self._database_url) as conn:
            return rule_store.get_rule(conn, flag_name)

    def create_rule(self, request: CreateRuleRequest) -> Rule:
        with transaction(self._database_url) as conn:
            self._check(conn, request.flag_name, request.rules)
            rule = rule_store.create_rule(
                conn,
                flag_name=request.flag_name,
                rules=request.rules,
                is_enabled=request.is_enabled,
            )
        self._announce(rule.flag_name)
        return rule

    def update_rule(self, flag_name: str, request: UpdateRuleRequest) -> Rule:
        changes = {
            field: getattr(request, field)
            for field in request.model_fields_set
            if getattr(request, field) is not None
        }
        with transaction(self._database_url) as conn:
            if "rules" in changes:
                self._check(conn, flag_name, changes["rules"])
            rule = rule_store.update_rule(conn, flag_name, changes=changes)
        self._announce(flag_name)
        return rule

    def delete_rule(self, flag_name: str) -> None:
        with transaction(self._database_url) as conn:
            rule_store.delete_rule(conn, flag_name)
        self._announce(flag_name)

    @staticmethod
    def _check(conn: Connection, flag_name: str, document: Any) -> None:
        flag_store.get_flag(conn, flag_name)
        try:
            engine.parse_ruleset(document, engine.boolean_definition(flag_name), ())
        except engine.RuleValidationError as exc:
            raise Unprocessable(
                f"invalid rules: {exc.message}", field=exc.path.replace("$", "$.rules", 1)
            ) from None

    def _announce(self, flag_name: str) -> None:
        notices.announce_change(redis_client(self._redis_url), kind="rule", name=flag_name)
