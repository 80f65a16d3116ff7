"""Changes reach every evaluation worker process within 100 ms, with 10 000 flags loaded;
a random key is refused without asking auth.

One stack of its own (evaluation with WORKERS=2, 10 000 flags written straight into
the configuration database, whose triggers log them like any write). Each worker is
reached over a keep-alive connection of its own (`snapshot_workers`), and polled in a
tight loop from the moment the admin call returns until every worker answers the new
decision.

On this busy 2-core machine one change in a few can lose the CPU to something else
for longer than the budget, so each kind of change is made ROUNDS times and the
median is held to 100 ms; every single one must still arrive well within the
version check's fallback (1 s).
"""

from __future__ import annotations

import json
import secrets
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
import redis
import requests

from functions.core.redis_keys import SNAPSHOT_CONFIG
from functions.devstack.stack import DevStack, private_stack
from tests.e2e.snapshot_workers import (
    WorkerLine,
    bearer,
    close_all,
    evaluate_path,
    wait_for,
    worker_lines,
)

pytestmark = pytest.mark.e2e

WORKERS = 2
FLAGS = 10_000
ROUNDS = 3
BUDGET_MS = 100.0
FALLBACK_MS = 1_000.0
ENVIRONMENT = {"environment": "production"}


@dataclass
class Loaded:
    stack: DevStack
    admin: requests.Session
    evaluate_key: str
    lines: list[WorkerLine]

    def call(self, function: str, method: str, path: str, **kwargs: Any) -> Any:
        url = self.stack.url_of(function) + path
        response = self.admin.request(method, url, timeout=10, **kwargs)
        assert response.status_code in (200, 201), response.text
        return response.json()

    def decision(self, line: WorkerLine, flag: str, user_id: str) -> bool | None:
        """What `line`'s worker answers for the flag (None: the key was refused)."""
        status, body = line.get(evaluate_path(flag, user_id), bearer(self.evaluate_key))
        assert status == 200, body
        return bool(body["result"])


def _bulk_load(database_url: str, count: int) -> None:
    """`count` boolean flags, on in production, in one transaction (one version)."""
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO flags (name) SELECT 'bulk_' || lpad(i::text, 5, '0')"
            " FROM generate_series(1, %s) AS i",
            (count,),
        )
        conn.execute(
            "INSERT INTO flag_states (flag_id, environment, is_enabled)"
            " SELECT id, 'production', true FROM flags WHERE name LIKE 'bulk\\_%%'"
        )


@pytest.fixture(scope="module")
def loaded() -> Iterator[Loaded]:
    with private_stack({"WORKERS": str(WORKERS)}) as stack:
        admin = requests.Session()
        admin.headers.update(bearer(stack.new_key("admin", scopes=["read", "write"])))
        evaluate_key = stack.new_key("application", scopes=["evaluate"])
        for function, path in (("flags", "/flags/bulk_00001"), ("targeting", "/segments")):
            # the admin key checked once by each function, so that no change pays for it
            admin.get(stack.url_of(function) + path, timeout=10)
        _bulk_load(stack.flags_database_url, FLAGS)
        lines = worker_lines(stack.ports.evaluation, WORKERS)
        try:
            waited = wait_for(
                lambda: all(
                    line.status()["flags"] >= FLAGS and not line.status()["stale"] for line in lines
                ),
                timeout=30,
                what=f"{FLAGS} flags in every worker",
                interval=0.1,
            )
            # ...and their Redis copy written, so that what is measured is a change, not
            # the tail of the bulk load's work
            version = lines[0].status()["config_version"]
            copied = wait_for(
                lambda: _copy_version(stack) == version, timeout=30, what="the Redis copy"
            )
            print(
                f"\n{FLAGS} flags in both workers {waited:.2f} s after their commit, "
                f"in the Redis copy {copied:.2f} s later"
            )
            yield Loaded(stack, admin, evaluate_key, lines)
        finally:
            close_all(lines)


def _copy_version(stack: DevStack) -> int | None:
    raw = redis.Redis.from_url(stack.redis_url).hget(SNAPSHOT_CONFIG, "_meta")
    return None if raw is None else int(json.loads(raw)["version"])


@dataclass(frozen=True)
class Propagation:
    after_return_ms: float
    after_call_ms: float


def _propagation(
    lines: list[WorkerLine], change: Callable[[], object], arrived: Callable[[WorkerLine], bool]
) -> Propagation:
    """Make the change and poll every worker until each shows it. Measured from the
    admin call's return (the change is committed and announced then) and, for the
    record, from the call's start."""
    assert not any(arrived(line) for line in lines), "the change is already visible"
    called = time.perf_counter()
    change()
    returned = time.perf_counter()
    seen: dict[int, float] = {}
    while len(seen) < len(lines):
        for line in lines:
            if line.pid not in seen and arrived(line):
                seen[line.pid] = time.perf_counter()
        assert time.perf_counter() - returned < 5, f"only workers {sorted(seen)} saw it"
    last = max(seen.values())
    return Propagation((last - returned) * 1000, (last - called) * 1000)


def _assert_within_budget(what: str, measured: list[Propagation]) -> None:
    after_return = [m.after_return_ms for m in measured]
    after_call = [m.after_call_ms for m in measured]
    print(
        f"{what}: every worker after {', '.join(f'{ms:.1f}' for ms in after_return)} ms "
        f"from the admin call's return ({', '.join(f'{ms:.1f}' for ms in after_call)} ms "
        "from its start)"
    )
    assert statistics.median(after_return) <= BUDGET_MS, after_return
    assert max(after_return) <= FALLBACK_MS, after_return


def test_flag_state__changed_on_flags__every_worker_within_100ms(loaded: Loaded) -> None:
    # Given one of the 10 000 flags, on in production for everyone
    flag = "bulk_05000"
    measured = []
    for round_ in range(ROUNDS):
        # When flags switches it (off, on, off)
        enabled = round_ % 2 == 1

        def switch(enabled: bool = enabled) -> object:
            return loaded.call(
                "flags", "PUT", f"/flags/{flag}", params=ENVIRONMENT, json={"is_enabled": enabled}
            )

        def arrived(line: WorkerLine, enabled: bool = enabled) -> bool:
            return loaded.decision(line, flag, "alice") is enabled

        measured.append(_propagation(loaded.lines, switch, arrived))
    # Then both workers answered the new state within the budget
    _assert_within_budget("flag state", measured)


def test_rule__changed_on_targeting__every_worker_within_100ms(loaded: Loaded) -> None:
    # Given one of the 10 000 flags whose production rule turns it off for bob only
    flag = "bulk_06000"

    def rule_for(user: str) -> dict[str, Any]:
        return {"rules": [{"type": "USERS", "users": [user], "serve": {"variant": "off"}}]}

    loaded.call(
        "targeting", "POST", "/rules", params=ENVIRONMENT,
        json={"flag_name": flag, "rules": rule_for("bob")},
    )  # fmt: skip
    wait_for(
        lambda: all(loaded.decision(line, flag, "bob") is False for line in loaded.lines),
        timeout=2,
        what="the first rule",
    )
    measured = []
    for round_ in range(ROUNDS):
        # When targeting changes the rule to turn it off for alice instead (and back)
        target = "alice" if round_ % 2 == 0 else "bob"

        def change(target: str = target) -> object:
            return loaded.call(
                "targeting", "PUT", f"/rules/{flag}", params=ENVIRONMENT,
                json={"rules": rule_for(target)},
            )  # fmt: skip

        def arrived(line: WorkerLine, target: str = target) -> bool:
            return loaded.decision(line, flag, target) is False

        measured.append(_propagation(loaded.lines, change, arrived))
    # Then both workers decided by the new rule within the budget
    _assert_within_budget("rule", measured)


def test_segment__changed_on_targeting__every_worker_within_100ms(loaded: Loaded) -> None:
    # Given one of the 10 000 flags turned off for the members of a segment holding bob
    flag = "bulk_07000"
    segment = f"seg-{secrets.token_hex(4)}"
    loaded.call("targeting", "POST", "/segments", json={"key": segment, "included": ["bob"]})
    rule = {"rules": [{"type": "SEGMENT", "segments": [segment], "serve": {"variant": "off"}}]}
    loaded.call(
        "targeting", "POST", "/rules", params=ENVIRONMENT, json={"flag_name": flag, "rules": rule}
    )
    wait_for(
        lambda: all(loaded.decision(line, flag, "bob") is False for line in loaded.lines),
        timeout=2,
        what="the segment's rule",
    )
    measured = []
    for round_ in range(ROUNDS):
        # When targeting replaces the segment's members (carol, then bob, then carol)
        member = "carol" if round_ % 2 == 0 else "bob"

        def change(member: str = member) -> object:
            return loaded.call(
                "targeting", "PUT", f"/segments/{segment}", json={"included": [member]}
            )

        def arrived(line: WorkerLine, member: str = member) -> bool:
            return loaded.decision(line, flag, member) is False

        measured.append(_propagation(loaded.lines, change, arrived))
    # Then both workers decided by the new audience within the budget
    _assert_within_budget("segment", measured)


def test_key_revocation__on_auth__refused_by_every_worker_within_100ms(loaded: Loaded) -> None:
    # Given keys in use on both workers
    stack = loaded.stack
    master = requests.Session()
    master.headers.update(bearer(stack.master_key))
    created = []
    for _ in range(ROUNDS):
        response = master.post(
            f"{stack.url_of('auth')}/admin/keys",
            json={"name": "revoked-soon", "scopes": ["evaluate"]},
            timeout=10,
        )
        assert response.status_code == 201, response.text
        created.append(response.json())
    path = evaluate_path("bulk_00001", "alice")

    def accepted(line: WorkerLine, key: str) -> bool:
        return line.get(path, bearer(key))[0] == 200

    wait_for(
        lambda: all(accepted(line, k["key"]) for line in loaded.lines for k in created),
        timeout=2,
        what="the new keys",
    )
    measured = []
    for key in created:
        # When auth revokes one
        def revoke(key_id: int = key["id"]) -> object:
            response = master.post(f"{stack.url_of('auth')}/admin/keys/{key_id}/revoke", timeout=10)
            assert response.status_code == 200, response.text
            return response

        def refused(line: WorkerLine, token: str = key["key"]) -> bool:
            status, body = line.get(path, bearer(token))
            assert status in (200, 401), body
            return status == 401

        measured.append(_propagation(loaded.lines, revoke, refused))
    # Then both workers refuse it within the budget
    _assert_within_budget("key revocation", measured)


def test_random_keys__1000_requests__401_without_asking_auth(loaded: Loaded) -> None:
    # Given auth's count of key validations (what a function asks auth for a key)
    stack = loaded.stack
    master = bearer(stack.master_key)

    def validations() -> int:
        response = requests.get(f"{stack.url_of('auth')}/admin/stats", headers=master, timeout=10)
        assert response.status_code == 200, response.text
        count: int = response.json()["validations"]
        return count

    before = validations()
    # When 1 000 requests come with random, well-formed keys, over both workers
    statuses: dict[int, int] = {}
    for i in range(1000):
        line = loaded.lines[i % len(loaded.lines)]
        status, _ = line.get(evaluate_path("bulk_00001", "alice"), bearer(_random_key()))
        statuses[status] = statuses.get(status, 0) + 1
    # Then each is 401 and auth was asked nothing...
    assert statuses == {401: 1000}
    assert validations() == before
    # ...though its counter does count what it is asked
    response = requests.get(
        f"{stack.url_of('auth')}/validate", headers=bearer(loaded.evaluate_key), timeout=10
    )
    assert response.status_code == 200, response.text
    assert validations() == before + 1


def _random_key() -> str:
    return "tm_key_" + secrets.token_hex(32)
