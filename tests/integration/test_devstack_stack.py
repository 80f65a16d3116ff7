"""`make dev`'s orchestration: DevStack starts servers, functions and forwarder, and stops
them all. Stand-in functions (a small main.py written by the test) keep these tests
independent of the real ones; the last test runs the real functions when they exist."""

from __future__ import annotations

import json
import secrets
import shutil
import socket
import stat
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import astuple, replace
from pathlib import Path

import psycopg
import pytest
import requests

from functions.core.names import FUNCTIONS
from functions.devstack.aws import client
from functions.devstack.errors import PortInUseError, StartupError
from functions.devstack.processes import free_port, port_is_free
from functions.devstack.stack import (
    FUNCTIONS_SOURCE,
    PORT_VARIABLES,
    DevKey,
    DevStack,
    StackPorts,
    load_master_key,
    read_env_file,
    render_env_file,
)

FAKE_FUNCTIONS = """
import json
import os

import flask
import functions_framework


def _health_or(handler):
    def target(request: flask.Request):
        if request.path == "/health":
            return {"status": "ok"}
        return handler(request)
    return target


def _env(request):
    return dict(os.environ)


def _received(request):
    with open(os.environ["FAKE_RECEIVED"], "a") as out:
        out.write(json.dumps({"ce-type": request.headers.get("ce-type"),
                              "body": request.get_data(as_text=True)}) + "\\n")
    return "", 204


for _name in ("auth", "flags", "targeting", "evaluation"):
    globals()[_name] = functions_framework.http(_health_or(_env))
analytics = functions_framework.http(_health_or(_received))
"""


@pytest.fixture
def run_dir() -> Iterator[Path]:
    """Like tmp_path, but traversable by the unprivileged `postgres` user."""
    path = Path(tempfile.mkdtemp(prefix="togglemaster-stack-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _free_ports() -> StackPorts:
    return StackPorts(**{name: free_port() for name in StackPorts.__dataclass_fields__})


def _all_ports(ports: StackPorts) -> list[int]:
    return list(astuple(ports))


def _get_json(url: str) -> dict[str, str]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310
        body: dict[str, str] = json.load(response)
    return body


def _fake_stack(
    run_dir: Path,
    source: Path,
    calls: list[tuple[str, Sequence[str]]],
    ports: StackPorts | None = None,
) -> DevStack:
    def migrate(url: str, components: Sequence[str]) -> list[str]:
        calls.append((url, list(components)))
        return []

    def provision_key(url: str, redis_url: str, key: DevKey, kept: str | None) -> str:
        return kept or f"tm_key_{key.name}_{len(calls)}"

    return DevStack(
        run_dir / ".run",
        ports or _free_ports(),
        env={"PATH": "/usr/bin:/bin", "FAKE_RECEIVED": str(run_dir / "received.jsonl")},
        migrate=migrate,
        provision_key=provision_key,
        functions_source=source,
    )


def test_devstack__fake_functions__all_healthy_configured_fed_and_stopped_clean(
    run_dir: Path,
) -> None:
    # Given
    source = run_dir / "main.py"
    source.write_text(FAKE_FUNCTIONS)
    migrations: list[tuple[str, Sequence[str]]] = []
    stack = _fake_stack(run_dir, source, migrations)

    # When
    stack.start()
    try:
        health = {target: _get_json(f"{url}/health") for target, url in stack.function_urls.items()}
        evaluation_env = _get_json(f"{stack.url_of('evaluation')}/env")
        auth_env = _get_json(f"{stack.url_of('auth')}/env")
        client("sqs", endpoint_url=stack.aws_endpoint_url, region="us-east-1").send_message(
            QueueUrl=stack.queue_url, MessageBody='{"user_id": "u1"}'
        )
        received = run_dir / "received.jsonl"
        for _ in range(100):
            if received.exists() and received.read_text():
                break
            time.sleep(0.05)
        sourced = subprocess.run(
            ["bash", "-c", f"source {stack.env_file} && echo $MASTER_KEY $AWS_SQS_URL"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    finally:
        stack.stop()

    # Then
    assert health == {target: {"status": "ok"} for target in FUNCTIONS}
    assert [components for _, components in migrations] == [["auth"], ["flags", "targeting"]]
    assert migrations[0][0].endswith("/auth_db")
    assert migrations[1][0].endswith("/flags_db")
    assert auth_env["DATABASE_URL"].endswith("/auth_db")
    assert auth_env["MASTER_KEY"] == stack.master_key
    assert evaluation_env["CONFIG_DATABASE_URL"].endswith("/flags_db")
    assert evaluation_env["AUTH_DATABASE_URL"].endswith("/auth_db")
    assert evaluation_env["AWS_SQS_URL"] == stack.queue_url
    assert evaluation_env["AWS_SQS_URL"].endswith("/togglemaster-evaluation-events")
    # The server command's variables: admin functions one worker, evaluation the default
    assert (auth_env["FUNCTION_TARGET"], auth_env["WORKERS"]) == ("auth", "1")
    assert evaluation_env["FUNCTION_TARGET"] == "evaluation"
    assert "WORKERS" not in evaluation_env
    assert "THREADS" not in evaluation_env
    assert evaluation_env["LOG_LEVEL"] == "INFO"
    assert json.loads(received.read_text().splitlines()[0]) == {
        "ce-type": "dev.knative.eventing.aws-sqs",
        "body": '{"user_id": "u1"}',
    }
    assert sourced == [stack.master_key, stack.queue_url]
    assert all(port_is_free(port) for port in _all_ports(stack.ports))
    assert not (run_dir / ".run" / "postgres" / "postmaster.pid").exists()


def test_devstack__second_run_on_same_dir__starts_with_the_same_master_key(run_dir: Path) -> None:
    # Given
    source = run_dir / "main.py"
    source.write_text(FAKE_FUNCTIONS)
    first = _fake_stack(run_dir, source, [])
    first.start()
    first.stop()

    # When
    second = _fake_stack(run_dir, source, [])
    second.start()
    try:
        health = _get_json(f"{second.url_of('auth')}/health")
    finally:
        second.stop()

    # Then the master key and the keys exported in dev.env are the first run's
    assert health == {"status": "ok"}
    assert second.master_key == first.master_key
    assert (second.service_key, second.walkthrough_key) == (
        first.service_key,
        first.walkthrough_key,
    )
    assert first.walkthrough_key.startswith("tm_key_dev-walkthrough")


def test_devstack__function_fails_at_import__error_shows_its_log_and_all_stopped(
    run_dir: Path,
) -> None:
    # Given
    source = run_dir / "main.py"
    source.write_text('raise RuntimeError("boom in main.py")\n')
    stack = _fake_stack(run_dir, source, [])

    # When
    with pytest.raises(StartupError) as raised:
        stack.start()

    # Then
    assert "auth" in str(raised.value)
    assert "boom in main.py" in str(raised.value)
    assert all(port_is_free(port) for port in _all_ports(stack.ports))


def test_load_master_key__no_key_yet__generates_and_keeps_it_private(tmp_path: Path) -> None:
    # Given
    path = tmp_path / "master_key"

    # When
    first = load_master_key(path, {})
    second = load_master_key(path, {})

    # Then
    assert first == second
    assert len(first) >= 40
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_load_master_key__master_key_in_environment__environment_wins(tmp_path: Path) -> None:
    # Given
    path = tmp_path / "master_key"
    load_master_key(path, {})

    chosen = secrets.token_urlsafe(32)

    # When
    key = load_master_key(path, {"MASTER_KEY": chosen})

    # Then
    assert key == chosen


def test_render_env_file__awkward_values__bash_and_reader_get_them_back(tmp_path: Path) -> None:
    # Given
    values = {"PLAIN": "http://127.0.0.1:8001", "AWKWARD": "a b'c$d"}
    path = tmp_path / "dev.env"

    # When
    path.write_text(render_env_file(values))

    # Then
    echoed = subprocess.run(
        ["bash", "-c", f'source {path} && printf "%s\\n" "$PLAIN" "$AWKWARD"'],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert echoed == ["http://127.0.0.1:8001", "a b'c$d"]
    assert read_env_file(path) == values


def test_stack_ports_from_env__base_port_given__functions_follow_it() -> None:
    # Given
    env = {"DEV_BASE_PORT": "9000", "DEV_REDIS_PORT": "6400"}

    # When
    ports = StackPorts.from_env(env)

    # Then
    assert [ports.of_function(target) for target in FUNCTIONS] == [
        9001,
        9002,
        9003,
        9004,
        9005,
    ]
    assert (ports.postgres, ports.redis, ports.moto) == (15432, 6400, 14566)
    assert ports.gateway == 9000


def test_stack_ports_from_env__one_port_variable__moves_that_port_only() -> None:
    # Given
    env = {"DEV_BASE_PORT": "9000", "DEV_FLAGS_PORT": "9100", "DEV_GATEWAY_PORT": "9200"}

    # When
    ports = StackPorts.from_env(env)

    # Then
    assert (ports.gateway, ports.auth, ports.flags, ports.targeting) == (9200, 9001, 9100, 9003)
    assert StackPorts.from_env({}).gateway == 8000
    assert PORT_VARIABLES["flags"] == "DEV_FLAGS_PORT"
    assert set(PORT_VARIABLES.values()) >= {"DEV_GATEWAY_PORT", "DEV_POSTGRES_PORT"}


@pytest.mark.parametrize(
    ("taken", "variable", "alternative"),
    [
        ("flags", "DEV_FLAGS_PORT", "DEV_BASE_PORT"),
        ("gateway", "DEV_GATEWAY_PORT", "DEV_BASE_PORT"),
        ("postgres", "DEV_POSTGRES_PORT", "DATABASE_URL"),
        ("moto", "DEV_MOTO_PORT", "AWS_ENDPOINT_URL"),
    ],
)
def test_devstack__a_port_taken__error_names_its_variable_and_a_free_port(
    run_dir: Path, taken: str, variable: str, alternative: str
) -> None:
    # Given a port of the stack that something else listens on
    ports = _free_ports()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", getattr(ports, taken)))
        squatter.listen()
        stack = _fake_stack(run_dir, run_dir / "main.py", [], ports)

        # When
        with pytest.raises(PortInUseError) as raised:
            stack.start()

    # Then the message says which variable moves it, to which free port, or what else
    message = str(raised.value)
    assert message.startswith(f"port {getattr(ports, taken)} is in use")
    suggested = int(message.split(f"set {variable}=", 1)[1].split()[0])
    assert port_is_free(suggested)
    assert suggested not in astuple(ports)
    assert alternative in message
    assert all(port_is_free(port) for port in _all_ports(replace(ports, **{taken: suggested})))


@pytest.mark.skipif(not FUNCTIONS_SOURCE.exists(), reason="functions/main.py not written yet")
def test_devstack__real_functions__every_function_answers_health(run_dir: Path) -> None:
    # Given
    stack = DevStack(run_dir / ".run", _free_ports(), env={"PATH": "/usr/bin:/bin"})

    # When
    stack.start()
    try:
        statuses = {
            target: _get_json(f"{url}/health") for target, url in stack.function_urls.items()
        }
    finally:
        stack.stop()

    # Then
    assert statuses == {target: {"status": "ok"} for target in FUNCTIONS}
    assert stack.service_key.startswith("tm_key_")
    assert all(port_is_free(port) for port in _all_ports(stack.ports))


@pytest.mark.skipif(not FUNCTIONS_SOURCE.exists(), reason="functions/main.py not written yet")
def test_devstack__real_stack_restarted__same_keys_no_new_ones_and_moto_state_kept(
    run_dir: Path,
) -> None:
    # Given a first `make dev` that stored an analytics item, then stopped
    first = DevStack(run_dir / ".run", _free_ports(), env={"PATH": "/usr/bin:/bin"})
    first.start()
    try:
        dynamodb = client("dynamodb", endpoint_url=first.aws_endpoint_url, region="us-east-1")
        dynamodb.put_item(
            TableName="ToggleMasterAnalytics",
            Item={"event_id": {"S": "kept-1"}, "flag_name": {"S": "f"}, "result": {"BOOL": True}},
        )
        client("sqs", endpoint_url=first.aws_endpoint_url, region="us-east-1").send_message(
            QueueUrl=first.queue_url + "-dlq", MessageBody='{"kept": true}'
        )
        keys_before = _key_rows(first.auth_database_url)
    finally:
        first.stop()

    # When it starts again on the same directory (new ports: nothing else changes)
    second = DevStack(run_dir / ".run", _free_ports(), env={"PATH": "/usr/bin:/bin"})
    second.start()
    try:
        item = client(
            "dynamodb", endpoint_url=second.aws_endpoint_url, region="us-east-1"
        ).get_item(TableName="ToggleMasterAnalytics", Key={"event_id": {"S": "kept-1"}})
        dead_letters = client(
            "sqs", endpoint_url=second.aws_endpoint_url, region="us-east-1"
        ).receive_message(QueueUrl=second.queue_url + "-dlq", WaitTimeSeconds=1)
        keys_after = _key_rows(second.auth_database_url)
        validated = _get_json_with_key(f"{second.gateway_url}/validate", second.walkthrough_key)
    finally:
        second.stop()

    # Then the keys are the first run's, no key was added, and moto kept its data
    assert (second.service_key, second.walkthrough_key) == (
        first.service_key,
        first.walkthrough_key,
    )
    assert keys_after == keys_before
    assert [name for name, _ in keys_after] == ["evaluation-service", "dev-walkthrough"]
    assert sorted(validated["scopes"]) == ["evaluate", "read", "write"]
    assert item["Item"]["flag_name"] == {"S": "f"}
    assert [m["Body"] for m in dead_letters["Messages"]] == ['{"kept": true}']
    assert read_env_file(second.env_file)["TM_KEY"] == second.walkthrough_key


def _key_rows(auth_database_url: str) -> list[tuple[str, bool]]:
    with psycopg.connect(auth_database_url) as conn:
        rows = conn.execute("SELECT name, is_active FROM api_keys ORDER BY id").fetchall()
    return [(str(name), bool(active)) for name, active in rows]


def _get_json_with_key(url: str, key: str) -> dict[str, list[str]]:
    response = requests.get(url, headers={"Authorization": f"Bearer {key}"}, timeout=5)
    response.raise_for_status()
    body: dict[str, list[str]] = response.json()
    return body
