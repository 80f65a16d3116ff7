"""The migrations in `sql/` are the only schema (seed report §1.1–§1.3).

Each component (`auth`, `flags`, `targeting`) has numbered files `NNN_name.sql`.
Applying records each file with its checksum in `schema_migrations`, under an
advisory lock, one transaction per file, so running twice or concurrently is safe
and an edited, already-applied file is refused instead of silently diverging.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg

from functions.core.names import is_environment_name

COMPONENTS_BY_DATABASE = {"auth": ("auth",), "config": ("flags", "targeting")}
_FILE_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")
_LOCK_ID = 0x746D5F6D  # "tm_m": one advisory lock for every migration run

_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    component  TEXT        NOT NULL,
    version    INTEGER     NOT NULL,
    name       TEXT        NOT NULL,
    checksum   CHAR(64)    NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (component, version)
)
"""


class MigrationError(Exception):
    """A migration cannot be applied, or the recorded history disagrees with `sql/`."""


@dataclass(frozen=True, slots=True)
class Migration:
    component: str
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def default_environment() -> str:
    """Where a migration puts what existed before environments (DEFAULT_ENVIRONMENT)."""
    value = os.environ.get("DEFAULT_ENVIRONMENT") or "production"
    if not is_environment_name(value):
        raise MigrationError(f"DEFAULT_ENVIRONMENT '{value}' is not a valid environment key")
    return value


def sql_dir() -> Path:
    configured = os.environ.get("TOGGLEMASTER_SQL_DIR")
    return Path(configured) if configured else Path(__file__).resolve().parents[3] / "sql"


def discover(component: str, root: Path | None = None) -> list[Migration]:
    folder = (root or sql_dir()) / component
    if not folder.is_dir():
        raise MigrationError(f"no migrations folder {folder}")
    found = []
    for path in sorted(folder.iterdir()):
        match = _FILE_NAME.match(path.name)
        if match:
            found.append(
                Migration(component, int(match[1]), match[2], path.read_text(encoding="utf-8"))
            )
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise MigrationError(f"migrations of {component} are not numbered 001, 002, …: {versions}")
    return found


def migrate(database_url: str, components: Sequence[str], root: Path | None = None) -> list[str]:
    """Apply what is missing; return the names applied now (empty when up to date)."""
    applied_now: list[str] = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "SELECT set_config('togglemaster.default_environment', %s, false)",
            (default_environment(),),
        )
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
        try:
            conn.execute(_BOOKKEEPING)
            for component in components:
                applied_now += _apply_component(conn, component, root)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))
    return applied_now


def _apply_component(
    conn: psycopg.Connection[tuple[object, ...]], component: str, root: Path | None
) -> list[str]:
    recorded = {
        version: checksum
        for version, checksum in conn.execute(
            "SELECT version, checksum FROM schema_migrations WHERE component = %s", (component,)
        ).fetchall()
    }
    applied = []
    for migration in discover(component, root):
        label = f"{component}/{migration.version:03d}_{migration.name}"
        if migration.version in recorded:
            if str(recorded[migration.version]).strip() != migration.checksum:
                raise MigrationError(f"{label}.sql was changed after it was applied")
            continue
        try:
            with conn.transaction():
                conn.execute(migration.sql.encode())
                conn.execute(
                    "INSERT INTO schema_migrations (component, version, name, checksum)"
                    " VALUES (%s, %s, %s, %s)",
                    (component, migration.version, migration.name, migration.checksum),
                )
        except psycopg.Error as exc:
            raise MigrationError(f"{label}.sql failed: {exc}") from exc
        applied.append(label)
    return applied


def pending(conn: psycopg.Connection[dict[str, object]], components: Sequence[str]) -> list[str]:
    """Migrations not yet applied to this database; readiness fails while any remain."""
    exists = conn.execute("SELECT to_regclass('schema_migrations') AS t").fetchone()
    if not exists or exists["t"] is None:
        return [f"{c}/*" for c in components]
    missing = []
    for component in components:
        rows = conn.execute(
            "SELECT version FROM schema_migrations WHERE component = %s", (component,)
        ).fetchall()
        done = {row["version"] for row in rows}
        missing += [
            f"{component}/{m.version:03d}_{m.name}"
            for m in discover(component)
            if m.version not in done
        ]
    return missing
