"""The source file functions-framework loads: `--source functions/main.py --target <name>`.

Only the requested target's module is imported (PEP 562 module `__getattr__`), and
its configuration is validated right then, at server start-up, so a bad variable
stops the server with a message naming it instead of failing the first request.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

from functions.core.errors import ConfigError
from functions.http.startup import start

TARGETS = ("auth", "flags", "targeting", "evaluation", "analytics")


def __getattr__(name: str) -> Any:
    if name not in TARGETS:
        raise AttributeError(name)
    module = importlib.import_module(f"functions.{name}")
    try:
        start(name, module.settings)
    except ConfigError as exc:
        print(f"togglemaster-{name}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    target = getattr(module, name)
    globals()[name] = target
    return target
