"""``numeric_strings``: a string attribute that is a decimal number compares as that
number, because ``GET /evaluate`` can only send strings. On where written ``true``, and
in grammar 2 (``grammar``) wherever it applies unless written ``false``.

The exact grammar (ASCII only, nothing before or after, at most 100 characters)::

    -?[0-9]+(\\.[0-9]+)?

so ``"42"``, ``"-7"``, ``"007"`` (7), ``"3.50"`` and ``"-0.5"`` are numbers; ``" 42"``,
``"+42"``, ``"4_2"``, ``".5"``, ``"5."``, ``"1e3"``, ``"0x10"``, ``"NaN"``, ``"Infinity"``
and ``"٤٢"`` (Arabic-Indic digits) are not, and stay strings that match no numeric
comparison. An integer string is read exactly (as ``int``), one with a fraction as a
64-bit float, the same double a JSON number in a context would be. Number attributes
compare as without the option.

It applies to ``gt gte lt lte`` and to ``eq``/``neq`` with a number value, where a
string that is not a number matches neither (as a string attribute always did).
"""

from __future__ import annotations

import operator as _operator
import re
from collections.abc import Callable

from functions.core.engine.validation import RuleValidationError, expect_number, is_number
from functions.core.engine.values import Predicate

MAX_NUMERIC_STRING_LENGTH = 100
_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?", re.ASCII)
_RELATIONS: dict[str, Callable[[float, float], bool]] = {
    "gt": _operator.gt,
    "gte": _operator.ge,
    "lt": _operator.lt,
    "lte": _operator.le,
    "eq": _operator.eq,
    "neq": _operator.ne,
}


def read_number(value: object) -> int | float | None:
    """The number an attribute stands for: a JSON number, or a string of the grammar."""
    if is_number(value):
        return value
    if (
        isinstance(value, str)
        and len(value) <= MAX_NUMERIC_STRING_LENGTH
        and _DECIMAL.fullmatch(value) is not None
    ):
        return float(value) if "." in value else int(value)
    return None


def compile_numeric_strings(
    op: str, value: object, path: str, option_path: str
) -> tuple[int | float, Predicate]:
    """The leaf's bound and its predicate; ``op`` is one of ``_RELATIONS``."""
    if op in ("eq", "neq") and not is_number(value):
        raise RuleValidationError(option_path, "applies to eq and neq with a number value only")
    bound = expect_number(value, path)
    relation = _RELATIONS[op]

    def compare(actual: object) -> bool:
        number = read_number(actual)
        return number is not None and relation(number, bound)

    return bound, compare
