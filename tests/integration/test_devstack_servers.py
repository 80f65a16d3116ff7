"""The private servers behind `make dev` and the test fixtures start, stop, and restart."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from functions.devstack.aws import client
from functions.devstack.errors import MissingBinaryError, PortInUseError
from functions.devstack.postgres import PrivatePostgres
from functions.devstack.processes import free_port, port_is_free
from functions.devstack.redis_server import PrivateRedis


def _nothing_installed(name: str) -> str | None:
    return None


@pytest.fixture
def run_dir() -> Iterator[Path]:
    """Like tmp_path, but traversable by the unprivileged `postgres` user."""
    path = Path(tempfile.mkdtemp(prefix="togglemaster-devstack-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _select_one(url: str) -> int:
    with psycopg.connect(url, connect_timeout=5) as conn:
        row = conn.execute("SELECT 1").fetchone()
    assert row is not None
    value: int = row[0]
    return value


def test_private_postgres__started_twice_on_same_dir__accepts_connections_each_time(
    run_dir: Path,
) -> None:
    # Given
    server = PrivatePostgres(run_dir / "postgres", free_port())
    first_url = server.start()
    server.stop()

    # When
    second_url = server.start()

    # Then
    try:
        assert second_url == first_url == f"postgresql://postgres@127.0.0.1:{server.port}/postgres"
        assert _select_one(second_url) == 1
    finally:
        server.stop()
    assert port_is_free(server.port)
    assert not (run_dir / "postgres" / "postmaster.pid").exists()


def test_private_postgres__postmaster_killed_leaving_stale_pid__starts_again(
    run_dir: Path,
) -> None:
    # Given a cluster whose postmaster died without cleaning up
    server = PrivatePostgres(run_dir / "postgres", free_port())
    server.start()
    pid_file = run_dir / "postgres" / "postmaster.pid"
    postmaster = int(pid_file.read_text().splitlines()[0])
    os.kill(postmaster, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while not port_is_free(server.port) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pid_file.exists()

    # When
    url = server.start()

    # Then
    try:
        assert _select_one(url) == 1
    finally:
        server.stop()


def test_private_postgres__left_running_by_a_killed_run__new_run_starts(run_dir: Path) -> None:
    # Given a server started by an earlier run that never stopped it
    port = free_port()
    PrivatePostgres(run_dir / "postgres", port).start()

    # When a new run starts on the same directory and port
    server = PrivatePostgres(run_dir / "postgres", port)
    url = server.start()

    # Then
    try:
        assert _select_one(url) == 1
    finally:
        server.stop()
    assert port_is_free(port)


def test_private_postgres__create_database_twice__returns_same_url(run_dir: Path) -> None:
    # Given
    server = PrivatePostgres(run_dir / "postgres", free_port())
    server.start()

    try:
        # When
        first = server.create_database("flags_db")
        second = server.create_database("flags_db")

        # Then
        assert first == second == f"postgresql://postgres@127.0.0.1:{server.port}/flags_db"
        assert _select_one(first) == 1
    finally:
        server.stop()


def test_private_postgres__binaries_missing__one_line_install_hint(run_dir: Path) -> None:
    # Given
    server = PrivatePostgres(run_dir / "postgres", free_port(), lookup=_nothing_installed)

    # When
    with pytest.raises(MissingBinaryError) as raised:
        server.start()

    # Then
    assert str(raised.value) == (
        "PostgreSQL server binaries not found (initdb): "
        "install them with `apt-get install postgresql`"
    )


def test_private_redis__started_twice_on_same_dir__answers_ping(run_dir: Path) -> None:
    # Given
    server = PrivateRedis(run_dir / "redis", free_port())
    server.start()
    server.stop()

    # When
    url = server.start()

    # Then
    try:
        assert redis.Redis.from_url(url).ping()
    finally:
        server.stop()
    assert port_is_free(server.port)


def test_private_redis__binary_missing__one_line_install_hint(run_dir: Path) -> None:
    # Given
    server = PrivateRedis(run_dir / "redis", free_port(), lookup=_nothing_installed)

    # When
    with pytest.raises(MissingBinaryError) as raised:
        server.start()

    # Then
    assert str(raised.value) == (
        "Redis server binary not found (redis-server): "
        "install it with `apt-get install redis-server`"
    )


def test_private_redis__port_taken__names_the_port_and_the_way_out(run_dir: Path) -> None:
    # Given
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = PrivateRedis(run_dir / "redis", port)

        # When
        with pytest.raises(PortInUseError) as raised:
            server.start()

    # Then
    assert str(raised.value) == (
        f"port {port} is in use (another `make dev`, or any program: `ss -ltnp"
        f" 'sport = :{port}'` shows which): stop it or set REDIS_URL"
    )


def test_moto_endpoint__fixture__answers_sqs(moto_endpoint: str) -> None:
    # Given
    sqs = client("sqs", endpoint_url=moto_endpoint, region="us-east-1")

    # When
    answer = sqs.list_queues()

    # Then
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
