"""Checks that span flags, rules and segments, made the same way by the API and by import:
a definition every stored rule still fits, a segment no rule names before it goes, and
nothing every environment shares changed by a key bound to one."""

from __future__ import annotations

from collections.abc import Iterable

from functions.core import engine
from functions.core.adapters.db import Connection
from functions.core.errors import Forbidden, SegmentInUse, Unprocessable
from functions.core.mappers.definitions import referenced_segments
from functions.core.stores import rules as rule_store
from functions.core.stores import segments as segment_store


def check_stored_rules(
    conn: Connection,
    definition: engine.FlagDefinition,
    *,
    field: str,
    skip_environments: Iterable[str] = (),
) -> None:
    """Refuse (422 on `field`) a definition that a stored rule of the flag would not fit.

    The definition is shared by every environment, so every environment's rules are
    checked, except those the caller replaces in the same transaction.
    """
    skipped = set(skip_environments)
    for rule in rule_store.rules_of_flag(conn, definition.key):
        if rule.environment in skipped:
            continue
        try:
            engine.parse_ruleset(
                rule.rules,
                definition,
                referenced_segments(rule.rules),
                grammar=engine.Grammar(rule.grammar),
            )
        except engine.RuleValidationError as exc:
            raise Unprocessable(
                f"the rules of flag '{definition.key}' in environment '{rule.environment}'"
                f" would no longer be valid ({exc.path}: {exc.message}): change them first",
                field=field,
                environment=rule.environment,
                rule_field=exc.path,
            ) from None


def refuse_shared_changes(bound_to: str, fields: list[str]) -> None:
    """403 naming `fields` when there are any: a key bound to `bound_to` changes flag
    states and rules there, never what every environment sees."""
    if fields:
        raise Forbidden(
            f"this API key is bound to environment '{bound_to}' and cannot change the flag's"
            f" {' or '.join(fields)}, which every environment shares; that takes a key that"
            " is not bound to an environment",
            key_environment=bound_to,
            shared_fields=fields,
        )


def delete_unused_segment(conn: Connection, key: str) -> None:
    """Delete the segment, or refuse (409 naming the flags and rules) while a stored rule
    names it. The row is locked first, so a rule being written that names it finishes
    before the check."""
    segment_store.lock_segment(conn, key)
    users = rule_store.rules_naming_segment(conn, key)
    if users:
        flags = sorted({use["flag_name"] for use in users})
        raise SegmentInUse(
            f"segment '{key}' is used by the rules of {', '.join(flags)}: change those rules first",
            segment=key,
            flags=flags,
            rules=users,
        )
    segment_store.delete_segment(conn, key)
