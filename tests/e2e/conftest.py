"""The whole stack, started the way `make dev` starts it, on free ports."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from flask.testing import FlaskClient

from functions.core.schema import migrate
from functions.devstack.processes import free_port
from functions.devstack.stack import DevStack, StackPorts


@pytest.fixture(scope="session")
def stack() -> Iterator[DevStack]:
    run_dir = Path(tempfile.mkdtemp(prefix="togglemaster-e2e-"))
    run_dir.chmod(0o755)
    ports = StackPorts(
        postgres=free_port(),
        redis=free_port(),
        moto=free_port(),
        auth=free_port(),
        flags=free_port(),
        targeting=free_port(),
        evaluation=free_port(),
        analytics=free_port(),
    )
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("DATABASE_URL", "REDIS_URL", "AWS_ENDPOINT_URL", "MASTER_KEY")
    }
    with DevStack(run_dir, ports, env=env) as running:
        yield running


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
