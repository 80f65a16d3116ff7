"""The one error parse raises, and the small checks every document parser shares.

Every refusal names the JSON path of the offending field (``$.rules[2].serve.variant``)
so an author can find it without reading the engine.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Collection, Mapping
from typing import TypeGuard

from tests.unit.core.engine.frozen.model import JSONValue

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# The largest magnitude a double holds. JSON integers are unbounded in Python, but one
# beyond this makes float() raise OverflowError (and is infinite in every other SDK).
_MAX_DOUBLE = sys.float_info.max


class RuleValidationError(ValueError):
    """A document that the engine refuses, with the path of the field at fault."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def child(path: str, key: str | int) -> str:
    """The JSON path of a member (``$.a.b``, ``$.a["x y"]``) or an item (``$.a[3]``)."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    if _IDENTIFIER.match(key):
        return f"{path}.{key}"
    return f'{path}["{key}"]' if '"' not in key else f"{path}[{key!r}]"


def expect_object(
    document: object,
    path: str,
    *,
    required: Collection[str] = (),
    optional: Collection[str] = (),
) -> Mapping[str, object]:
    """A JSON object with exactly the allowed members; unknown ones are refused, not ignored."""
    if not isinstance(document, Mapping):
        raise RuleValidationError(path, "must be an object")
    for key in document:
        if not isinstance(key, str):
            raise RuleValidationError(path, "member names must be strings")
        if key not in required and key not in optional:
            accepted = ", ".join(sorted({*required, *optional}))
            raise RuleValidationError(
                child(path, key), f"is not a known field; accepted fields: {accepted}"
            )
    for key in required:
        if key not in document:
            raise RuleValidationError(child(path, key), "is required")
    return document


def expect_list(value: object, path: str, *, non_empty: bool = False) -> list[object]:
    """A JSON array (a list or tuple), optionally refusing an empty one."""
    if not isinstance(value, list | tuple):
        raise RuleValidationError(path, "must be an array")
    if non_empty and not value:
        raise RuleValidationError(path, "must not be empty")
    return list(value)


def expect_string(value: object, path: str, *, max_length: int = 1000) -> str:
    """A non-empty string of bounded length."""
    if not isinstance(value, str):
        raise RuleValidationError(path, "must be a string")
    if not value:
        raise RuleValidationError(path, "must not be empty")
    if len(value) > max_length:
        raise RuleValidationError(path, f"must be at most {max_length} characters")
    return value


def is_number(value: object) -> TypeGuard[int | float]:
    """A JSON number: int or float, never bool, never NaN or infinity."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value)


def fits_double(value: int | float) -> bool:
    """Whether float() can take the number; int-float comparison is exact and never overflows."""
    return -_MAX_DOUBLE <= value <= _MAX_DOUBLE


def expect_number(value: object, path: str) -> int | float:
    """A finite number a double can hold; true and false are not numbers.

    Refusing huge integers here, at write time, means no stored bound, weight or epoch
    can overflow a float conversion later, on the evaluation path.
    """
    if not is_number(value):
        raise RuleValidationError(path, "must be a number")
    if not fits_double(value):
        raise RuleValidationError(path, "is too large: numbers must fit a 64-bit float")
    return value


def expect_percentage(value: object, path: str) -> int | float:
    """A number in 0..100 inclusive."""
    number = expect_number(value, path)
    if not 0 <= number <= 100:
        raise RuleValidationError(path, "must be between 0 and 100")
    return number


def expect_json(value: object, path: str) -> JSONValue:
    """Any JSON value, checked all the way down (no tuples, sets or objects sneak in)."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        return expect_number(value, path)
    if isinstance(value, list):
        return [expect_json(item, child(path, index)) for index, item in enumerate(value)]
    if isinstance(value, dict):
        result: dict[str, JSONValue] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise RuleValidationError(path, "member names must be strings")
            result[key] = expect_json(item, child(path, key))
        return result
    raise RuleValidationError(path, "must be a JSON value")
