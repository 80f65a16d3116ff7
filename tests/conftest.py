"""Session fixtures: private PostgreSQL, Redis and moto servers, shared by every test.

Each server starts on a free port in a temporary directory the first time a test asks
for it, and stops at the end of the session. ``TEST_DATABASE_URL``, ``TEST_REDIS_URL``
and ``TEST_AWS_ENDPOINT_URL`` point the fixtures at servers you run yourself instead.
``--keep-server-logs`` keeps the servers' directory (logs included) when a test failed.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import flask
import functions_framework
import pytest
from flask.testing import FlaskClient

import functions
from functions.core.adapters import db
from functions.core.adapters import redis_clients as cache
from functions.core.adapters.migrations import migrate, sql_dir
from functions.devstack.aws import client, ensure_analytics_table, ensure_queue
from functions.devstack.moto import MotoServer
from functions.devstack.postgres import PrivatePostgres, create_database, drop_database
from functions.devstack.processes import free_port
from functions.devstack.redis_server import PrivateRedis
from functions.http import startup

TEST_REGION = "us-east-1"
TEST_GRANT_SECRET = secrets.token_hex(32)
TEST_EVENTS_SECRET = secrets.token_hex(32)

DatabaseFactory = Callable[[str], str]
"""``fresh_database("flags")`` → URL of a new, empty, uniquely named database."""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--keep-server-logs",
        action="store_true",
        default=False,
        help="keep the test servers' directory (data and logs) when a test failed",
    )


@pytest.fixture(scope="session", autouse=True)
def _aws_test_environment() -> Iterator[None]:
    """Fake AWS credentials and a region, unless the environment already has them."""
    defaults = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": TEST_REGION,
        # The functions' shared secret, and no rate limits: tests that fail to
        # authenticate on purpose, many from one address, would otherwise meet them
        # (tests/e2e/test_key_attacks.py sets its own limits).
        "GRANT_SECRET": TEST_GRANT_SECRET,
        "EVENTS_SIGNING_SECRET": TEST_EVENTS_SECRET,
        "AUTH_FAILURE_LIMIT": "0",
        "ADMIN_RATE_LIMIT": "0",
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in defaults.items():
            if not os.environ.get(name):
                patch.setenv(name, value)
        yield


@pytest.fixture(scope="session")
def servers_dir(request: pytest.FixtureRequest) -> Iterator[Path]:
    """A directory for the session's servers, traversable by the ``postgres`` user."""
    path = Path(tempfile.mkdtemp(prefix="togglemaster-servers-"))
    path.chmod(0o755)
    yield path
    failed = request.session.testsfailed > 0
    if failed and request.config.getoption("--keep-server-logs"):
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"test servers' logs kept in {path}")
        return
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server(servers_dir: Path) -> Iterator[str]:
    """Base URL (maintenance database) of a PostgreSQL server: ``TEST_DATABASE_URL``, or a
    private cluster on a free port."""
    given = os.environ.get("TEST_DATABASE_URL")
    if given:
        yield given
        return
    server = PrivatePostgres(servers_dir / "postgres", free_port())
    yield server.start()
    server.stop()


@pytest.fixture(scope="session")
def _created_databases(postgres_server: str) -> Iterator[list[str]]:
    """The databases the session created, dropped at its end on a server given by
    ``TEST_DATABASE_URL``; a private cluster goes whole (each DROP DATABASE forces a
    checkpoint: dropping a session's hundred-odd one by one took 13 to 30 s)."""
    names: list[str] = []
    yield names
    if os.environ.get("TEST_DATABASE_URL"):
        for name in names:
            drop_database(postgres_server, name)


@pytest.fixture
def fresh_database(postgres_server: str, _created_databases: list[str]) -> DatabaseFactory:
    """A factory: ``fresh_database("auth")`` creates an empty database named after the hint
    and returns its URL. The databases go at the end of the session (see `_created_databases`)."""

    def create(hint: str = "test") -> str:
        prefix = re.sub(r"[^a-z0-9_]", "_", hint.lower())[:40] or "test"
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        url = create_database(postgres_server, name)
        _created_databases.append(name)
        return url

    return create


@pytest.fixture(scope="session")
def redis_url(servers_dir: Path) -> Iterator[str]:
    """URL of a Redis server: ``TEST_REDIS_URL``, or a private one on a free port."""
    given = os.environ.get("TEST_REDIS_URL")
    if given:
        yield given
        return
    server = PrivateRedis(servers_dir / "redis", free_port(), password=secrets.token_urlsafe(18))
    yield server.start()
    server.stop()


@pytest.fixture(scope="session")
def moto_endpoint(servers_dir: Path) -> Iterator[str]:
    """Endpoint URL of moto's server (SQS, DynamoDB): ``TEST_AWS_ENDPOINT_URL``, or a
    private one on a free port."""
    given = os.environ.get("TEST_AWS_ENDPOINT_URL")
    if given:
        yield given
        return
    server = MotoServer(free_port(), log_path=servers_dir / "moto.log")
    yield server.start()
    server.stop()


@pytest.fixture
def sqs_queue(moto_endpoint: str) -> Iterator[str]:
    """URL of a new, uniquely named queue (with its ``-dlq``) on moto; deleted afterwards."""
    name = f"test-events-{uuid.uuid4().hex[:12]}"
    queue_url = ensure_queue(moto_endpoint, TEST_REGION, name)
    yield queue_url
    sqs = client("sqs", endpoint_url=moto_endpoint, region=TEST_REGION)
    sqs.delete_queue(QueueUrl=queue_url)
    sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=f"{name}-dlq")["QueueUrl"])


@pytest.fixture
def analytics_table(moto_endpoint: str) -> Iterator[str]:
    """Name of a new, uniquely named analytics table on moto; deleted afterwards."""
    name = f"TestAnalytics-{uuid.uuid4().hex[:12]}"
    yield ensure_analytics_table(moto_endpoint, TEST_REGION, name)
    client("dynamodb", endpoint_url=moto_endpoint, region=TEST_REGION).delete_table(TableName=name)


SOURCE = str(Path(functions.__file__).parent / "main.py")

ClientFactory = Callable[[str, dict[str, str]], FlaskClient]
"""``function_client("auth", {...})`` → a test client of that target, configured by env."""


def _reset(target: str) -> None:
    """Forget the settings, services and clients the target built (and stop their threads)."""
    startup.reset(f"functions.{target}")


@pytest.fixture
def function_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[ClientFactory]:
    """``function_client("auth", {"DATABASE_URL": ...})`` → a test client of that target."""
    used: list[str] = []

    def make(target: str, env: dict[str, str]) -> FlaskClient:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        _reset(target)
        used.append(target)
        app: flask.Flask = functions_framework.create_app(target, SOURCE)  # type: ignore[no-untyped-call]
        return app.test_client()

    yield make
    for target in used:
        _reset(target)
    db.close_all()
    cache.close_all()


SqlUpTo = Callable[[int], Path]
"""``sql_up_to(2)`` → a copy of sql/ holding only migrations 001…002 (upgrade tests)."""


@pytest.fixture
def sql_up_to(tmp_path: Path) -> SqlUpTo:
    def copy(last: int) -> Path:
        root = tmp_path / f"sql-{last:03d}"
        shutil.copytree(sql_dir(), root)
        for path in root.glob("*/*.sql"):
            if int(path.name[:3]) > last:
                path.unlink()
        return root

    return copy


@pytest.fixture
def auth_db(fresh_database: DatabaseFactory) -> str:
    """A new auth database, migrated."""
    url = fresh_database("auth")
    migrate(url, ["auth"])
    return url
