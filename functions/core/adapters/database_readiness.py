"""Readiness of a function's PostgreSQL database (seed report §1.3, §1.6): reachable, and
migrated -- a function whose schema is missing is not ready, with a message naming
`make migrate`, instead of answering 500 on its first query."""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from psycopg.rows import dict_row

from functions.core.adapters import migrations
from functions.core.adapters.readiness import Check, unresolved_host
from functions.core.models.probes import CheckResult


def database_check(
    database_url: str, components: Sequence[str], *, requires_tables: Sequence[str] = ()
) -> Check:
    def check() -> CheckResult:
        problem = unresolved_host(database_url, "DATABASE_URL")
        if problem:
            return CheckResult(ok=False, error=problem)
        try:
            with psycopg.connect(database_url, connect_timeout=3, row_factory=dict_row) as conn:
                missing = migrations.pending(conn, components)
                absent = [
                    table
                    for table in requires_tables
                    if conn.execute("SELECT to_regclass(%s) AS t", (table,)).fetchone()["t"] is None  # type: ignore[index]
                ]
        except psycopg.Error as exc:
            return CheckResult(
                ok=False, error=f"DATABASE_URL: cannot connect ({exc.__class__.__name__})"
            )
        if absent:
            return CheckResult(
                ok=False,
                error="DATABASE_URL must name the configuration database that the flags "
                f"function uses: table(s) {', '.join(absent)} not found there",
            )
        if missing:
            return CheckResult(
                ok=False,
                error=f"schema not migrated: run `make migrate` (pending: {', '.join(missing)})",
            )
        return CheckResult(ok=True)

    return check
