"""The configuration's version and change log (`config_state`, `config_changes`), and the
documents evaluation holds, read from the configuration tables.

Triggers write the log (sql/targeting/004_change_log.sql): the first change of a
transaction bumps the version, every row written names the entity it changed. This
module only reads: what this transaction changed (`pending`, for the writer's notice),
what changed since a version (`changes_since`, for a reader that missed notices), the
documents of some entities (`load_documents`) or of all of them (`load_all`).

Documents, one shape for the notices, the Redis copy and the loads:

- flag: `{"name", "type", "variants", "off_variant", "default_variant", "archived",
  "states": {environment: bool}, "rules": {environment: {"rules", "is_enabled",
  "grammar"}}}`; an environment without a stored state is off, one without a rule has none.
- segment: the stored segment document, plus `"grammar"` when it is not 1 (a process
  that predates grammars refuses unknown members of a segment document, and still reads
  every grammar-1 segment). A rule or segment without `grammar` is grammar 1.
- environment: `{"key", "name"}`.

A ref's `environment` is None when the change reaches every environment (a flag's
definition, created or deleted). A flag's per-environment refs are left out when the
same version also changed the flag itself, which covers them: the triggers do not log
them after it, `collapse` drops those logged before it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from psycopg.rows import tuple_row

from functions.core.adapters.db import Connection
from functions.core.memory import collector_paused

KINDS = ("flag", "segment", "environment")
VERSION_SETTING = "togglemaster.config_version"
"""The transaction-local setting the triggers keep this transaction's version in."""

Document = dict[str, Any]
DocumentKey = tuple[str, str]
"""`(kind, key)`."""


@dataclass(frozen=True, slots=True)
class ChangeRef:
    """One entity a version changed: `kind` is flag, segment or environment."""

    kind: str
    key: str
    environment: str | None = None


@dataclass(frozen=True, slots=True)
class SourceState:
    """Where a source stands: a version means something only within its epoch (a database
    made anew starts a new epoch, and counts from 0 again)."""

    epoch: str
    version: int


def state(conn: Connection) -> SourceState:
    row = conn.execute("SELECT epoch::text AS epoch, version FROM config_state").fetchone()
    assert row is not None, "config_state has one row from its migration on"
    return SourceState(epoch=str(row["epoch"]), version=int(row["version"]))


def pending(conn: Connection) -> tuple[int, list[ChangeRef]] | None:
    """This transaction's version and what it changed so far; None if it changed nothing.

    Call it at the end of the transaction, before commit: the version is final (it was
    taken by the first change), the refs are those of the rows written until now.
    """
    version = transaction_version(conn, VERSION_SETTING)
    if version is None:
        return None
    with conn.cursor(row_factory=tuple_row) as cursor:
        rows = cursor.execute(
            "SELECT kind, key, environment FROM config_changes WHERE version = %s", (version,)
        ).fetchall()
    return version, collapse(ChangeRef(kind, key, environment) for kind, key, environment in rows)


def changes_since(conn: Connection, version: int) -> list[ChangeRef] | None:
    """What changed after `version` up to the current one, each entity once; None when the
    log cannot say: it no longer reaches back that far (older rows pruned), or `version`
    is ahead of the database's (restored from a backup): reload everything instead.

    Read it in the transaction that reads `state()` and the documents, so that the three
    agree (see `load_all` on REPEATABLE READ).
    """
    row = conn.execute(
        "SELECT s.version AS current, (SELECT min(version) FROM config_changes) AS oldest"
        " FROM config_state s"
    ).fetchone()
    assert row is not None
    replay = log_replays(version, int(row["current"]), row["oldest"])
    if replay is not True:
        return None if replay is None else []
    with conn.cursor(row_factory=tuple_row) as cursor:
        rows = cursor.execute(
            "SELECT kind, key, environment FROM config_changes WHERE version > %s ORDER BY version",
            (version,),
        ).fetchall()
    return collapse(ChangeRef(kind, key, environment) for kind, key, environment in rows)


def transaction_version(conn: Connection, setting: str) -> int | None:
    """The version a trigger took for this transaction (kept in the transaction-local
    `setting`); None when the transaction changed nothing."""
    row = conn.execute(
        "SELECT NULLIF(current_setting(%s, true), '')::bigint AS version", (setting,)
    ).fetchone()
    return None if row is None or row["version"] is None else int(row["version"])


def log_replays(version: int, current: int, oldest: int | None) -> bool | None:
    """Whether a reader at `version` catches up by replaying the log (True), has nothing
    to catch up (False), or cannot rely on the log (None): it no longer reaches back that
    far, or `version` is ahead of the database's (restored from a backup)."""
    if version == current:
        return False
    if version > current or version < 0 or oldest is None or version < int(oldest) - 1:
        return None
    return True


def collapse(refs: Iterable[ChangeRef]) -> list[ChangeRef]:
    """Each ref once, in first-seen order; a flag's per-environment refs are left out when
    the flag itself (every environment) is among them."""
    unique = list(dict.fromkeys(refs))
    whole = {ref.key for ref in unique if ref.kind == "flag" and ref.environment is None}
    return [
        ref
        for ref in unique
        if not (ref.kind == "flag" and ref.environment is not None and ref.key in whole)
    ]


def load_documents(
    conn: Connection, refs: Iterable[ChangeRef]
) -> dict[DocumentKey, Document | None]:
    """The current document of each entity `refs` name; None for one that is gone."""
    wanted: dict[str, set[str]] = {kind: set() for kind in KINDS}
    for ref in refs:
        wanted[ref.kind].add(ref.key)
    found: dict[DocumentKey, Document | None] = {
        (kind, key): None for kind, keys in wanted.items() for key in keys
    }
    if wanted["flag"]:
        found.update(_flags(conn, sorted(wanted["flag"])))
    if wanted["segment"]:
        found.update(_segments(conn, sorted(wanted["segment"])))
    if wanted["environment"]:
        found.update(_environments(conn, sorted(wanted["environment"])))
    return found


def load_all(
    conn: Connection,
) -> tuple[SourceState, dict[DocumentKey, Document], dict[str, int]]:
    """Every document, the state they are at, and each environment's version: that of the
    last change its decisions depend on (its flags' states and rules, any flag's
    definition, any segment, the environment itself).

    `conn` must be in a REPEATABLE READ transaction (`adapters.db.snapshot_transaction`):
    the statements must all see one snapshot, or a change committed between two of them
    would be half seen and tagged with a version that does not include it.
    A handful of set-based statements, whatever the number of flags.
    """
    current = state(conn)
    documents: dict[DocumentKey, Document] = {}
    # Tens of thousands of dicts and no cycles: the collector would walk them repeatedly.
    with collector_paused():
        documents.update(_flags(conn, None))
        documents.update(_segments(conn, None))
        documents.update(_environments(conn, None))
    environments = [key for kind, key in documents if kind == "environment"]
    return current, documents, _environment_versions(conn, environments, current.version)


def _where(column: str, keys: Sequence[str] | None) -> tuple[str, tuple[Any, ...]]:
    return ("", ()) if keys is None else (f" WHERE {column} = ANY(%s)", (list(keys),))


def _flags(conn: Connection, names: Sequence[str] | None) -> dict[DocumentKey, Document]:
    """Flag documents (all of them when `names` is None) in three statements.

    JSON columns come as text and are parsed in one call per statement: psycopg would
    parse them one value at a time, which costs more than the parsing itself with
    10 000 flags.
    """
    flags: dict[str, Document] = {}
    by_id: dict[int, Document] = {}
    with conn.cursor(row_factory=tuple_row) as cursor:
        where, params = _where("f.name", names)
        rows = cursor.execute(
            "SELECT f.id, f.name, f.type, f.variants::text, f.off_variant, f.default_variant,"
            f" f.archived_at IS NOT NULL FROM flags f{where}",
            params,
        ).fetchall()
        variants = _parse_all(row[3] for row in rows)
        for (flag_id, name, kind, _, off, default, archived), values in zip(
            rows, variants, strict=True
        ):
            document = {
                "name": name,
                "type": kind,
                "variants": values,
                "off_variant": off,
                "default_variant": default,
                "archived": archived,
                "states": {},
                "rules": {},
            }
            flags[name] = by_id[flag_id] = document
        for flag_id, environment, enabled in cursor.execute(
            "SELECT s.flag_id, s.environment, s.is_enabled FROM flag_states s"
            + ("" if names is None else " JOIN flags f ON f.id = s.flag_id" + where),
            params,
        ).fetchall():
            found = by_id.get(flag_id)
            if found is not None:  # a flag created after its row was read (READ COMMITTED)
                found["states"][environment] = enabled
        where, params = _where("r.flag_name", names)
        rows = cursor.execute(
            "SELECT r.flag_name, r.environment, r.rules::text, r.is_enabled, r.grammar"
            f" FROM targeting_rules r{where}",
            params,
        ).fetchall()
        for (name, environment, _, enabled, grammar), rules in zip(
            rows, _parse_all(row[2] for row in rows), strict=True
        ):
            found = flags.get(name)
            if found is not None:
                found["rules"][environment] = {
                    "rules": rules,
                    "is_enabled": enabled,
                    "grammar": grammar,
                }
    return {("flag", name): document for name, document in flags.items()}


def _parse_all(texts: Iterable[str]) -> list[Any]:
    """Many JSON texts (each a whole value, as PostgreSQL prints them) in one parse."""
    return list(json.loads("[" + ",".join(texts) + "]"))


def _segments(conn: Connection, keys: Sequence[str] | None) -> dict[DocumentKey, Document]:
    where, params = _where("key", keys)
    with conn.cursor(row_factory=tuple_row) as cursor:
        rows = cursor.execute(
            f"SELECT key, document, grammar FROM segments{where}", params
        ).fetchall()
    return {
        ("segment", key): document if grammar == 1 else {**document, "grammar": grammar}
        for key, document, grammar in rows
    }


def _environments(conn: Connection, keys: Sequence[str] | None) -> dict[DocumentKey, Document]:
    where, params = _where("key", keys)
    with conn.cursor(row_factory=tuple_row) as cursor:
        rows = cursor.execute(f"SELECT key, name FROM environments{where}", params).fetchall()
    return {("environment", key): {"key": key, "name": name} for key, name in rows}


def _environment_versions(
    conn: Connection, environments: Sequence[str], current: int
) -> dict[str, int]:
    """An environment without a change in the log changed last at or before the log's
    beginning (the version before its oldest row, or the current one if it is empty)."""
    with conn.cursor(row_factory=tuple_row) as cursor:
        shared = cursor.execute(
            "SELECT max(version) FILTER (WHERE kind = 'segment'"
            "   OR (kind = 'flag' AND environment IS NULL)),"
            " min(version) - 1 FROM config_changes"
        ).fetchone()
        own = cursor.execute(
            "SELECT CASE WHEN kind = 'environment' THEN key ELSE environment END, max(version)"
            " FROM config_changes WHERE kind = 'environment' OR environment IS NOT NULL"
            " GROUP BY 1"
        ).fetchall()
    assert shared is not None
    latest_shared, floor = shared
    base = max(
        latest_shared if latest_shared is not None else 0,
        floor if floor is not None else current,
    )
    last: dict[str, int] = {key: int(version) for key, version in own}
    return {key: max(base, last.get(key) or 0) for key in environments}
