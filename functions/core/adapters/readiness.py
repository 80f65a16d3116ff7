"""Readiness: each dependency checked and reported by name (seed report §1.6): a host
that does not resolve, or a server that does not answer, is named with the variable
that points at it. The database's check lives in `database_readiness`, so functions
without a database (evaluation, analytics) never import a PostgreSQL driver.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from functions.core.models.probes import CheckResult, Readiness

Check = Callable[[], CheckResult]


def unresolved_host(url: str, variable: str) -> str | None:
    host = urlsplit(url).hostname
    if not host:
        return None
    try:
        socket.getaddrinfo(host, None)
    except OSError:
        return f"{variable}: host '{host}' does not resolve"
    return None


def redis_check(redis_url: str) -> Check:
    def check() -> CheckResult:
        import redis  # loaded here, not at start-up (`adapters.redis_clients`)

        problem = unresolved_host(redis_url, "REDIS_URL")
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


def dynamodb_table_check(client: Any, table: str, variable: str = "AWS_DYNAMODB_TABLE") -> Check:
    """`variable`: the setting that names the table, said in the error."""
    from botocore.exceptions import BotoCoreError, ClientError  # only analytics pays for it

    def check() -> CheckResult:
        try:
            client.describe_table(TableName=table)
        except (BotoCoreError, ClientError) as exc:
            return CheckResult(ok=False, error=f"{variable}: {exc.__class__.__name__}: {exc}")
        return CheckResult(ok=True)

    return check
