"""`togglemaster-serve`: the one server command, for the image, `make dev` and the bench.

It reads FUNCTION_TARGET (one of the five functions), PORT (default 8080), WORKERS
(default: the machine's cores) and HOST (default 0.0.0.0), checks them once (an error
names the variable), and runs granian: over ASGI on uvloop for a
`functions_framework.aio` target (evaluation, the hot path), over WSGI for the others.
DESIGN.md §5 has the measurements behind the choice.

The app is built here, once, before granian forks its workers (as the
functions-framework CLI does before gunicorn forks): the function's configuration is
checked before any worker starts, and every worker starts with the modules already
imported, which is most of a cold start. FUNCTION_SOURCE (default: `functions/main.py`)
serves another source, as functions-framework allows: a test's stand-in functions or
the bench's hello target, whose name then need not be one of the five.

SIGTERM: granian stops taking connections, each worker finishes its requests and runs
the shutdown hooks (lifespan shutdown, or worker exit); a worker still running after
SHUTDOWN_SECONDS is killed, so that the process always exits well inside Knative's
grace period.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from functions.core.names import FUNCTIONS

DEFAULT_PORT = 8080
DEFAULT_HOST = "0.0.0.0"  # noqa: S104 - the container's port must be reachable from outside
SHUTDOWN_SECONDS = 5
"""How long granian waits for a worker to stop before killing it: long enough for the
last flush of events, far inside Knative's grace period."""
WSGI_THREADS = 8
"""Requests a WSGI worker runs at once (the admin functions wait on PostgreSQL and Redis),
at most what granian deems sane for the machine's cores (2 × cores + 1)."""


class ServeError(Exception):
    """A variable that stops the server before it starts, named in the message."""


@dataclass(frozen=True, slots=True)
class ServeSettings:
    target: str
    port: int
    workers: int
    host: str = DEFAULT_HOST
    source: str | None = None
    """FUNCTION_SOURCE; None: `functions/main.py`."""


def read_settings(env: Mapping[str, str]) -> ServeSettings:
    target = env.get("FUNCTION_TARGET", "")
    source = env.get("FUNCTION_SOURCE") or None
    ours = source is None or os.path.realpath(source) == os.path.realpath(_main_source())
    if ours and target not in FUNCTIONS:
        raise ServeError(
            f"FUNCTION_TARGET must be one of {', '.join(FUNCTIONS)}, not {target!r}"
            if target
            else f"FUNCTION_TARGET is required: one of {', '.join(FUNCTIONS)}"
        )
    if not target.isidentifier():
        raise ServeError(f"FUNCTION_TARGET must name a function of {source}, not {target!r}")
    if source is not None and not os.path.isfile(source):
        raise ServeError(f"FUNCTION_SOURCE must be a Python file, not {source!r}")
    return ServeSettings(
        target=target,
        port=_number(env, "PORT", DEFAULT_PORT, high=65535),
        workers=_number(env, "WORKERS", os.cpu_count() or 1, high=256),
        host=env.get("HOST") or DEFAULT_HOST,
        source=source,
    )


def _number(env: Mapping[str, str], name: str, default: int, *, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= high:
        raise ServeError(f"{name} must be a whole number from 1 to {high}, not {raw!r}")
    return int(raw)


def _main_source() -> str:
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "main.py")


_app: Any = None
"""The app built before the fork, which every forked worker serves."""


def _load(granian_target: str) -> Any:
    """granian's loader, called in each worker: the app built before the fork (or, where
    workers are spawned rather than forked, a new one)."""
    from functions import apps

    app = _app if _app is not None else apps.build()[1]
    apps.worker_started()
    return app


def serve(settings: ServeSettings) -> None:
    """Build the app, then run granian until SIGTERM or SIGINT."""
    global _app
    from granian.constants import Interfaces, Loops
    from granian.server import Server

    from functions import apps

    os.environ["FUNCTION_TARGET"] = settings.target
    if settings.source is not None:
        os.environ["FUNCTION_SOURCE"] = settings.source
    interface, _app = apps.build()
    asgi = interface == "asgi"
    server = Server(
        f"functions.apps:{interface}",
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI if asgi else Interfaces.WSGI,
        workers=settings.workers,
        loop=Loops.uvloop if asgi else Loops.auto,
        blocking_threads=None if asgi else min(WSGI_THREADS, 2 * (os.cpu_count() or 1) + 1),
        websockets=False,
        workers_kill_timeout=SHUTDOWN_SECONDS,
    )
    server.serve(target_loader=_load)


def main() -> None:
    try:
        settings = read_settings(os.environ)
    except ServeError as exc:
        print(f"togglemaster-serve: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    serve(settings)


if __name__ == "__main__":
    main()
