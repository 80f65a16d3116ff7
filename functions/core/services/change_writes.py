"""The one way writers change the configuration or the keys: a transaction that, once
committed, tells evaluation what changed (see `snapshot.notices`).

Triggers bump the version and log the changes whatever the write (see
`stores.config_changes`); this module reads what they logged at the end of the
transaction, before commit (the documents as the transaction leaves them, under the
lock on the version row, so no other writer's change can slip into them), and
publishes after commit, so that no reader ever sees a version PostgreSQL has not made
visible yet. Reads need none of this: they use `adapters.db.transaction`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import LiteralString, Protocol

from functions.core.adapters import db
from functions.core.adapters.db import Connection
from functions.core.keys.signing import Signer
from functions.core.snapshot import notices
from functions.core.snapshot.notices import Notice, NoticeChange
from functions.core.stores import config_changes, key_changes
from functions.core.stores.config_changes import ChangeRef, Document, DocumentKey, SourceState


class _ChangeLog(Protocol):
    """What `stores.config_changes` and `stores.key_changes` both offer."""

    def state(self, conn: Connection, /) -> SourceState: ...

    def pending(self, conn: Connection, /) -> tuple[int, list[ChangeRef]] | None: ...

    def load_documents(
        self, conn: Connection, refs: Iterable[ChangeRef], /
    ) -> dict[DocumentKey, Document | None]: ...


class _Writes:
    _source: str
    _store: _ChangeLog
    _lock_version: LiteralString

    def __init__(
        self, database_url: str, redis_url: str | None, signer: Signer | None = None
    ) -> None:
        self._database_url = database_url
        self._redis_url = redis_url
        self._signer = signer

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction; its notice is published after it commits (none if it
        changed nothing, or without Redis)."""
        notice: Notice | None = None
        # An explicit transaction block: a store's savepoint block that came first would
        # otherwise commit on its own, taking this transaction's version with it.
        with db.transaction(self._database_url) as conn, conn.transaction():
            # The version row first, before any other lock: every writer takes its locks
            # in the same order, so two writers wait for each other but never deadlock
            # (an import locking a flag while a definition update of that flag waits
            # for the version row would otherwise be one).
            conn.execute(self._lock_version)
            yield conn
            if self._redis_url:
                notice = self.notice(conn)
        if notice is not None and self._redis_url:
            notices.publish(self._redis_url, notice, self._signer)

    def notice(self, conn: Connection) -> Notice | None:
        """What this transaction changed, as its notice; call it before commit."""
        found = self._store.pending(conn)
        if found is None:
            return None
        version, refs = found
        epoch = self._store.state(conn).epoch
        entities = {(ref.kind, ref.key) for ref in refs}
        complete = len(entities) <= notices.MAX_DOCUMENTED_ENTITIES
        documents = self._store.load_documents(conn, refs) if complete else {}
        return Notice(
            source=self._source,
            epoch=epoch,
            version=version,
            changes=tuple(
                NoticeChange(ref.kind, ref.key, ref.environment, documents.get((ref.kind, ref.key)))
                for ref in refs
            ),
            complete=complete,
        )


class ConfigWrites(_Writes):
    """Writes to the configuration database (flags, states, rules, segments, environments)."""

    _source = notices.CONFIG_SOURCE
    _store = config_changes
    _lock_version = "SELECT 1 FROM config_state FOR NO KEY UPDATE"

    def __init__(self, database_url: str, redis_url: str) -> None:
        super().__init__(database_url, redis_url)


class KeyWrites(_Writes):
    """Writes to `api_keys` (the auth database). Their notices are signed: without Redis
    or without a signer, nothing is published (readers would ignore an unsigned key
    notice) and readers see the change by their version check."""

    _source = notices.KEYS_SOURCE
    _store = key_changes
    _lock_version = "SELECT 1 FROM key_state FOR NO KEY UPDATE"

    def __init__(
        self, database_url: str, redis_url: str | None, signer: Signer | None = None
    ) -> None:
        super().__init__(database_url, redis_url if signer is not None else None, signer)
