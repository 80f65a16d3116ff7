"""PostgreSQL connection pools, one per database URL and per process.

Pools are built on first use, never at import, so a forked server worker opens its
own connections.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from functions.core.errors import BadRequest, Conflict, ServiceUnavailable

Connection = psycopg.Connection[dict[str, Any]]

_pools: dict[str, ConnectionPool] = {}
_lock = threading.Lock()


def pool(database_url: str) -> ConnectionPool:
    with _lock:
        found = _pools.get(database_url)
        if found is None:
            found = ConnectionPool(
                database_url,
                min_size=1,
                max_size=8,
                kwargs={"row_factory": dict_row, "connect_timeout": 5},
                timeout=5,
                open=True,
            )
            _pools[database_url] = found
        return found


@contextmanager
def transaction(database_url: str) -> Iterator[Connection]:
    """A connection inside one transaction: committed on success, rolled back on error."""
    try:
        with pool(database_url).connection() as conn:
            yield cast(Connection, conn)
    except (psycopg.OperationalError, PoolTimeout) as exc:
        raise ServiceUnavailable("the database is unavailable") from exc
    except psycopg.DataError as exc:
        # Input checks come first; this is the last line, for a value the database still
        # refuses (out of range, bad encoding). The client's, so 400, never a 500.
        raise BadRequest(f"a value was refused: {exc.diag.message_primary}") from exc
    except psycopg.IntegrityError as exc:
        # Stores turn the conflicts they expect into precise errors; what is left is a
        # concurrent change (e.g. an environment deleted while a flag was created in it).
        raise Conflict(
            "the change conflicts with a concurrent one; read again and retry",
            constraint=exc.diag.constraint_name,
        ) from exc


SNAPSHOT_STATEMENT_TIMEOUT_MS = 5_000


@contextmanager
def snapshot_transaction(
    database_url: str, *, statement_timeout_ms: int = SNAPSHOT_STATEMENT_TIMEOUT_MS
) -> Iterator[Connection]:
    """A read-only REPEATABLE READ transaction: every statement sees the one snapshot taken
    by the first, so a version and the documents read after it belong together (what
    `stores.config_changes.load_all` needs). A statement slower than the timeout fails
    (503) rather than holding a pooled connection."""
    with transaction(database_url) as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        conn.execute(
            "SELECT set_config('statement_timeout', %s, true)", (f"{int(statement_timeout_ms)}ms",)
        )
        yield conn


def close_all() -> None:
    """Close every pool this process opened (tests, shutdown)."""
    with _lock:
        for opened in _pools.values():
            opened.close()
        _pools.clear()
