"""The source file functions-framework loads for FUNCTION_TARGET (`functions.apps`, the
factories `togglemaster-serve` hands granian).

Only the requested target's module is imported (PEP 562 module `__getattr__`), and
its configuration is validated right then, at server start-up, so a bad variable
stops the server with a message naming it instead of failing the first request.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable
from typing import Any

import flask
import functions_framework
from werkzeug.exceptions import NotFound

from functions.core.errors import ConfigError
from functions.core.names import FUNCTIONS
from functions.http.startup import start


def __getattr__(name: str) -> Any:
    if name not in FUNCTIONS:
        raise AttributeError(name)
    module = importlib.import_module(f"functions.{name}")
    try:
        start(name, module.settings)
    except ConfigError as exc:
        print(f"togglemaster-{name}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    warm = getattr(module, "warm", None)
    if warm is not None:
        warm()  # what the function loads before its first request (evaluation: the snapshot)
    target = getattr(module, name)
    if not inspect.iscoroutinefunction(target):  # a WSGI target: Flask's app
        _route_everything_to(target)
    globals()[name] = target
    return target


def _route_everything_to(target: Callable[[flask.Request], flask.Response]) -> None:
    """The framework's own URL map refuses a few paths before the function sees them (a
    newline in the path, `/robots.txt`, `/favicon.ico`) with an HTML page; hand those to
    the function too, so that its router answers them in JSON like any other path.
    Registered here because `create_app` binds `errorhandler` to each new app before it
    loads this source (an ASGI target's twin is in `functions.apps`)."""
    functions_framework.errorhandler(NotFound)(lambda _: target(flask.request))
