"""Graceful shutdown of the WSGI functions (issue 17): on SIGTERM, as Kubernetes sends it,
a request in flight finishes with its answer, then the process exits 0 inside Knative's
grace period, its PostgreSQL pools and Redis clients closed. Evaluation's last flush of
events on SIGTERM is tests/e2e/test_event_shutdown.py."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

import psycopg
import pytest
import requests
from psycopg.conninfo import conninfo_to_dict

from functions.devstack.stack import DevStack
from functions.serve import SHUTDOWN_SECONDS
from tests.e2e.streaming import tcp_client_ports

pytestmark = pytest.mark.e2e

StackStarter = Callable[[dict[str, str]], AbstractContextManager[DevStack]]

GRACE_SECONDS = 30
"""knative/base: terminationGracePeriodSeconds is the revision's timeoutSeconds, 30 s."""
IN_FLIGHT_SECONDS = 7
"""How long the requests stay in flight after SIGTERM: longer than granian's kill timeout
once was (5 s), so a worker killed before its requests finish fails the test."""

# function → (the table its slow request waits on, and in which database)
SLOW_READS = {
    "auth": ("api_keys", "auth"),
    "flags": ("flags", "flags"),
    "targeting": ("segments", "flags"),
}


def _slow_request(stack: DevStack, key: str, function: str) -> requests.Response:
    if function == "auth":
        return requests.get(
            f"{stack.url_of('auth')}/admin/keys",
            headers={"Authorization": f"Bearer {stack.master_key}"},
            timeout=60,
        )
    path = "/flags" if function == "flags" else "/segments"
    return requests.get(
        stack.url_of(function) + path, headers={"Authorization": f"Bearer {key}"}, timeout=60
    )


def _database(stack: DevStack, which: str) -> str:
    return stack.auth_database_url if which == "auth" else stack.flags_database_url


def _sessions_on(url: str, ports: set[int]) -> list[tuple[int, str]]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT client_port, state FROM pg_stat_activity WHERE client_port = ANY(%s)",
            (list(ports),),
        ).fetchall()
    return [(int(port), str(state)) for port, state in rows]


def _waiting_on_locks(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND application_name <> 'togglemaster-evaluation'"
        ).fetchone()
    return int(row[0]) if row else 0


def test_wsgi_functions__sigterm_with_requests_in_flight__answered_then_exit_0_pools_closed(
    start_stack: StackStarter,
) -> None:
    with start_stack({}) as stack:
        # Given each WSGI function that holds a database pool, used once (its pool open,
        # the key known), and the ports of its connections to PostgreSQL
        key = stack.new_key("shutdown")
        for function in SLOW_READS:
            assert _slow_request(stack, key, function).status_code == 200
        pg_port = int(str(conninfo_to_dict(stack.flags_database_url)["port"]))
        ports = {f: tcp_client_ports(stack.server_pids(f), pg_port) for f in SLOW_READS}
        for function, (_, which) in SLOW_READS.items():
            assert _sessions_on(_database(stack, which), ports[function]), function
        # and a request in flight in each: its table locked, so it waits
        locks = {which: psycopg.connect(_database(stack, which)) for which in ("auth", "flags")}
        for table, which in SLOW_READS.values():
            locks[which].execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        answers: dict[str, requests.Response | Exception] = {}

        def call(function: str) -> None:
            try:
                answers[function] = _slow_request(stack, key, function)
            except requests.RequestException as exc:
                answers[function] = exc

        callers = [threading.Thread(target=call, args=(f,)) for f in SLOW_READS]
        for caller in callers:
            caller.start()
        deadline = time.monotonic() + 10
        while _waiting_on_locks(stack.flags_database_url) + (
            _waiting_on_locks(stack.auth_database_url)
            if stack.auth_database_url != stack.flags_database_url
            else 0
        ) < len(SLOW_READS):
            assert time.monotonic() < deadline, "the requests never reached their locks"
            time.sleep(0.05)

        # When every admin function gets SIGTERM, and the requests go on for a while
        signalled = time.monotonic()
        for function in (*SLOW_READS, "analytics"):
            stack.signal_stop(function)
        time.sleep(IN_FLIGHT_SECONDS)
        still_running = set(SLOW_READS) - set(stack.dead_functions())
        for lock in locks.values():
            lock.rollback()
            lock.close()
        for caller in callers:
            caller.join(60)

        # Then the requests in flight were answered, and only then did the processes exit
        assert still_running == set(SLOW_READS)
        for function in SLOW_READS:
            answer = answers[function]
            assert isinstance(answer, requests.Response), f"{function}: {answer!r}"
            assert answer.status_code == 200, function
        exits: dict[str, int | None] = {}
        while len(exits) < len(SLOW_READS) + 1 and time.monotonic() - signalled < GRACE_SECONDS:
            exits = stack.dead_functions()
            time.sleep(0.1)
        took = time.monotonic() - signalled
        assert exits == dict.fromkeys((*SLOW_READS, "analytics"), 0), exits
        assert took < min(GRACE_SECONDS, IN_FLIGHT_SECONDS + SHUTDOWN_SECONDS)
        # each worker closed its pools before it exited, and PostgreSQL holds none of
        # their sessions
        for function, (_, which) in SLOW_READS.items():
            log = (stack.logs_dir / f"{function}.log").read_text()
            assert '"message":"connections closed"' in log, log[-2000:]
            assert '"database pools"' in log
            deadline = time.monotonic() + 5
            while _sessions_on(_database(stack, which), ports[function]):
                assert time.monotonic() < deadline, function
                time.sleep(0.1)
