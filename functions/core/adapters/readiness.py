"""Readiness: each dependency checked and reported by name (seed report §1.3, §1.6).

A function whose schema is missing is not ready, with a message naming
`make migrate`, instead of answering 500 on its first query.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import psycopg
import redis
from botocore.exceptions import BotoCoreError, ClientError
from psycopg.rows import dict_row

from functions.core.adapters import migrations
from functions.core.models.probes import CheckResult, Readiness

Check = Callable[[], CheckResult]


def _resolves(url: str, variable: str) -> str | None:
    host = urlsplit(url).hostname
    if not host:
        return None
    try:
        socket.getaddrinfo(host, None)
    except OSError:
        return f"{variable}: host '{host}' does not resolve"
    return None


def database_check(
    database_url: str, components: Sequence[str], *, requires_tables: Sequence[str] = ()
) -> Check:
    def check() -> CheckResult:
        problem = _resolves(database_url, "DATABASE_URL")
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


def redis_check(redis_url: str) -> Check:
    def check() -> CheckResult:
        problem = _resolves(redis_url, "REDIS_URL")
        if problem:
            return CheckResult(ok=False, error=problem)
        try:
            client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
            try:
                client.ping()
            finally:
                client.close()
        except redis.RedisError as exc:
            return CheckResult(
                ok=False, error=f"REDIS_URL: cannot connect ({exc.__class__.__name__})"
            )
        return CheckResult(ok=True)

    return check


def report(checks: dict[str, Check]) -> Readiness:
    results = {name: check() for name, check in checks.items()}
    if all(result.ok for result in results.values()):
        return Readiness(status="ready", checks=results)
    failures = "; ".join(r.error or "failed" for r in results.values() if not r.ok)
    return Readiness(status="unavailable", checks=results, error=failures)


def dynamodb_table_check(client: Any, table: str) -> Check:
    def check() -> CheckResult:
        try:
            client.describe_table(TableName=table)
        except (BotoCoreError, ClientError) as exc:
            return CheckResult(
                ok=False, error=f"AWS_DYNAMODB_TABLE: {exc.__class__.__name__}: {exc}"
            )
        return CheckResult(ok=True)

    return check
