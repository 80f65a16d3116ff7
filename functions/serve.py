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

Metrics: before the fork it points PROMETHEUS_MULTIPROC_DIR at an emptied directory
(the one given, or a private one removed on exit), where every worker keeps its numbers
for `GET /metrics` to add up, whichever worker answers the scrape.

Events: for evaluation, the main process also sends the workers' event packs to SQS
(`functions.core.events.relay`): it idles once the workers are forked, and boto3's
Python then runs under a GIL no request waits for.

SIGTERM: granian stops taking connections, each worker finishes its requests and runs
the shutdown hooks (lifespan shutdown, or worker exit); a worker still running after
SHUTDOWN_SECONDS is killed, so that the process always exits well inside Knative's
grace period.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from functions.core.names import FUNCTIONS

DEFAULT_PORT = 8080
DEFAULT_HOST = "0.0.0.0"  # noqa: S104 - the container's port must be reachable from outside
SHUTDOWN_SECONDS = 20
"""How long granian waits for a worker to stop before killing it: its requests in flight
finish, then its shutdown hooks run (the last flush of events, at most 5 s; pools closed),
inside Knative's grace period (`terminationGracePeriodSeconds` is the revision's
`timeoutSeconds`, 30 s in knative/base)."""
METRICS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
"""`functions.core.metrics.MULTIPROC_DIR_VARIABLE`, named here so that reading it does not
import prometheus_client before it is set."""
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
    made_metrics_dir = _share_metrics()
    try:
        _serve(settings)
    finally:
        if made_metrics_dir is not None:
            shutil.rmtree(made_metrics_dir, ignore_errors=True)


def _share_metrics() -> str | None:
    """Point PROMETHEUS_MULTIPROC_DIR at an empty directory before anything imports
    prometheus_client (which reads it once) and before the fork, so that a scrape of any
    worker adds up every worker's numbers (`functions.core.metrics`): the directory given,
    emptied of a previous run's numbers, or a new private one, which is returned (to be
    removed on exit)."""
    given = os.environ.get(METRICS_DIR_VARIABLE)
    path = given or tempfile.mkdtemp(prefix="togglemaster-metrics-")
    os.makedirs(path, exist_ok=True)
    os.environ[METRICS_DIR_VARIABLE] = path
    from functions.core.metrics import clear_multiprocess_dir  # prometheus_client: after

    clear_multiprocess_dir(path)
    return None if given else path


def _serve(settings: ServeSettings) -> None:
    global _app
    from granian.constants import HTTPModes, Interfaces, Loops
    from granian.server import Server

    from functions import apps

    os.environ["FUNCTION_TARGET"] = settings.target
    if settings.source is not None:
        os.environ["FUNCTION_SOURCE"] = settings.source
    interface, _app = apps.build()
    stop_main_process_work = apps.start_main_process_work()
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
        # HTTP/1.1 only, what Knative's queue-proxy speaks: an HTTP/2 body need not declare
        # its length, and a refused HTTP/2 stream kept granian's worker from stopping.
        http=HTTPModes.http1,
        workers_kill_timeout=SHUTDOWN_SECONDS,
    )
    try:
        server.serve(target_loader=_load)
    finally:
        if stop_main_process_work is not None:
            stop_main_process_work()  # the workers are gone: their last events went out


def main() -> None:
    try:
        settings = read_settings(os.environ)
    except ServeError as exc:
        print(f"togglemaster-serve: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    serve(settings)


if __name__ == "__main__":
    main()
