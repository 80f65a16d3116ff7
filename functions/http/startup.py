"""A function's start-up, written once.

Settings, services and clients are built by cached getters (`@once`), never at import:
`functions.main` calls `start`, which reads and validates the settings before the
server takes requests; the rest is built on first use, in the worker that uses it.
`reset` forgets what one function module built (tests switch databases between
clients), closing what holds a thread or buffered events.

Shutdown: `on_shutdown(callback)` registers what must run before a worker exits (the
event publisher's last flush). `run_shutdown_hooks` runs them once per process: on ASGI
lifespan shutdown (`functions.http.asgi.BodyLimit`), and at exit otherwise, WSGI
workers included, which leave through multiprocessing and so skip `atexit`. Last, it
closes what the function modules built and the PostgreSQL pools and Redis clients the
process opened, so that its connections end cleanly rather than with the process.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing.util
import os
import sys
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from functions.core import metrics
from functions.core.logs import configure_logging
from functions.core.settings import Settings

T = TypeVar("T")

_built: defaultdict[str, list[_Once[Any]]] = defaultdict(list)

log = logging.getLogger("togglemaster.http")


class _Once(Generic[T]):
    """`getter`'s value, built by the first caller; concurrent first callers (a request
    and the worker's start-up thread) wait for it rather than build a second one."""

    __slots__ = ("__name__", "_getter", "_lock", "_value")

    def __init__(self, getter: Callable[[], T]) -> None:
        self._getter = getter
        self._lock = threading.Lock()
        self._value: T | None = None
        self.__name__ = getter.__name__

    def __call__(self) -> T:
        value = self._value
        if value is not None:
            return value
        with self._lock:
            if self._value is None:
                self._value = self._getter()
            return self._value

    @property
    def built(self) -> bool:
        return self._value is not None

    def cache_clear(self) -> None:
        self._value = None


def once(getter: Callable[[], T], *, owner: str | None = None) -> Callable[[], T]:
    """`getter`, called once per process; registered under its module (or `owner`)."""
    cached = _Once(getter)
    _built[owner or getter.__module__].append(cached)
    return cached


def start(name: str, settings: Callable[[], Settings]) -> None:
    """Validate the configuration (ConfigError names the variable), then set up logs and
    metrics (EMF lines when asked; each worker's last numbers flushed before it exits)."""
    config = settings()
    configure_logging(name, config.log_level)
    namespace = config.emf_namespace()
    emf = None if namespace is None else metrics.EmfSettings(namespace, config.metrics_emf_seconds)
    metrics.configure(name, emf)
    if not _metrics_shutdown_registered:
        _register_metrics_shutdown()


_metrics_shutdown_registered = False


def _register_metrics_shutdown() -> None:
    global _metrics_shutdown_registered
    _metrics_shutdown_registered = True
    on_shutdown(metrics.shutdown)


def reset(module: str) -> None:
    for cached in _built.get(module, []):
        if cached.built:
            close = getattr(cached(), "close", None)
            if callable(close):
                close()
        cached.cache_clear()


_POOLS = {
    "functions.core.adapters.db": "database pools",
    "functions.core.adapters.redis_clients": "redis clients",
}
"""The adapters that keep connections open per process, and what they hold."""


def close_connections() -> None:
    """Close what every function module built (`reset`) and the pools of the adapters
    this process loaded (one it never imported opened nothing), then say so in the log."""
    for module in list(_built):
        reset(module)
    closed = []
    for name, what in _POOLS.items():
        adapter = sys.modules.get(name)
        if adapter is not None:
            adapter.close_all()
            closed.append(what)
    log.info("connections closed", extra={"closed": closed})


_shutdown_hooks: list[Callable[[], object]] = [close_connections]
"""Run newest first: closing the connections, registered first, comes last."""
_shutdown_lock = threading.Lock()
_hooks_ran_in: int | None = None
_exit_hooks_in: int | None = None


def on_shutdown(callback: Callable[[], object]) -> Callable[[], object]:
    """Run `callback` once before this process exits (newest first); returns it, so it
    may be used as a decorator."""
    with _shutdown_lock:
        _shutdown_hooks.append(callback)
    install_exit_hooks()
    return callback


def run_shutdown_hooks() -> None:
    """Run every shutdown hook, once per process, the last closing its connections
    (`close_connections`): a hook that fails is logged and the others still run."""
    global _hooks_ran_in
    with _shutdown_lock:
        if _hooks_ran_in == os.getpid():
            return
        _hooks_ran_in = os.getpid()
        hooks = list(reversed(_shutdown_hooks))
    for hook in hooks:
        try:
            hook()
        except Exception:
            log.exception("shutdown hook failed", extra={"hook": getattr(hook, "__qualname__", "")})


def install_exit_hooks() -> None:
    """Make this process run the shutdown hooks when it exits: at interpreter exit, and
    when a multiprocessing worker (granian's) returns, which ends with `os._exit`.
    The app factories call it in each worker; idempotent."""
    global _exit_hooks_in
    with _shutdown_lock:
        if _exit_hooks_in == os.getpid():
            return
        _exit_hooks_in = os.getpid()
    atexit.register(run_shutdown_hooks)
    multiprocessing.util.Finalize(None, run_shutdown_hooks, exitpriority=100)
