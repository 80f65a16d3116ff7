"""Untrusted request documents (JSON or YAML) turned into plain values, safely.

Checked once here so no layer below has to: nesting depth (deep documents exhaust
the parser's and the validators' recursion), NUL characters (PostgreSQL refuses them
in text), unpaired surrogates (`"\\ud800"` is valid JSON but not storable UTF-8), and
YAML aliases (a few hundred bytes of nested aliases expand into billions of nodes).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any

from functions.core.errors import BadRequest
from functions.core.memory import collector_paused

MAX_DEPTH = 64


def parse_json(raw: bytes) -> Any:
    try:
        document = json.loads(raw)
    except RecursionError:
        raise BadRequest(f"the body is nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the body is not valid JSON: {_json_error(exc)}") from None
    check_values(document)
    return document


def _json_error(exc: ValueError) -> str:
    """The decoder's words, but for int()'s digit limit: its hint (call
    sys.set_int_max_str_digits) is about this process, not about the request."""
    if "int_max_str_digits" in str(exc):
        return f"a number has more than {sys.get_int_max_str_digits()} digits"
    return str(exc)


def parse_yaml(raw: bytes) -> Any:
    """With the garbage collector paused: the nodes and values of a large document are
    a few hundred thousand objects, and the collector's passes over them made parsing
    grow faster than the document (about twice the time at 1 MiB)."""
    from functions.core import yaml_loader  # PyYAML: with the first YAML body, not at start

    try:
        with collector_paused():
            document = yaml_loader.load(raw, max_depth=MAX_DEPTH)
    except RecursionError:
        raise BadRequest(f"the body is nested deeper than {MAX_DEPTH} levels") from None
    except yaml_loader.DocumentRefused as exc:
        raise BadRequest(f"the body is not valid YAML: {exc}") from None
    check_values(document)
    return document


def check_values(document: Any) -> None:
    """Refuse what no store can keep, walking iteratively (depth is what is checked)."""
    pending: list[tuple[Any, int, str]] = [(document, 0, "$")]
    while pending:
        value, depth, path = pending.pop()
        if depth > MAX_DEPTH:
            raise BadRequest(f"the body is nested deeper than {MAX_DEPTH} levels", field=path)
        if isinstance(value, str):
            _check_text(value, path)
        elif isinstance(value, dict):
            for key, item in value.items():
                _check_text(str(key), path)
                pending.append((item, depth + 1, f"{path}.{key}"))
        elif isinstance(value, list):
            pending.extend(_items(value, depth, path))


def _items(values: list[Any], depth: int, path: str) -> Iterable[tuple[Any, int, str]]:
    return ((item, depth + 1, f"{path}[{index}]") for index, item in enumerate(values))


def _check_text(text: str, path: str) -> None:
    if "\x00" in text:
        raise BadRequest("text may not contain NUL characters", field=path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest("text contains an unpaired UTF-16 surrogate", field=path) from None


def check_query(values: Iterable[str]) -> None:
    """Path and query strings: werkzeug has decoded them; NUL may still be there."""
    for value in values:
        if "\x00" in value:
            raise BadRequest("the URL may not contain NUL characters (%00)")
