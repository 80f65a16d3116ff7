"""A flag's decision in one environment -- on or off, and its rule -- read, compared and
written the same way by promotion and by import."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from functions.core.adapters.db import Connection
from functions.core.models.targeting import Rule
from functions.core.stores import flags as flag_store
from functions.core.stores import rules as rule_store


@dataclass(frozen=True, slots=True)
class FlagState:
    enabled: bool
    rule: dict[str, Any] | None
    """`{"is_enabled", "rules", "grammar"}`: what decides, without ids and timestamps;
    None: no rule."""


@dataclass(frozen=True, slots=True)
class EnvironmentStates:
    """Every flag's state in one environment, read in two statements whatever the number
    of flags (export and import plans would otherwise read two per flag)."""

    enabled: Mapping[str, bool]
    rules: Mapping[str, Rule]

    def of(self, name: str) -> FlagState:
        """A flag the reading did not see (created since, or absent) is off, without rule."""
        return FlagState(self.enabled.get(name, False), rule_store.rule_view(self.rules.get(name)))


def read(conn: Connection, name: str, *, environment: str) -> FlagState:
    enabled = flag_store.get_flag(conn, name, environment=environment).is_enabled
    return FlagState(
        enabled, rule_store.rule_view(rule_store.find_rule(conn, name, environment=environment))
    )


def read_environment(conn: Connection, *, environment: str) -> EnvironmentStates:
    return EnvironmentStates(
        enabled=flag_store.states_of_environment(conn, environment=environment),
        rules=rule_store.rules_of_environment(conn, environment=environment),
    )


def differences(was: FlagState, becomes: FlagState) -> dict[str, Any]:
    """`{"is_enabled": {"from", "to"}, "rule": {"from", "to"}}`, naming only what differs."""
    changes: dict[str, Any] = {}
    if was.enabled != becomes.enabled:
        changes["is_enabled"] = {"from": was.enabled, "to": becomes.enabled}
    if was.rule != becomes.rule:
        changes["rule"] = {"from": was.rule, "to": becomes.rule}
    return changes


@dataclass(frozen=True, slots=True)
class StateWrite:
    """`state` becomes what flag `name` decides in `environment`."""

    name: str
    environment: str
    state: FlagState


def write(conn: Connection, writes: Sequence[StateWrite]) -> None:
    """In a few pipelined statements however many flags change (an import may change
    thousands); the flags exist and their definitions are final."""
    flag_store.set_states(conn, [(c.name, c.environment, c.state.enabled) for c in writes])
    rule_store.put_rules(
        conn,
        [
            (
                c.name,
                c.environment,
                c.state.rule["rules"],
                c.state.rule["is_enabled"],
                c.state.rule["grammar"],
            )
            for c in writes
            if c.state.rule is not None
        ],
    )
    rule_store.delete_rules(conn, [(c.name, c.environment) for c in writes if c.state.rule is None])


def clear(conn: Connection, flags: Sequence[tuple[str, str]]) -> None:
    """Each `(flag name, environment)` forgets its state and rule: off, as a flag that was
    never set there."""
    flag_store.clear_states(conn, flags)
    rule_store.delete_rules(conn, flags)
