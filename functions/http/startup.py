"""A function's start-up, written once.

Settings, services and clients are built by cached getters (`@once`), never at import:
`functions.main` calls `start`, which reads and validates the settings before the
server takes requests; the rest is built on first use, in the worker that uses it.
`reset` forgets what one function module built (tests switch databases between
clients), closing what holds a thread or buffered events.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable
from typing import Any, TypeVar

from functions.core.logs import configure_logging
from functions.core.settings import Settings

T = TypeVar("T")

_built: defaultdict[str, list[Any]] = defaultdict(list)


def once(getter: Callable[[], T], *, owner: str | None = None) -> Callable[[], T]:
    """`getter`, called once per process; registered under its module (or `owner`)."""
    cached = functools.cache(getter)
    _built[owner or getter.__module__].append(cached)
    return cached


def start(name: str, settings: Callable[[], Settings]) -> None:
    """Validate the configuration (ConfigError names the variable), then set up logs."""
    configure_logging(name, settings().log_level)


def reset(module: str) -> None:
    for cached in _built.get(module, []):
        if cached.cache_info().currsize:
            close = getattr(cached(), "close", None)
            if callable(close):
                close()
        cached.cache_clear()
