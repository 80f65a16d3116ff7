"""The `flags` and `flag_states` tables, owned by the flags function.

A flag's definition (name, description, type, variants, tags, owner, archiving) is
one row in `flags`, shared by every environment; its on/off state is one row per
environment in `flag_states`, a missing row meaning "disabled". Definitions reach
this module already checked (`mappers.definitions.flag_definition`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from functions.core import engine
from functions.core.adapters.db import Connection
from functions.core.errors import Conflict, FlagNotFound
from functions.core.models.flags import Flag

_SELECT = """
SELECT f.id, f.name, f.description, COALESCE(s.is_enabled, FALSE) AS is_enabled,
       f.created_at, f.updated_at, %(environment)s::text AS environment,
       f.type, f.variants, f.off_variant, f.default_variant, f.tags, f.owner,
       f.archived_at IS NOT NULL AS archived, f.archived_at
FROM flags f
LEFT JOIN flag_states s ON s.flag_id = f.id AND s.environment = %(environment)s
"""


@dataclass(frozen=True, slots=True)
class Definition:
    """The shared columns of a flag, as written."""

    type: str = "boolean"
    variants: dict[str, Any] | None = None
    off_variant: str = "off"
    default_variant: str = "on"
    tags: Sequence[str] = ()
    owner: str | None = None
    archived: bool = False

    def __post_init__(self) -> None:
        if self.variants is None:
            object.__setattr__(self, "variants", {"on": True, "off": False})

    @classmethod
    def of(
        cls,
        definition: engine.FlagDefinition,
        *,
        tags: Sequence[str],
        owner: str | None,
        archived: bool = False,
    ) -> Definition:
        """A checked engine definition plus the descriptive fields."""
        return cls(
            type=definition.kind.value,
            variants=dict(definition.variants),
            off_variant=definition.off_variant,
            default_variant=definition.default_variant,
            tags=tuple(sorted(set(tags))),
            owner=owner,
            archived=archived,
        )


def _missing(name: str) -> FlagNotFound:
    return FlagNotFound(f"flag '{name}' not found", flag_name=name)


def list_flags(
    conn: Connection,
    *,
    environment: str,
    tags: Sequence[str] = (),
    include_archived: bool = True,
) -> list[Flag]:
    """Ordered by name; with `tags`, only flags carrying all of them."""
    conditions = ["f.tags @> %(tags)s::text[]"] if tags else []
    if not include_archived:
        conditions.append("f.archived_at IS NULL")
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    rows = conn.execute(
        _SELECT + where + " ORDER BY f.name", {"environment": environment, "tags": list(tags)}
    ).fetchall()
    return [Flag.model_validate(row) for row in rows]


def get_flag(conn: Connection, name: str, *, environment: str) -> Flag:
    row = conn.execute(
        _SELECT + " WHERE f.name = %(name)s", {"environment": environment, "name": name}
    ).fetchone()
    if row is None:
        raise _missing(name)
    return Flag.model_validate(row)


def create_flag(
    conn: Connection,
    *,
    name: str,
    description: str | None,
    is_enabled: bool,
    environment: str,
    definition: Definition | None = None,
) -> Flag:
    """The flag starts with `is_enabled` in `environment` and disabled everywhere else."""
    shape = definition or Definition()
    try:
        with conn.transaction():
            row = conn.execute(
                "INSERT INTO flags (name, description, type, variants, off_variant,"
                " default_variant, tags, owner, archived_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, CASE WHEN %s THEN now() END)"
                " RETURNING id",
                (
                    name,
                    description,
                    shape.type,
                    Jsonb(shape.variants),
                    shape.off_variant,
                    shape.default_variant,
                    sorted(set(shape.tags)),
                    shape.owner,
                    shape.archived,
                ),
            ).fetchone()
    except psycopg.errors.UniqueViolation:
        raise Conflict(
            f"flag '{name}' already exists: change it with PUT /flags/{name}", flag_name=name
        ) from None
    assert row is not None
    set_enabled(conn, flag_id=int(row["id"]), environment=environment, is_enabled=is_enabled)
    return get_flag(conn, name, environment=environment)


def update_flag(
    conn: Connection,
    name: str,
    *,
    environment: str,
    description: str | None = None,
    set_description: bool = False,
    is_enabled: bool | None = None,
) -> Flag:
    row = conn.execute(
        "UPDATE flags SET description = CASE WHEN %s THEN %s ELSE description END,"
        " updated_at = now() WHERE name = %s RETURNING id",
        (set_description, description, name),
    ).fetchone()
    if row is None:
        raise _missing(name)
    if is_enabled is not None:
        set_enabled(conn, flag_id=int(row["id"]), environment=environment, is_enabled=is_enabled)
    return get_flag(conn, name, environment=environment)


def set_definition(conn: Connection, name: str, definition: Definition) -> None:
    """Replace the shared columns; `archived_at` keeps the moment it was first archived."""
    cursor = conn.execute(
        "UPDATE flags SET type = %s, variants = %s, off_variant = %s, default_variant = %s,"
        " tags = %s, owner = %s,"
        " archived_at = CASE WHEN %s THEN COALESCE(archived_at, now()) END,"
        " updated_at = now() WHERE name = %s",
        (
            definition.type,
            Jsonb(definition.variants),
            definition.off_variant,
            definition.default_variant,
            sorted(set(definition.tags)),
            definition.owner,
            definition.archived,
            name,
        ),
    )
    if cursor.rowcount == 0:
        raise _missing(name)


def set_enabled(conn: Connection, *, flag_id: int, environment: str, is_enabled: bool) -> None:
    conn.execute(
        "INSERT INTO flag_states (flag_id, environment, is_enabled) VALUES (%s, %s, %s)"
        " ON CONFLICT (flag_id, environment)"
        " DO UPDATE SET is_enabled = EXCLUDED.is_enabled, updated_at = now()"
        " WHERE flag_states.is_enabled IS DISTINCT FROM EXCLUDED.is_enabled",
        (flag_id, environment, is_enabled),
    )


def states_of_environment(conn: Connection, *, environment: str) -> dict[str, bool]:
    """Every flag's state in `environment` by name, in one statement: export and import
    plans read a whole environment at once, whatever the number of flags."""
    rows = conn.execute(
        "SELECT f.name, COALESCE(s.is_enabled, FALSE) AS is_enabled FROM flags f"
        " LEFT JOIN flag_states s ON s.flag_id = f.id AND s.environment = %s",
        (environment,),
    ).fetchall()
    return {row["name"]: row["is_enabled"] for row in rows}


def set_states(conn: Connection, states: Sequence[tuple[str, str, bool]]) -> None:
    """`(flag name, environment, is_enabled)` for many flags, pipelined (import, promotion).
    A state written unchanged is left alone: no new configuration version (the ETag
    changes only when something does), and its `updated_at` keeps saying when it changed.

    A flag deleted meanwhile has no id: the NOT NULL refusal becomes a conflict.
    """
    if states:
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO flag_states (flag_id, environment, is_enabled)"
                " VALUES ((SELECT id FROM flags WHERE name = %s), %s, %s)"
                " ON CONFLICT (flag_id, environment)"
                " DO UPDATE SET is_enabled = EXCLUDED.is_enabled, updated_at = now()"
                " WHERE flag_states.is_enabled IS DISTINCT FROM EXCLUDED.is_enabled",
                states,
            )


def clear_states(conn: Connection, states: Sequence[tuple[str, str]]) -> None:
    """Forget the stored state of each `(flag name, environment)`: disabled (import)."""
    if states:
        with conn.cursor() as cursor:
            cursor.executemany(
                "DELETE FROM flag_states WHERE environment = %s"
                " AND flag_id = (SELECT id FROM flags WHERE name = %s)",
                [(environment, name) for name, environment in states],
            )


def delete_flag(conn: Connection, name: str) -> None:
    """Deletes the definition with its state and rules in every environment."""
    if conn.execute("DELETE FROM flags WHERE name = %s", (name,)).rowcount == 0:
        raise _missing(name)


def lock_flag(conn: Connection, name: str) -> int:
    """The flag's id, locked until the transaction ends (promotion, import, definition)."""
    row = conn.execute("SELECT id FROM flags WHERE name = %s FOR UPDATE", (name,)).fetchone()
    if row is None:
        raise _missing(name)
    return int(row["id"])


def definition_for_rules(conn: Connection, name: str) -> dict[str, Any]:
    """The definition's columns, share-locked so that it cannot change before a rule
    checked against it commits."""
    row = conn.execute(
        "SELECT type, variants, off_variant, default_variant FROM flags WHERE name = %s FOR SHARE",
        (name,),
    ).fetchone()
    if row is None:
        raise _missing(name)
    return dict(row)


def definitions_for_prerequisites(
    conn: Connection, names: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """The definitions of the flags a rule requires, by name (absent ones are missing),
    share-locked so that none is deleted, archived or changed before the rule commits."""
    if not names:
        return {}
    rows = conn.execute(
        "SELECT name, type, variants, off_variant, default_variant,"
        " archived_at IS NOT NULL AS archived FROM flags WHERE name = ANY(%s)"
        " ORDER BY name FOR SHARE",
        (list(names),),
    ).fetchall()
    return {row["name"]: dict(row) for row in rows}


_IMPORT_LOCK = 0x746D5F69  # "tm_i"


def lock_imports(conn: Connection) -> None:
    """One import at a time, until the transaction ends."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_IMPORT_LOCK,))
