"""Evaluation through outages: PostgreSQL, Redis, or the admin functions stopped, and
cold starts without them. It keeps answering from the snapshot it holds, the same
decisions, and says how fresh they are as documented: `stale` when it could not
confirm its configuration against PostgreSQL for CONFIG_STALE_SECONDS; Redis down
alone, or auth, flags and targeting down, change nothing (the version check still
confirms; evaluation never calls the admin functions).

One stack of its own for the module (evaluation with WORKERS=2), since these tests
stop its parts: each test starts again what it stopped. Every check asks both worker
processes (`snapshot_workers`).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
import redis
import requests

from functions.core.redis_keys import SNAPSHOT_CHANGES_CHANNEL, SNAPSHOT_CONFIG, SNAPSHOT_KEYS
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
STALE_SECONDS = 2.0
"""CONFIG_STALE_SECONDS: its default, set here so the timings below follow it."""
USERS = [f"user-{i}" for i in range(25)]
ROLLOUT = "outage_rollout"
TARGETED = "outage_targeted"
FLAGS = (ROLLOUT, TARGETED)
ENVIRONMENT = {"environment": "production"}
ADMIN_ATTEMPTS = 5

Decisions = dict[tuple[str, str], tuple[Any, str, str]]
"""(flag, user) -> (value, variant, reason)."""


@dataclass
class Outages:
    stack: DevStack
    admin: requests.Session
    evaluate_key: str
    expected: Decisions

    def call(self, function: str, method: str, path: str, **kwargs: Any) -> Any:
        """An admin call. After PostgreSQL came back, the admin functions' pools hand out
        the connections its restart broke, one failed request each: retried."""
        url = self.stack.url_of(function) + path
        for _ in range(ADMIN_ATTEMPTS):
            response = self.admin.request(method, url, timeout=10, **kwargs)
            if response.status_code != 503:
                break
        assert response.status_code in (200, 201), response.text
        return response.json()

    def answers(self) -> list[tuple[WorkerLine, Decisions, set[bool]]]:
        """Every worker's decisions for every flag and user, and the `stale` values its
        answers carried."""
        lines = worker_lines(self.stack.ports.evaluation, WORKERS)
        try:
            found = []
            for line in lines:
                decisions: Decisions = {}
                stale: set[bool] = set()
                for flag in FLAGS:
                    for user in USERS:
                        status, body = line.get(
                            evaluate_path(flag, user, plan="pro"), bearer(self.evaluate_key)
                        )
                        assert status == 200, body
                        decisions[(flag, user)] = (body["value"], body["variant"], body["reason"])
                        stale.add(body["stale"])
                found.append((line, decisions, stale))
            return found
        finally:
            close_all(lines)

    def assert_answers(self, *, stale: bool) -> None:
        """Both workers decide as before the outage, every answer saying `stale`."""
        for line, decisions, seen in self.answers():
            assert decisions == self.expected, f"worker {line.pid} decides differently"
            assert seen == {stale}, f"worker {line.pid} answered stale={seen}"

    def statuses(self) -> list[dict[str, Any]]:
        lines = worker_lines(self.stack.ports.evaluation, WORKERS)
        try:
            return [line.status() for line in lines]
        finally:
            close_all(lines)

    def every_worker(self, **expected: Any) -> bool:
        return all(
            all(status[name] == value for name, value in expected.items())
            for status in self.statuses()
        )

    def every_worker_decides(self, flag: str, reason: str) -> bool:
        """Whether both workers decide `flag` for a user with this reason."""
        lines = worker_lines(self.stack.ports.evaluation, WORKERS)
        try:
            answers = [
                line.get(evaluate_path(flag, "u"), bearer(self.evaluate_key)) for line in lines
            ]
        finally:
            close_all(lines)
        return all(status == 200 and body["reason"] == reason for status, body in answers)


@pytest.fixture(scope="module")
def outages() -> Iterator[Outages]:
    with private_stack(
        {"WORKERS": str(WORKERS), "CONFIG_STALE_SECONDS": str(STALE_SECONDS)}
    ) as stack:
        admin = requests.Session()
        admin.headers.update(bearer(stack.new_key("admin", scopes=["read", "write"])))
        ready = Outages(stack, admin, stack.new_key("application", scopes=["evaluate"]), {})
        _configure(ready)
        wait_for(
            lambda: ready.every_worker(flags=len(FLAGS), stale=False),
            timeout=5,
            what="the flags in every worker",
        )
        (_, expected, _), (_, other, _) = ready.answers()
        assert expected == other, "the two workers decide differently"
        assert {variant for _, variant, _ in expected.values()} == {"on", "off"}
        ready.expected = expected
        yield ready


def _configure(outages: Outages) -> None:
    """A 30 % rollout, and a flag on for the members of a segment only: decisions that
    differ from user to user, so "the same answers" means something."""
    segment = f"pro-{secrets.token_hex(4)}"
    outages.call(
        "targeting", "POST", "/segments",
        json={"key": segment, "conditions": {"attribute": "plan", "op": "eq", "value": "pro"},
              "excluded": USERS[::3]},
    )  # fmt: skip
    for flag in FLAGS:
        outages.call(
            "flags", "POST", "/flags", params=ENVIRONMENT, json={"name": flag, "is_enabled": True}
        )
    rules: dict[str, Any] = {
        ROLLOUT: {"type": "PERCENTAGE", "value": 30},
        TARGETED: {
            "rules": [{"type": "SEGMENT", "segments": [segment], "serve": {"variant": "on"}}],
            "fallthrough": {"variant": "off"},
        },
    }
    for flag, document in rules.items():
        outages.call(
            "targeting", "POST", "/rules", params=ENVIRONMENT,
            json={"flag_name": flag, "rules": document},
        )  # fmt: skip


def _switch_in_database(stack: DevStack, flag: str, enabled: bool) -> None:
    """A change made without any admin function (the triggers log it all the same)."""
    with psycopg.connect(stack.flags_database_url) as conn:
        conn.execute(
            "UPDATE flag_states SET is_enabled = %s WHERE environment = 'production'"
            " AND flag_id = (SELECT id FROM flags WHERE name = %s)",
            (enabled, flag),
        )


def _new_flag(outages: Outages, name: str, enabled: bool) -> None:
    outages.call(
        "flags", "POST", "/flags", params=ENVIRONMENT, json={"name": name, "is_enabled": enabled}
    )


def _redis(stack: DevStack) -> redis.Redis:
    return redis.Redis.from_url(stack.redis_url, socket_timeout=2)


def _listeners(stack: DevStack) -> int:
    """How many connections listen for change notices."""
    [(_, count)] = _redis(stack).pubsub_numsub(SNAPSHOT_CHANGES_CHANNEL)
    return int(count)


def _same_answers(outages: Outages) -> bool:
    return all(decisions == outages.expected for _, decisions, _ in outages.answers())


def _copy_version(stack: DevStack, hash_name: str) -> int | None:
    """The version the Redis copy holds (None: there is no copy)."""
    raw = _redis(stack).hget(hash_name, "_meta")
    return None if raw is None else int(json.loads(raw)["version"])


def _copies_hold(stack: DevStack, status: dict[str, Any]) -> bool:
    """Whether both Redis copies stand at the versions a worker's status names."""
    held = (int(status["config_version"]), int(status["keys_version"]))
    return (_copy_version(stack, SNAPSHOT_CONFIG), _copy_version(stack, SNAPSHOT_KEYS)) == held


def _arrival(outages: Outages, flag: str) -> float:
    """Seconds from the flag's creation (the call's return) to every worker knowing it."""
    _new_flag(outages, flag, enabled=True)
    return wait_for(
        lambda: outages.every_worker_decides(flag, "DEFAULT"),
        timeout=1.0,
        what=f"{flag} in every worker",
        interval=0.002,
    )


def _random_key() -> str:
    return "tm_key_" + secrets.token_hex(32)


def test_postgresql_stopped__same_answers_stale_then_fresh_within_1s_of_its_return(
    outages: Outages,
) -> None:
    # Given both workers answering fresh
    outages.assert_answers(stale=False)
    # When PostgreSQL stops
    outages.stack.stop_postgres()
    try:
        # Then they say stale within CONFIG_STALE_SECONDS (+1 s), and answer as before
        went_stale = wait_for(
            lambda: outages.every_worker(stale=True, postgresql="unreachable"),
            timeout=STALE_SECONDS + 1,
            what="stale on every worker",
        )
        outages.assert_answers(stale=True)
    finally:
        outages.stack.start_postgres()
    # And fresh again within a second of its return
    fresh = wait_for(
        lambda: outages.every_worker(stale=False, postgresql="ok"),
        timeout=1.0,
        what="fresh after PostgreSQL's return",
    )
    print(f"\nPostgreSQL down: stale after {went_stale:.2f} s; back: fresh after {fresh:.2f} s")
    outages.assert_answers(stale=False)


def test_admin_functions_stopped__same_fresh_answers_random_keys_refused(
    outages: Outages,
) -> None:
    # Given auth, flags and targeting stopped, for longer than CONFIG_STALE_SECONDS
    stack = outages.stack
    stopped = ("auth", "flags", "targeting")
    for target in stopped:
        stack.stop_function(target)
    try:
        time.sleep(STALE_SECONDS + 0.5)
        # Then both workers answer as before, fresh
        outages.assert_answers(stale=False)
        # And random keys are refused, with nobody to ask
        lines = worker_lines(stack.ports.evaluation, WORKERS)
        try:
            refused = [
                lines[i % WORKERS].get(evaluate_path(ROLLOUT, "u"), bearer(_random_key()))[0]
                for i in range(100)
            ]
        finally:
            close_all(lines)
        assert refused == [401] * 100
        # And a change written straight into PostgreSQL still arrives within a second
        _switch_in_database(stack, ROLLOUT, False)
        switched = wait_for(
            lambda: outages.every_worker_decides(ROLLOUT, "DISABLED"),
            timeout=1.0,
            what="a change while the admin functions are down",
        )
        _switch_in_database(stack, ROLLOUT, True)
        wait_for(lambda: _same_answers(outages), timeout=1.0, what="the rollout back on")
    finally:
        stack.start_function(*stopped)
    print(f"\nadmin functions down: a change from the database after {switched:.2f} s")
    outages.assert_answers(stale=False)


def test_cold_start__postgresql_down__serves_the_redis_copy_stale(outages: Outages) -> None:
    # Given the Redis copy up to date with what the workers hold
    stack = outages.stack
    held = outages.statuses()[0]
    wait_for(lambda: _copies_hold(stack, held), timeout=6, what="the Redis copy up to date")
    # When evaluation starts again while PostgreSQL is down
    stack.stop_function("evaluation")
    stack.stop_postgres()
    try:
        stack.start_function("evaluation")
        # Then every worker serves the Redis copy: the same answers, said to be stale
        wait_for(lambda: outages.every_worker(loaded=True), timeout=5, what="every worker loaded")
        wait_for(
            lambda: outages.every_worker(postgresql="unreachable"),
            timeout=5,
            what="every worker's first check failed",
        )
        for status in outages.statuses():
            assert status["source"] == "redis", status
            assert status["config_version"] == held["config_version"], status
        outages.assert_answers(stale=True)
        ready = requests.get(f"{stack.url_of('evaluation')}/ready", timeout=10)
        assert ready.status_code == 200, ready.text
    finally:
        stack.start_postgres()
    # And fresh within a second of PostgreSQL's return
    wait_for(
        lambda: outages.every_worker(stale=False, postgresql="ok"),
        timeout=1.0,
        what="fresh after PostgreSQL's return",
    )
    outages.assert_answers(stale=False)


def test_redis_restarted_empty__the_copy_is_written_again(outages: Outages) -> None:
    # Given the copy up to date (not being so fails the test, not the expected failure)
    stack = outages.stack
    held = outages.statuses()[0]
    try:
        wait_for(lambda: _copies_hold(stack, held), timeout=6, what="the Redis copy up to date")
    except AssertionError as exc:
        pytest.fail(f"before the restart: {exc}")
    # When Redis restarts empty (no persistence), nothing changing meanwhile
    stack.stop_redis()
    stack.start_redis()
    # Then the evaluation processes write the copy again, for the next cold start
    wait_for(lambda: _copies_hold(stack, held), timeout=3, what="the Redis copy written again")


def test_redis_stopped__same_fresh_answers_changes_by_the_check_then_notices_again(
    outages: Outages,
) -> None:
    # Given both workers answering fresh, each listening for notices
    stack = outages.stack
    listeners = _listeners(stack)
    assert listeners >= WORKERS
    # When Redis stops, for longer than CONFIG_STALE_SECONDS
    stack.stop_redis()
    try:
        wait_for(
            lambda: outages.every_worker(redis="unreachable"),
            timeout=5,
            what="Redis seen down by every worker",
        )
        time.sleep(STALE_SECONDS + 0.5)
        # Then they answer as before, and fresh: the version check still confirms
        outages.assert_answers(stale=False)
        # And a change made meanwhile (in the database: no notice can be sent) arrives
        # through the check within a second
        _switch_in_database(stack, ROLLOUT, False)
        arrived = wait_for(
            lambda: outages.every_worker_decides(ROLLOUT, "DISABLED"),
            timeout=1.0,
            what="a change made while Redis is down",
        )
        _switch_in_database(stack, ROLLOUT, True)
        wait_for(lambda: _same_answers(outages), timeout=1.0, what="the rollout back on")
    finally:
        stack.start_redis()
    # And once Redis is back every listener is back, and notices carry changes at once
    # (the check would take up to CONFIG_CHECK_SECONDS: the median must beat it)
    resubscribed = wait_for(
        lambda: _listeners(stack) == listeners, timeout=5, what="every listener back"
    )
    delays = [_arrival(outages, f"after_redis_{i}") for i in range(3)]
    print(
        f"\nRedis down: a change by the check after {arrived:.2f} s; back: listening after "
        f"{resubscribed:.2f} s, changes after {', '.join(f'{d * 1000:.0f}' for d in delays)} ms"
    )
    assert sorted(delays)[1] < 0.1, f"changes wait for the check: {delays}"
    outages.assert_answers(stale=False)


def test_cold_start__postgresql_and_redis_down__not_ready_saying_why(outages: Outages) -> None:
    # Given PostgreSQL and Redis both down
    stack = outages.stack
    stack.stop_function("evaluation")
    stack.stop_postgres()
    stack.stop_redis()
    url = f"{stack.url_of('evaluation')}/ready"
    try:
        # When evaluation starts
        stack.start_function("evaluation")

        # Then it is not ready, and says why: nothing loaded, from neither source
        def names_both() -> bool:
            answer = requests.get(url, timeout=10)
            assert answer.status_code == 503, answer.text
            error = str(answer.json()["checks"]["snapshot"]["error"])
            return "redis" in error and "postgresql" in error

        wait_for(names_both, timeout=3, what="/ready naming PostgreSQL and Redis")
        answer = requests.get(url, timeout=10).json()
        print(f"\n/ready with PostgreSQL and Redis down: {answer}")
        assert "no configuration loaded" in answer["checks"]["snapshot"]["error"]
    finally:
        stack.start_redis()
        stack.start_postgres()
    # And once they are back it loads (from PostgreSQL, or the copy another process of
    # the server wrote from it a moment before), and answers fresh
    wait_for(
        lambda: requests.get(url, timeout=10).status_code == 200,
        timeout=3,
        what="ready after their return",
    )
    wait_for(lambda: outages.every_worker(stale=False), timeout=1.0, what="fresh")
    outages.assert_answers(stale=False)
