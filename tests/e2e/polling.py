"""Waiting for what the stack does a moment after a call returns."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")

SETTLE_SECONDS = 5.0


def eventually(
    fetch: Callable[[], T],
    ok: Callable[[T], bool],
    what: str,
    describe: Callable[[T], str] = repr,
    timeout: float = SETTLE_SECONDS,
) -> T:
    """The first result of `fetch` that `ok` accepts; fails, showing the last one, after
    `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = fetch()
        if ok(result):
            return result
        if time.monotonic() >= deadline:
            pytest.fail(f"{what}: not within {timeout:g} s; last: {describe(result)}")
        time.sleep(0.02)
