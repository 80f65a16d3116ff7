"""What the overview reads: one page of flags, with their states and rule rows, from the
`flags`, `flag_states` and `targeting_rules` tables (read-only, across both owners: the
configuration database holds them together).

Four statements a page, whatever its size; read them in one REPEATABLE READ transaction
(`adapters.db.snapshot_transaction`) so that the page is one consistent view.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from functions.core.adapters.db import Connection


@dataclass(slots=True)
class FlagRows:
    """One flag's row, with its state and rule rows by environment."""

    flag: dict[str, Any]
    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)


def config_version(conn: Connection) -> int:
    row = conn.execute("SELECT version FROM config_state").fetchone()
    assert row is not None, "config_state has one row from its migration on"
    return int(row["version"])


def flag_page(
    conn: Connection,
    *,
    after: str | None,
    limit: int,
    tags: Sequence[str],
    include_archived: bool,
    environments: Sequence[str],
) -> list[FlagRows]:
    """Up to `limit` flags named after `after`, by name; with `tags`, only flags carrying
    all of them. States and rules only of `environments`."""
    conditions = ["f.name > %(after)s"] if after is not None else []
    if tags:
        conditions.append("f.tags @> %(tags)s::text[]")
    if not include_archived:
        conditions.append("f.archived_at IS NULL")
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    flags = conn.execute(
        "SELECT f.id, f.name, f.description, f.type, f.default_variant, f.off_variant, f.tags,"
        " f.owner, f.archived_at IS NOT NULL AS archived, f.created_at, f.updated_at"
        f" FROM flags f{where} ORDER BY f.name LIMIT %(limit)s",
        {"after": after, "tags": list(tags), "limit": limit},
    ).fetchall()
    page = {row["name"]: FlagRows(flag=row) for row in flags}
    if not page:
        return []
    by_id = {rows.flag["id"]: rows for rows in page.values()}
    wanted = {"ids": list(by_id), "names": list(page), "environments": list(environments)}
    for state in conn.execute(
        "SELECT flag_id, environment, is_enabled, updated_at FROM flag_states"
        " WHERE flag_id = ANY(%(ids)s) AND environment = ANY(%(environments)s)",
        wanted,
    ).fetchall():
        by_id[state["flag_id"]].states[state["environment"]] = state
    for rule in conn.execute(
        "SELECT flag_name, environment, is_enabled, rules, updated_at FROM targeting_rules"
        " WHERE flag_name = ANY(%(names)s) AND environment = ANY(%(environments)s)",
        wanted,
    ).fetchall():
        page[rule["flag_name"]].rules[rule["environment"]] = rule
    return list(page.values())
