"""``"case_insensitive": true``: string comparisons by Unicode case fold.

Both sides are folded with ``str.casefold`` (the value once, at parse; the attribute per
evaluation), which is stronger than lowering: ``"STRASSE"`` equals ``"straße"``. Only
strings fold: numbers and booleans in an ``in`` list keep comparing as they do without
the option, and the types still have to agree (a number attribute is never ``eq`` a
string). The stored value keeps the author's spelling.
"""

from __future__ import annotations

from functions.core.engine.validation import RuleValidationError, child, expect_list, expect_string
from functions.core.engine.values import Key, Predicate, Scalar, expect_scalar, scalar_key

_NEEDS_STRING = "must be a string when case_insensitive is set"


def folded_key(value: object) -> Key | None:
    """``scalar_key`` with strings folded."""
    if isinstance(value, str):
        return ("s", value.casefold())
    return scalar_key(value)


def compile_case_insensitive(
    op: str, value: object, path: str
) -> tuple[Scalar | tuple[Scalar, ...], Predicate]:
    """The leaf's value as written and its predicate; ``op`` is a string operator."""
    if op in ("in", "not_in"):
        return _membership(op == "in", value, path)
    if op in ("starts_with", "ends_with"):
        affix = expect_string(value, path)
        folded = affix.casefold()
        if op == "starts_with":
            return (
                affix,
                lambda actual: isinstance(actual, str) and actual.casefold().startswith(folded),
            )
        return affix, lambda actual: isinstance(actual, str) and actual.casefold().endswith(folded)
    if not isinstance(value, str):
        raise RuleValidationError(path, _NEEDS_STRING)
    folded = value.casefold()
    if op == "eq":
        return value, lambda actual: isinstance(actual, str) and actual.casefold() == folded
    if op == "neq":
        return value, lambda actual: isinstance(actual, str) and actual.casefold() != folded

    def contains(actual: object) -> bool:
        if isinstance(actual, str):
            return folded in actual.casefold()
        if isinstance(actual, list | tuple):
            return any(isinstance(item, str) and item.casefold() == folded for item in actual)
        return False

    return value, contains


def _membership(inclusive: bool, value: object, path: str) -> tuple[tuple[Scalar, ...], Predicate]:
    items = tuple(
        expect_scalar(item, child(path, index))
        for index, item in enumerate(expect_list(value, path, non_empty=True))
    )
    if not any(isinstance(item, str) for item in items):
        raise RuleValidationError(path, "must hold a string when case_insensitive is set")
    keys = frozenset(folded_key(item) for item in items)
    if inclusive:
        return items, lambda actual: folded_key(actual) in keys
    kinds = frozenset(key[0] for key in keys if key is not None)

    def not_in(actual: object) -> bool:
        key = folded_key(actual)
        return key is not None and key[0] in kinds and key not in keys

    return items, not_in
