"""`make bench`: evaluation against the hello target, side by side, on a private stack.

What it measures, on the stack `make dev` runs (PostgreSQL, Redis, moto, the five
functions, started with the dev stack's own server command and worker count):

- **evaluate vs hello**: wrk, 1 thread, 32 connections, 8 s per run, three runs of
  each alternating (hello, evaluate, hello, ...), medians (the goals are held to their
  ratio), and the ratios of each hello run and the evaluate run after it, which show
  how much one run's figures swing on a shared machine. Both get the same requests
  from ``load.lua``: 10 000 users over five flags (one of them the 30 % rollout of
  DESIGN.md §5) and three environments, each with its own environment-bound key.
  Events flow: the measured evaluation (started like the stack's, which is stopped
  meanwhile) sends them through its server's relay with boto3, as in production, to
  ``sqs_endpoint.py``, a minimal SQS that counts them (it says why not moto, whose
  CPU on these two cores is AWS's in production). The stack's SQS→analytics forwarder
  is paused, so that analytics takes none of the two cores.
- **OFREP bulk**: ``POST /ofrep/v1/evaluate/flags`` for one context, the environment
  holding 100 boolean flags (half with a percentage rule); decisions per second is
  requests per second × flags per answer.
- **SQS cost** of those evaluations: messages, billed requests (SQS bills each started
  64 KiB of a message as one request: the figure the goal is held to) and events, as
  the endpoint counted every message it took; dropped events come from the publishers'
  own counts, summed over every worker process through ``/status`` (which names its
  pid), whose message and event counts are also checked against the endpoint's.
  ``/metrics`` is not used: a scrape does not say which worker answered.
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

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import functions
from functions.core import engine
from functions.core.names import FUNCTIONS
from functions.devstack.errors import StartupError
from functions.devstack.processes import ChildProcess, free_port, tail
from functions.devstack.stack import DevStack, function_command, private_stack
from tests.bench import sqs_endpoint

HERE = Path(__file__).resolve().parent
HELLO_SOURCE = HERE / "hello.py"
SQS_ENDPOINT_SOURCE = HERE / "sqs_endpoint.py"
LOAD_SCRIPT = HERE / "load.lua"

RUNS, SECONDS, WARM_UP_SECONDS, CONNECTIONS, USERS = 3, 8, 2, 32, 10_000
ENVIRONMENTS = ("development", "staging", "production")
BULK_FLAGS, LOAD_FLAGS, MANY_FLAGS = 100, 5, 10_000
COLD_RUNS, COLD_TIMEOUT = 3, 30.0
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
    """Run the stack's AWS emulator at the lowest CPU priority: the measured load sends
    nothing to it (see `SqsEndpoint`), but the cold starts' first decisions do, and
    whatever it does should take as little of the two cores as it can."""
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


class SqsEndpoint:
    """`sqs_endpoint.py` in a process of its own, at the lowest CPU priority: where the
    measured evaluation sends its events (that module says why not moto)."""

    def __init__(self, stack: DevStack) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.queue_url = sqs_endpoint.queue_url(self.port, "togglemaster-evaluation-events")
        self.process = ChildProcess(
            "SQS endpoint",
            ["nice", "-n", "19", sys.executable, str(SQS_ENDPOINT_SOURCE), str(self.port)],
            log_path=stack.logs_dir / "sqs-endpoint.log",
        )

    def start(self) -> None:
        self.process.start()
        wait_for_200(self.process, self.port, "/counts")

    def stop(self) -> None:
        self.process.stop()

    def counts(self) -> dict[str, int]:
        answer = requests.get(f"{self.url}/counts", timeout=5).json()
        return {name: int(answer[name]) for name in ("messages", "billed", "events")}

    def settled_counts(self) -> dict[str, int]:
        """The counts once they have not changed for 2.5 s (the publishers flush at least
        every second), at most 30 s."""
        counts, since = self.counts(), time.monotonic()
        deadline = since + 30
        while time.monotonic() < deadline and time.monotonic() - since < 2.5:
            time.sleep(0.25)
            now = self.counts()
            if now != counts:
                counts, since = now, time.monotonic()
        return counts


@dataclass(frozen=True)
class SqsCost:
    evaluations: int
    messages: int
    """SendMessage calls the endpoint took"""
    billed: int
    """requests as SQS bills them: one per started 64 KiB of each message"""
    events: int
    dropped: int | None
    agreement: str
    """whether the workers' own counts agree with the endpoint's"""


def sqs_cost(endpoint: SqsEndpoint, evaluation_url: str, evaluations: int, workers: int) -> SqsCost:
    """What the evaluations cost in SQS, as the endpoint counted every message it took;
    dropped events and a cross-check from the publishers' own counts, summed over the
    worker processes."""
    counts = endpoint.settled_counts()
    own = worker_events(evaluation_url, workers)
    if own is None:
        agreement = "the workers' own counts could not all be read"
    elif (own["sqs_messages"], own["sent"], own["sqs_billed_requests"]) == (
        counts["messages"],
        counts["events"],
        counts["billed"],
    ):
        agreement = "the workers' own counts agree"
    else:
        agreement = (
            f"the workers counted {own['sqs_messages']:,} messages, {own['sent']:,} events"
            f" and {own['sqs_billed_requests']:,} billed requests"
        )
    return SqsCost(
        evaluations,
        counts["messages"],
        counts["billed"],
        counts["events"],
        None if own is None else own["dropped"],
        agreement,
    )


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
    stack.pause_forwarder()  # analytics takes no CPU
    lower_emulator_priority(stack)
    hello_port, evaluation_port = free_port(), free_port()
    endpoint = SqsEndpoint(stack)
    evaluation = measured_evaluation(stack, evaluation_port, endpoint)
    evaluation_url = f"http://127.0.0.1:{evaluation_port}"
    figures.commands = (
        shlex.join(evaluation.command),
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

    stack.stop_function("evaluation")  # the measured one is the only evaluation running
    endpoint.start()
    evaluation.start()
    try:
        wait_for_200(evaluation, evaluation_port, "/ready")
        measure_evaluation(stack, figures, evaluation_url, endpoint, hello_at, hello_port)
    finally:
        evaluation.stop()
        endpoint.stop()


def measured_evaluation(stack: DevStack, port: int, endpoint: SqsEndpoint) -> ChildProcess:
    """Evaluation as the stack runs it, its events sent to `endpoint` rather than moto."""
    return ChildProcess(
        "evaluation (measured)",
        function_command("evaluation", port, stack.functions_source),
        log_path=stack.logs_dir / "evaluation-measured.log",
        env={
            **function_env(stack, "evaluation", port),
            "AWS_ENDPOINT_URL": endpoint.url,
            "AWS_SQS_URL": endpoint.queue_url,
        },
    )


def measure_evaluation(
    stack: DevStack,
    figures: Figures,
    evaluation_url: str,
    endpoint: SqsEndpoint,
    hello_at: Callable[[int], ChildProcess],
    hello_port: int,
) -> None:
    """Everything but the cold starts, against the measured evaluation."""
    with figures.phase("evaluate vs hello"):
        import_flags(stack, stack.new_key("bench-admin"), BULK_FLAGS)
        keys = [stack.new_key(f"bench-{env}", environment=env) for env in ENVIRONMENTS]
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
        figures.sqs = sqs_cost(endpoint, evaluation_url, evaluations, figures.workers)

    with figures.phase("OFREP"):
        figures.settle()
        figures.bulk = ofrep_bulk(evaluation_url, keys)

    with figures.phase(f"{MANY_FLAGS:,} flags"):
        figures.insert_seconds = insert_flags(stack, BULK_FLAGS, MANY_FLAGS)
        auth = {"Authorization": f"Bearer {keys[0]}"}
        last = f"/evaluate?user_id=user-1&flag_name={flag_name(MANY_FLAGS - 1)}"
        wait_for_decision(evaluation_url, last, auth)
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


def wait_for_decision(evaluation_url: str, path: str, headers: Mapping[str, str]) -> None:
    """Until the running evaluation decides the last flag written (its snapshot, and the
    Redis copy cold starts read, have caught up)."""
    deadline = time.monotonic() + 60
    while requests.get(f"{evaluation_url}{path}", headers=headers, timeout=5).status_code != 200:
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
        f" WORKERS={figures.workers}, analytics drain paused, events to the bench's SQS"
        " endpoint"
    )
    print(f"  evaluation: {figures.commands[0]}")
    print(f"  hello:      {figures.commands[1]}")
    print(
        f"  cold starts: median of {COLD_RUNS}, bytecode compiled as in the image;"
        f" {MANY_FLAGS - BULK_FLAGS:,} flags inserted in {figures.insert_seconds:.1f} s"
    )
    if figures.sqs is not None:
        print(f"  SQS: counted by the endpoint, every message it took; {figures.sqs.agreement}")
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
