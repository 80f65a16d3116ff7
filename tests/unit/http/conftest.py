"""Fixtures the HTTP layer's tests share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from functions.http import startup


@pytest.fixture
def hooks() -> Iterator[list[str]]:
    """No shutdown hook registered, none run yet in this process; a list for the test's
    hooks to record into. What was registered before comes back afterwards."""
    ran: list[str] = []
    saved = list(startup._shutdown_hooks)
    startup._shutdown_hooks.clear()
    startup._hooks_ran_in = None
    yield ran
    startup._shutdown_hooks[:] = saved
    startup._hooks_ran_in = None
