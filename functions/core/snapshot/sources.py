"""The source of truth as evaluation reads it: PostgreSQL, read-only, from one
connection per database held by the keeper's thread (never by a request).

Each read is one REPEATABLE READ transaction, so a version and the documents read
with it belong together. The stores know the tables; this module only owns the
connection and turns rows into snapshot changes.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from psycopg.rows import dict_row

from functions.core.errors import ServiceUnavailable
from functions.core.snapshot.state import KEY, Change, Document, Version
from functions.core.stores import config_changes, key_changes

log = logging.getLogger(__name__)

T = TypeVar("T")
Connection = psycopg.Connection[dict[str, Any]]

CONNECT_TIMEOUT_SECONDS = 2
STATEMENT_TIMEOUT_MS = 5_000


@dataclass(frozen=True, slots=True)
class Whole:
    """A whole source as read in one transaction."""

    version: Version
    documents: dict[tuple[str, str], Document]
    env_versions: dict[str, int]


@dataclass(frozen=True, slots=True)
class Delta:
    """What changed after a version: None `changes` means the log no longer reaches
    back that far (read the whole source instead)."""

    version: Version
    changes: list[Change] | None


class ReadOnlyDatabase:
    """One lazily opened, read-only connection; reopened after any failure."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._conn: Connection | None = None

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        try:
            conn = self._connection()
            with conn.transaction():
                yield conn
        except psycopg.Error as exc:
            self.close()
            raise ServiceUnavailable(f"the database is unavailable: {type(exc).__name__}") from exc

    def read(self, reader: Callable[[Connection], T]) -> T:
        with self.transaction() as conn:
            return reader(conn)

    def forget(self) -> None:
        """In a forked child: drop the parent's connection without closing it (closing
        would end the parent's session on the shared socket)."""
        self._conn = None

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()

    def _connection(self) -> Connection:
        if self._conn is None or self._conn.closed:
            conn = psycopg.connect(
                self._url,
                autocommit=True,
                row_factory=dict_row,
                connect_timeout=CONNECT_TIMEOUT_SECONDS,
                options=(
                    "-c default_transaction_read_only=on"
                    " -c default_transaction_isolation=repeatable\\ read"
                    f" -c statement_timeout={STATEMENT_TIMEOUT_MS}"
                ),
                application_name="togglemaster-evaluation",
            )
            self._conn = conn
        return self._conn


class ConfigSource:
    def __init__(self, database: ReadOnlyDatabase) -> None:
        self._db = database

    def forget(self) -> None:
        self._db.forget()

    def version(self) -> Version:
        state = self._db.read(config_changes.state)
        return Version(state.epoch, state.version)

    def whole(self) -> Whole:
        def read(conn: Connection) -> Whole:
            state, documents, env_versions = config_changes.load_all(conn)
            return Whole(Version(state.epoch, state.version), dict(documents), dict(env_versions))

        return self._db.read(read)

    def since(self, version: int) -> Delta:
        def read(conn: Connection) -> Delta:
            state = config_changes.state(conn)
            at = Version(state.epoch, state.version)
            refs = config_changes.changes_since(conn, version)
            if refs is None:
                return Delta(at, None)
            documents = config_changes.load_documents(conn, refs)
            return Delta(
                at,
                [
                    Change(ref.kind, ref.key, ref.environment, documents.get((ref.kind, ref.key)))
                    for ref in refs
                ],
            )

        return self._db.read(read)


class KeySource:
    def __init__(self, database: ReadOnlyDatabase) -> None:
        self._db = database

    def forget(self) -> None:
        self._db.forget()

    def version(self) -> Version:
        state = self._db.read(key_changes.state)
        return Version(state.epoch, state.version)

    def whole(self) -> Whole:
        def read(conn: Connection) -> Whole:
            state, documents, _ = key_changes.load_all(conn)
            return Whole(Version(state.epoch, state.version), dict(documents), {})

        return self._db.read(read)

    def since(self, version: int) -> Delta:
        def read(conn: Connection) -> Delta:
            state = key_changes.state(conn)
            at = Version(state.epoch, state.version)
            refs = key_changes.changes_since(conn, version)
            if refs is None:
                return Delta(at, None)
            documents: Mapping[tuple[str, str], Document | None] = key_changes.load_documents(
                conn, refs
            )
            return Delta(
                at, [Change(KEY, ref.key, None, documents.get((KEY, ref.key))) for ref in refs]
            )

        return self._db.read(read)
