"""The whole stack, started the way `make dev` starts it, on free ports."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import pytest
from flask.testing import FlaskClient

from functions.core.adapters.migrations import migrate
from functions.devstack.stack import DevStack, private_stack

StackStarter = Callable[[dict[str, str]], AbstractContextManager[DevStack]]


@pytest.fixture(scope="session")
def stack() -> Iterator[DevStack]:
    with private_stack({"AUTH_FAILURE_LIMIT": "0", "ADMIN_RATE_LIMIT": "0"}) as running:
        yield running


@pytest.fixture
def start_stack() -> StackStarter:
    """For tests that need a stack of their own (different settings, or to stop parts)."""
    return private_stack


@pytest.fixture(scope="session")
def api_key(stack: DevStack) -> str:
    """A key created as the seed's README does."""
    return stack.new_key("platform")


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
            "AUTH_DATABASE_URL": stack.auth_database_url,
            "GRANT_SECRET": stack.grant_secret,
        },
    )
