"""The whole stack, started the way `make dev` starts it, on free ports."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
import requests
from flask.testing import FlaskClient

from functions.core.adapters.migrations import migrate
from functions.devstack.processes import free_port
from functions.devstack.stack import DevStack, StackPorts


@contextmanager
def started_stack(extra_env: dict[str, str]) -> Iterator[DevStack]:
    """A stack on free ports in a fresh directory, never pointed at the machine's own
    servers; `extra_env` reaches every function."""
    run_dir = Path(tempfile.mkdtemp(prefix="togglemaster-e2e-"))
    run_dir.chmod(0o755)
    ports = StackPorts(**{name: free_port() for name in StackPorts.__dataclass_fields__})
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("DATABASE_URL", "REDIS_URL", "AWS_ENDPOINT_URL", "MASTER_KEY")
    }
    try:
        with DevStack(run_dir, ports, env={**env, **extra_env}) as running:
            yield running
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


StackStarter = Callable[[dict[str, str]], AbstractContextManager[DevStack]]


@pytest.fixture(scope="session")
def stack() -> Iterator[DevStack]:
    with started_stack({}) as running:
        yield running


@pytest.fixture
def start_stack() -> StackStarter:
    """For tests that need a stack of their own (different settings, or to stop parts)."""
    return started_stack


@pytest.fixture(scope="session")
def api_key(stack: DevStack) -> str:
    """A key created as the seed's README does."""
    response = requests.post(
        f"{stack.url_of('auth')}/admin/keys",
        json={"name": "platform"},
        headers={"Authorization": f"Bearer {stack.master_key}"},
        timeout=5,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["key"])


@pytest.fixture
def empty_flags(
    function_client: Callable[[str, dict[str, str]], FlaskClient],
    fresh_database: Callable[[str], str],
    stack: DevStack,
) -> FlaskClient:
    """The flags function on a new, empty configuration database, checking keys with the
    running stack's auth: where exports are imported to prove they reproduce decisions."""
    url = fresh_database("imported")
    migrate(url, ["flags", "targeting"])
    return function_client(
        "flags",
        {
            "DATABASE_URL": url,
            "REDIS_URL": stack.redis_url,
            "AUTH_SERVICE_URL": stack.url_of("auth"),
        },
    )
