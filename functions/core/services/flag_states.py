"""A flag's decision in one environment -- on or off, and its rule -- read, compared and
written the same way by promotion and by import."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from functions.core.adapters.db import Connection
from functions.core.stores import flags as flag_store
from functions.core.stores import rules as rule_store


@dataclass(frozen=True, slots=True)
class FlagState:
    enabled: bool
    rule: dict[str, Any] | None
    """`{"is_enabled", "rules"}`: what decides, without ids and timestamps; None: no rule."""


def read(conn: Connection, name: str, *, environment: str) -> FlagState:
    enabled = flag_store.get_flag(conn, name, environment=environment).is_enabled
    return FlagState(
        enabled, rule_store.rule_view(rule_store.find_rule(conn, name, environment=environment))
    )


def differences(was: FlagState, becomes: FlagState) -> dict[str, Any]:
    """`{"is_enabled": {"from", "to"}, "rule": {"from", "to"}}`, naming only what differs."""
    changes: dict[str, Any] = {}
    if was.enabled != becomes.enabled:
        changes["is_enabled"] = {"from": was.enabled, "to": becomes.enabled}
    if was.rule != becomes.rule:
        changes["rule"] = {"from": was.rule, "to": becomes.rule}
    return changes


def write(conn: Connection, name: str, flag_id: int, *, environment: str, state: FlagState) -> None:
    flag_store.set_enabled(conn, flag_id=flag_id, environment=environment, is_enabled=state.enabled)
    if state.rule is None:
        rule_store.delete_rule(conn, name, environment=environment)
    else:
        rule_store.put_rule(
            conn,
            flag_name=name,
            environment=environment,
            rules=state.rule["rules"],
            is_enabled=state.rule["is_enabled"],
        )
