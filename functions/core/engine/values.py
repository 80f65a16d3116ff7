"""Scalars as the operators see them: the types a leaf value may have, the tagged key
that keeps ``true``, ``1`` and ``"1"`` apart, and the checks every operator shares."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeAlias

from functions.core.engine.validation import RuleValidationError, expect_number, is_number

Scalar: TypeAlias = str | int | float | bool
Predicate: TypeAlias = Callable[[object], bool]
Key: TypeAlias = tuple[str, Scalar]


def scalar_key(value: object) -> Key | None:
    """A tagged key so that true never equals 1 and "1" never equals 1; None for non-scalars."""
    if isinstance(value, str):
        return ("s", value)
    if isinstance(value, bool):
        return ("b", value)
    if is_number(value):
        return ("n", value)
    return None


def type_guard(expected: Scalar) -> Predicate:
    """Whether an attribute has the JSON type of `expected` (a bool is never a number)."""
    if isinstance(expected, str):
        return lambda value: isinstance(value, str)
    if isinstance(expected, bool):
        return lambda value: isinstance(value, bool)
    return is_number


def expect_scalar(value: object, path: str) -> Scalar:
    """A string, bool or finite number a double holds."""
    if isinstance(value, str | bool):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        raise RuleValidationError(path, "must be a finite number")
    if not isinstance(value, int | float):
        raise RuleValidationError(path, "must be a string, number or boolean")
    return expect_number(value, path)
