"""`make bench`: evaluation against the hello target, side by side, on a private stack.

What it measures, on the stack `make dev` runs (PostgreSQL, Redis, moto, the five
functions, started with the dev stack's own server command and worker count):

- **evaluate vs hello**: wrk, 1 thread, 32 connections, 8 s per run, three runs of
  each alternating (hello, evaluate, hello, ...), medians (the goals are held to their
  ratio), and the ratios of each hello run and the evaluate run after it, which show
  how much one run's figures swing on a shared machine. Both get the same requests
  from ``load.lua``: 10 000 users over five flags (one of them the 30 % rollout of
  DESIGN.md §5) and three environments, each with its own environment-bound key.
  Events flow to SQS; the SQS→analytics forwarder is paused so that analytics takes
  none of the two cores and the queue keeps every message for counting.
- **OFREP bulk**: ``POST /ofrep/v1/evaluate/flags`` for one context, the environment
  holding 100 boolean flags (half with a percentage rule); decisions per second is
  requests per second × flags per answer.
- **SQS cost** of those evaluations: the queue counts the messages (the paused drain
  takes none); billed requests (SQS bills each started 64 KiB of a message as one
  request: the figure the goal is held to) and events sent come from the publishers'
  own counts, summed over every worker process through ``/status`` (which names its
  pid), and are used only when their message count equals the queue's; otherwise
  every message is read back. ``/metrics`` is not used: a scrape does not say which
  worker answered.
- **cold start**: process start to the first 200, medians of three, for every function
  (and hello, the yardstick) with an empty configuration (``/health``; the goal is held
  to it), then ``/ready`` (what Knative's queue-proxy waits for: the function's
  PostgreSQL and Redis connected; hello answers every path), and for
  evaluation with 10 000 flags (``/health``, then ``/ready``, then a first decision;
  the goal is held to the first decision). The 9 900 flags beyond the load's 100 go
  straight into PostgreSQL in one transaction: through the import API they would take
  longer than the whole bench may. The package's bytecode is compiled first, as the
  image's ``pip install`` compiles it: where ``PYTHONDONTWRITEBYTECODE`` is set, every
  start would otherwise compile each of our modules again, which no container does.

The ratios are what count: the machine is shared, so only figures taken in the same
run compare. Goals from issue 15; a missed goal is printed as MISSED and does not make
the run fail; the exit status is non-zero only when the harness could not measure.
"""

from __future__ import annotations

import compileall
import contextlib
import http.client
import json
import math
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import requests

import functions
from functions.core import engine
from functions.core.names import FUNCTIONS
from functions.devstack.aws import client as aws_client
from functions.devstack.errors import StartupError
from functions.devstack.processes import ChildProcess, free_port, tail
from functions.devstack.stack import DevStack, function_command, private_stack

HERE = Path(__file__).resolve().parent
HELLO_SOURCE = HERE / "hello.py"
LOAD_SCRIPT = HERE / "load.lua"

RUNS, SECONDS, WARM_UP_SECONDS, CONNECTIONS, USERS = 3, 8, 2, 32, 10_000
ENVIRONMENTS = ("development", "staging", "production")
BULK_FLAGS, LOAD_FLAGS, MANY_FLAGS = 100, 5, 10_000
COLD_RUNS, COLD_TIMEOUT = 3, 30.0
SQS_BILLING_CHUNK = 64 * 1024
IDLE = 0.2

RATE_GOAL, P99_GOAL, DECISIONS_GOAL, SQS_GOAL = 0.7, 1.5, 100_000, 1.0
COLD_GOAL, COLD_MANY_GOAL = 0.5, 1.5


class HarnessError(Exception):
    """The bench could not measure (a process did not start, wrk failed, ...)."""


# -- configuration ---------------------------------------------------------------------


def flag_name(index: int) -> str:
    return f"bench_{index:05d}"


def states(index: int) -> dict[str, dict[str, Any]]:
    """Flag `index` in each environment: four flags in five on; the even ones with a
    percentage rule (the first one 30 %, like §5's rollout), the odd ones without."""
    result: dict[str, dict[str, Any]] = {}
    for n, environment in enumerate(ENVIRONMENTS):
        rule = None
        if index % 2 == 0:
            value = 30 if index == 0 else 5 + (index * 37 + n * 11) % 90
            rule = {"enabled": True, "rules": {"type": "PERCENTAGE", "value": value}}
        result[environment] = {"enabled": (index + n) % 5 != 4, "rule": rule}
    return result


def import_flags(stack: DevStack, key: str, flags: int) -> None:
    """The first `flags` flags, through the flags function's import (what a user does)."""
    document = {
        "version": 1,
        "environments": [{"key": environment} for environment in ENVIRONMENTS],
        "flags": [
            {"name": flag_name(index), "environments": states(index)} for index in range(flags)
        ],
    }
    response = requests.post(
        f"{stack.url_of('flags')}/import",
        json=document,
        headers={"Authorization": f"Bearer {key}"},
        timeout=120,
    )
    if response.status_code != 200:
        raise HarnessError(f"import of {flags} flags: {response.status_code} {response.text[:300]}")


def insert_flags(stack: DevStack, first: int, last: int) -> float:
    """Flags `first` to `last - 1` straight into the migrations' tables, in one
    transaction: an import of 10 000 flags through the API takes longer than the whole
    bench may. The rule documents are the engine's canonical form, as the API stores
    them; the tables' triggers log the change like any other write. Seconds taken."""
    names, state_rows, rule_rows = [], [], []
    for index in range(first, last):
        name = flag_name(index)
        names.append(name)
        for environment, state in states(index).items():
            state_rows.append((name, environment, state["enabled"]))
            if state["rule"] is not None:
                parsed = engine.parse_ruleset(
                    state["rule"]["rules"], engine.boolean_definition(name), ()
                )
                document = json.dumps(engine.ruleset_to_document(parsed))
                rule_rows.append((name, environment, state["rule"]["enabled"], document))
    started = time.perf_counter()
    with psycopg.connect(stack.flags_database_url) as conn:
        conn.execute(
            "INSERT INTO flags (name, description)"
            " SELECT name, 'make bench' FROM unnest(%s::text[]) AS name",
            (names,),
        )
        conn.execute(
            "INSERT INTO flag_states (flag_id, environment, is_enabled)"
            " SELECT flags.id, s.environment, s.enabled"
            " FROM unnest(%s::text[], %s::text[], %s::boolean[]) AS s(name, environment, enabled)"
            " JOIN flags ON flags.name = s.name",
            [list(column) for column in zip(*state_rows, strict=True)],
        )
        conn.execute(
            "INSERT INTO targeting_rules (flag_name, environment, is_enabled, rules)"
            " SELECT * FROM unnest(%s::text[], %s::text[], %s::boolean[], %s::jsonb[])",
            [list(column) for column in zip(*rule_rows, strict=True)],
        )
    return time.perf_counter() - started


def settle(limit: float = 8.0) -> float:
    """Wait (at most `limit` seconds) until the machine is nearly idle, so that what the
    stack still does after a start or a bulk write is not counted in what comes next.
    The share of the CPUs last seen busy: high when other work shares the machine."""
    deadline = time.monotonic() + limit
    busy = 1.0
    while time.monotonic() < deadline:
        before = _cpu_times()
        time.sleep(0.5)
        after = _cpu_times()
        busy = 1 - (after[1] - before[1]) / max(after[0] - before[0], 1)
        if busy < IDLE:
            break
    return busy


def _cpu_times() -> tuple[int, int]:
    """(all, idle) jiffies of every core, from /proc/stat."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return sum(fields), fields[3] + fields[4]


# -- processes -------------------------------------------------------------------------


def compile_bytecode() -> None:
    """Compile the functions package and the hello target to bytecode, as the image's
    `pip install` does for the package: a cold start then reads each module's bytecode,
    as a container's does, rather than compiling its source (what every start does where
    PYTHONDONTWRITEBYTECODE is set and nothing compiled it before)."""
    package = Path(functions.__file__).resolve().parent
    compiled = compileall.compile_dir(package, quiet=1) and compileall.compile_file(
        HELLO_SOURCE, quiet=1
    )
    if not compiled:
        raise HarnessError(f"could not compile the bytecode of {package}")


def lower_emulator_priority(stack: DevStack) -> None:
    """Run the AWS emulator at the lowest CPU priority. It stands in for SQS, which in
    production ingests the events on AWS's machines; here its parsing and storing of
    every pack (a Python server) would otherwise take a share of the 2 cores that
    evaluation's figures would pay for, as the paused analytics drain would."""
    pid = stack.aws_emulator_pid
    if pid is None:
        return
    for task in Path(f"/proc/{pid}/task").iterdir():  # every thread, present and future
        os.setpriority(os.PRIO_PROCESS, int(task.name), 19)


def function_env(stack: DevStack, target: str, port: int) -> dict[str, str]:
    """The environment the stack gives `target`, on another port."""
    return {**stack.function_env(target), "PORT": str(port)}


def worker_count(stack: DevStack) -> int:
    """Evaluation's WORKERS, as the stack sets it; unset means the machine's cores."""
    return int(stack.function_env("evaluation").get("WORKERS") or os.cpu_count() or 1)


def hello_process(stack: DevStack, port: int, workers: int) -> ChildProcess:
    """The hello target under the dev stack's own server command, with evaluation's
    worker count."""
    return ChildProcess(
        "hello",
        function_command("hello", port, HELLO_SOURCE),
        log_path=stack.logs_dir / "hello.log",
        env={**os.environ, "WORKERS": str(workers)},
    )


def status_of(port: int, path: str, headers: Mapping[str, str] | None = None) -> int | None:
    """The status of one GET, None when nothing answers yet."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", path, headers=dict(headers or {}))
        return connection.getresponse().status
    except OSError:
        return None
    finally:
        connection.close()


def wait_for_200(
    process: ChildProcess, port: int, path: str, headers: Mapping[str, str] | None = None
) -> None:
    deadline = time.monotonic() + COLD_TIMEOUT
    while status_of(port, path, headers) != 200:
        if not process.is_running():
            raise HarnessError(
                f"{process.name} exited during start-up:\n{tail(process.log_path, 15)}"
            )
        if time.monotonic() > deadline:
            raise HarnessError(f"{process.name}: no 200 on {path} after {COLD_TIMEOUT:g} s")
        time.sleep(0.005)


Probe = tuple[str, Mapping[str, str]]


def cold_start(make: Callable[[int], ChildProcess], probes: Sequence[Probe]) -> list[float]:
    """Seconds from process start to the first 200 of each probe, taken in order."""
    port = free_port()
    process = make(port)
    started = time.perf_counter()
    process.start()
    try:
        times = []
        for path, headers in probes:
            wait_for_200(process, port, path, headers)
            times.append(time.perf_counter() - started)
        return times
    finally:
        discard(process)


def discard(process: ChildProcess) -> None:
    """SIGKILL a cold-start copy's process group (server and workers) and reap it: how it
    shuts down is not measured here, and a graceful stop can take seconds."""
    if process.pid is not None and process.is_running():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    process.stop()


def median_cold_start(make: Callable[[int], ChildProcess], probes: Sequence[Probe]) -> list[float]:
    runs = [cold_start(make, probes) for _ in range(COLD_RUNS)]
    return [statistics.median(column) for column in zip(*runs, strict=True)]


def function_process(stack: DevStack, target: str) -> Callable[[int], ChildProcess]:
    def make(port: int) -> ChildProcess:
        return ChildProcess(
            f"{target} (cold start)",
            function_command(target, port, stack.functions_source),
            log_path=stack.logs_dir / f"{target}-cold.log",
            env=function_env(stack, target, port),
        )

    return make


# -- load ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    failed: int
    """non-2xx answers and socket errors"""

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


@dataclass(frozen=True)
class Load:
    rate: float
    p50_ms: float
    p99_ms: float


def wrk(url: str, mode: str, keys: Sequence[str], seconds: int) -> Run:
    flags = ",".join(flag_name(index) for index in range(LOAD_FLAGS))
    command = [
        "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "-s", str(LOAD_SCRIPT), url,
        "--", mode, str(USERS), flags, ",".join(keys),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    found = re.search(
        r"BENCH requests=(\d+) duration_us=(\d+) p50_us=(\d+) p99_us=(\d+)"
        r" non2xx=(\d+) socket_errors=(\d+)",
        result.stdout,
    )
    if result.returncode != 0 or found is None:
        raise HarnessError(f"wrk failed on {url}: {result.stderr.strip() or result.stdout[-500:]}")
    requests_, micros, p50, p99, non_2xx, errors = (int(value) for value in found.groups())
    run = Run(requests_, micros / 1e6, p50 / 1000, p99 / 1000, non_2xx + errors)
    if run.failed > run.requests // 100:
        raise HarnessError(f"{url}: {run.failed} of {run.requests} requests failed ({mode})")
    return run


def median_load(runs: Sequence[Run]) -> Load:
    return Load(
        statistics.median(run.rate for run in runs),
        statistics.median(run.p50_ms for run in runs),
        statistics.median(run.p99_ms for run in runs),
    )


def side_by_side(
    hello_url: str, evaluation_url: str, keys: Sequence[str]
) -> tuple[list[Run], list[Run], int]:
    """hello and evaluate alternating; their runs and how many evaluations were made
    (warm-up included: each one publishes an event)."""
    evaluations = wrk(evaluation_url, "evaluate", keys, WARM_UP_SECONDS).requests
    wrk(hello_url, "evaluate", keys, WARM_UP_SECONDS)
    hello: list[Run] = []
    evaluate: list[Run] = []
    for _ in range(RUNS):
        hello.append(wrk(hello_url, "evaluate", keys, SECONDS))
        evaluate.append(wrk(evaluation_url, "evaluate", keys, SECONDS))
    evaluations += sum(run.requests for run in evaluate)
    return hello, evaluate, evaluations


def ofrep_bulk(evaluation_url: str, keys: Sequence[str]) -> tuple[Load, int] | str:
    """The bulk endpoint's medians and flags per answer, or why it was not measured."""
    answer = requests.post(
        f"{evaluation_url}/ofrep/v1/evaluate/flags",
        json={"context": {"targetingKey": "user-1"}},
        headers={"Authorization": f"Bearer {keys[0]}"},
        timeout=10,
    )
    if answer.status_code != 200:
        return f"not measured: the endpoint answered {answer.status_code}"
    flags = len(answer.json().get("flags", []))
    wrk(evaluation_url, "ofrep", keys, WARM_UP_SECONDS)
    return median_load([wrk(evaluation_url, "ofrep", keys, SECONDS) for _ in range(RUNS)]), flags


# -- SQS -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SqsCost:
    evaluations: int
    messages: int
    """SendMessage calls: the messages in the queue, counted by SQS"""
    billed: int
    """requests as SQS bills them: one per started 64 KiB of each message"""
    events: int
    dropped: int | None
    counted_by: str


def sqs_cost(stack: DevStack, evaluations: int, workers: int) -> SqsCost:
    """What the evaluations cost in SQS. The queue counts the messages (the drain is
    paused: nothing takes them); billed requests and events come from the publishers'
    own counts when those are complete (every worker answered `/status` and their
    messages add up to the queue's), else from reading every message back (slow: the
    packs are up to 256 KiB, hundreds of MB through moto)."""
    sqs = aws_client("sqs", endpoint_url=stack.aws_endpoint_url, region=stack.region)
    messages = _settled_count(sqs, stack.queue_url)
    own = worker_events(stack.url_of("evaluation"), workers)
    if own is not None and own["sqs_messages"] == messages:
        return SqsCost(
            evaluations,
            messages,
            own["sqs_billed_requests"],
            own["sent"],
            own["dropped"],
            "the workers' /status, complete: their messages add up to the queue's",
        )
    billed = events = 0
    while received := sqs.receive_message(
        QueueUrl=stack.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=900
    ).get("Messages", []):
        for message in received:
            body = str(message["Body"])
            billed += max(1, math.ceil(len(body.encode()) / SQS_BILLING_CHUNK))
            try:
                decoded = json.loads(body)
            except ValueError:
                decoded = None
            count = decoded.get("count") if isinstance(decoded, dict) else None
            events += count if isinstance(count, int) else 1  # a sealed pack says its count
    return SqsCost(evaluations, messages, billed, events, None, "every message read back")


def _settled_count(sqs: Any, queue_url: str) -> int:
    """The number of messages in the queue once it has not changed for 2.5 s (the
    publishers flush at least every second)."""
    count, since = -1, time.monotonic()
    deadline = since + 30
    while time.monotonic() < deadline:
        attributes = sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        now = int(attributes["ApproximateNumberOfMessages"])
        if now != count:
            count, since = now, time.monotonic()
        elif time.monotonic() - since >= 2.5:
            break
        time.sleep(0.25)
    return count


def worker_events(evaluation_url: str, workers: int) -> dict[str, int] | None:
    """The event publishers' own counts since start, summed over evaluation's worker
    processes. `/status` names the pid that answered, so it is asked on new connections
    until every worker has answered; None when they did not, or `/status` is missing."""
    seen: dict[int, dict[str, Any]] = {}
    for _ in range(100):
        try:
            body = requests.get(f"{evaluation_url}/status", timeout=5).json()
        except (requests.RequestException, ValueError):
            return None
        if not isinstance(body, dict) or not isinstance(body.get("events"), dict):
            return None
        seen[body.get("pid", 0)] = body["events"]
        if len(seen) >= workers:
            names = ("sent", "dropped", "sqs_messages", "sqs_billed_requests")
            return {name: sum(int(each.get(name, 0)) for each in seen.values()) for name in names}
    return None


# -- the run ---------------------------------------------------------------------------


@dataclass
class Figures:
    workers: int = 0
    commands: tuple[str, str] = ("", "")
    cold: dict[str, list[float]] = field(default_factory=dict)
    """function → seconds to the first 200 of /health, then of /ready"""
    cold_many: list[float] = field(default_factory=list)
    hello: Load | None = None
    evaluate: Load | None = None
    pairs: list[tuple[Run, Run]] = field(default_factory=list)
    """each hello run with the evaluate run that followed it"""
    bulk: tuple[Load, int] | str = "not measured"
    sqs: SqsCost | None = None
    insert_seconds: float = 0.0
    busy: float = 0.0
    """the most the machine was busy when a measurement began (other work on it)"""
    phases: dict[str, float] = field(default_factory=dict)

    def settle(self) -> None:
        self.busy = max(self.busy, settle())

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        yield
        self.phases[name] = time.monotonic() - started


def measure(stack: DevStack, figures: Figures) -> None:
    figures.workers = worker_count(stack)
    stack.pause_forwarder()  # analytics takes no CPU; SQS keeps every event, for counting
    lower_emulator_priority(stack)
    hello_port = free_port()
    figures.commands = (
        shlex.join(function_command("evaluation", stack.ports.evaluation, stack.functions_source)),
        shlex.join(hello_process(stack, hello_port, figures.workers).command),
    )

    def hello_at(port: int) -> ChildProcess:
        return hello_process(stack, port, figures.workers)

    with figures.phase("cold starts"):
        figures.settle()
        probes: list[Probe] = [("/health", {}), ("/ready", {})]
        for target in FUNCTIONS:
            figures.cold[target] = median_cold_start(function_process(stack, target), probes)
        figures.cold["hello"] = median_cold_start(hello_at, probes)
        check_alive(stack)

    with figures.phase("evaluate vs hello"):
        import_flags(stack, stack.new_key("bench-admin"), BULK_FLAGS)
        keys = [stack.new_key(f"bench-{env}", environment=env) for env in ENVIRONMENTS]
        evaluation_url = stack.url_of("evaluation")
        hello = hello_at(hello_port)
        hello.start()
        try:
            wait_for_200(hello, hello_port, "/health")
            figures.settle()
            hello_runs, evaluate_runs, evaluations = side_by_side(
                f"http://127.0.0.1:{hello_port}", evaluation_url, keys
            )
            figures.hello, figures.evaluate = median_load(hello_runs), median_load(evaluate_runs)
            figures.pairs = list(zip(hello_runs, evaluate_runs, strict=True))
        finally:
            hello.stop()

    with figures.phase("SQS count"):
        figures.sqs = sqs_cost(stack, evaluations, figures.workers)

    with figures.phase("OFREP"):
        figures.settle()
        figures.bulk = ofrep_bulk(evaluation_url, keys)

    with figures.phase(f"{MANY_FLAGS:,} flags"):
        figures.insert_seconds = insert_flags(stack, BULK_FLAGS, MANY_FLAGS)
        auth = {"Authorization": f"Bearer {keys[0]}"}
        last = f"/evaluate?user_id=user-1&flag_name={flag_name(MANY_FLAGS - 1)}"
        wait_for_200_on_stack(stack, last, auth)
        figures.settle()
        decision = f"/evaluate?user_id=user-1&flag_name={flag_name(0)}"
        figures.cold_many = median_cold_start(
            function_process(stack, "evaluation"),
            [("/health", {}), ("/ready", {}), (decision, auth)],
        )
        check_alive(stack)


def check_alive(stack: DevStack) -> None:
    """A function of the stack that died makes every later figure meaningless."""
    dead = stack.dead_functions()
    if dead:
        logs = "\n".join(tail(stack.logs_dir / f"{target}.log", 20) for target in dead)
        raise HarnessError(f"the stack's functions exited: {dead}\n{logs}")


def wait_for_200_on_stack(stack: DevStack, path: str, headers: Mapping[str, str]) -> None:
    """Until the stack's own evaluation decides the last flag written (its snapshot,
    and the Redis copy cold starts read, have caught up)."""
    deadline = time.monotonic() + 60
    while status_of(stack.ports.evaluation, path, headers) != 200:
        if time.monotonic() > deadline:
            raise HarnessError(f"evaluation never answered 200 on {path} after the bulk write")
        time.sleep(0.1)


# -- the report ------------------------------------------------------------------------


class Table:
    """Rows of figure, value, goal and verdict, printed aligned."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str]] = []

    def add(self, name: str, value: str, goal: str = "", met: bool | None = None) -> None:
        self.rows.append((name, value, goal, "" if met is None else "met" if met else "MISSED"))

    def load(self, name: str, load: Load) -> None:
        self.add(
            name, f"{load.rate:,.0f} req/s, p50 {load.p50_ms:.2f} ms, p99 {load.p99_ms:.2f} ms"
        )

    def print(self) -> None:
        widths = [max(len(row[column]) for row in self.rows) for column in range(4)]
        for row in self.rows:
            cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            print("  " + "  ".join(cells).rstrip())


def report(figures: Figures) -> None:
    hello, evaluate, sqs = figures.hello, figures.evaluate, figures.sqs
    assert hello and evaluate and sqs and figures.cold and figures.cold_many
    table = Table()
    table.load("hello", hello)
    table.load("evaluate", evaluate)
    rate, p99 = evaluate.rate / hello.rate, evaluate.p99_ms / hello.p99_ms
    table.add("evaluate / hello, req/s", f"{rate:.2f}", f">= {RATE_GOAL}", rate >= RATE_GOAL)
    table.add("evaluate / hello, p99", f"{p99:.2f}", f"<= {P99_GOAL}", p99 <= P99_GOAL)
    each = ", ".join(
        f"{e.rate / h.rate:.2f} and {e.p99_ms / h.p99_ms:.2f}" for h, e in figures.pairs
    )
    table.add("  each pair, req/s and p99", each)
    goal = f">= {DECISIONS_GOAL:,}"
    if isinstance(figures.bulk, str):
        table.add("OFREP bulk, decisions/s", figures.bulk, goal, False)
    else:
        bulk, flags = figures.bulk
        decisions = bulk.rate * flags
        table.load(f"OFREP bulk, {flags} flags", bulk)
        met = decisions >= DECISIONS_GOAL and flags >= BULK_FLAGS
        table.add("  flag decisions/s", f"{decisions:,.0f}", goal, met)
    per_100 = 100 / max(sqs.evaluations, 1)
    billed = sqs.billed * per_100
    table.add(
        "SQS requests / 100 evaluations",
        f"{billed:.3f} billed (64 KiB)",
        f"<= {SQS_GOAL:g}",
        billed <= SQS_GOAL,
    )
    table.add("  SendMessage calls / 100", f"{sqs.messages * per_100:.3f}")
    dropped = "" if sqs.dropped is None else f", {sqs.dropped:,} dropped"
    value = f"{sqs.events / max(sqs.evaluations, 1):.3f}{dropped} ({sqs.evaluations:,} evaluations)"
    table.add("  events sent / evaluations", value)
    for target, (health, ready) in figures.cold.items():
        name = f"cold start {target}, empty"
        value = f"{health:.2f} s (/health), /ready {ready:.2f} s"
        if target == "hello":
            table.add(name, value, "yardstick")
        else:
            table.add(name, value, f"<= {COLD_GOAL} s", health <= COLD_GOAL)
    health, ready, first = figures.cold_many
    name = f"cold start evaluation, {MANY_FLAGS:,} flags"
    goal = f"<= {COLD_MANY_GOAL} s"
    table.add(name, f"{first:.2f} s (first decision)", goal, first <= COLD_MANY_GOAL)
    table.add("", f"/health {health:.2f} s, /ready {ready:.2f} s")

    print()
    print(
        f"make bench: wrk -t1 -c{CONNECTIONS} -d{SECONDS}s, median of {RUNS} alternating runs,"
        f" {USERS:,} users x {LOAD_FLAGS} flags x {len(ENVIRONMENTS)} environments,"
        f" WORKERS={figures.workers}, analytics drain paused, SQS emulator at nice 19"
    )
    print(f"  evaluation: {figures.commands[0]}")
    print(f"  hello:      {figures.commands[1]}")
    print(
        f"  cold starts: median of {COLD_RUNS}, bytecode compiled as in the image;"
        f" {MANY_FLAGS - BULK_FLAGS:,} flags inserted in {figures.insert_seconds:.1f} s"
    )
    if figures.sqs is not None:
        print(f"  SQS: messages counted by the queue; the rest from {figures.sqs.counted_by}")
    if figures.busy >= IDLE:
        print(
            f"  note: other work kept the machine {figures.busy:.0%} busy when a measurement"
            " began: the absolute figures are low, the ratios less affected"
        )
    table.print()
    print("  seconds: " + ", ".join(f"{name} {secs:.0f}" for name, secs in figures.phases.items()))


def main() -> int:
    if shutil.which("wrk") is None:
        print("bench_evaluate: wrk not found: install it with `apt-get install wrk`")
        return 1
    figures = Figures()
    try:
        compile_bytecode()
        with figures.phase("total"), private_stack() as stack:
            try:
                measure(stack, figures)
            except HarnessError:
                check_alive(stack)  # a function that died says more than what failed next
                raise
    except (HarnessError, StartupError) as exc:
        print(f"bench_evaluate: could not measure: {str(exc)[:3000]}", file=sys.stderr)
        return 1
    report(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
