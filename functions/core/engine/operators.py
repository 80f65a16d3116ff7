"""Condition operators, compiled once at parse time into small predicates.

A predicate receives the context attribute's value (never ``None``: a missing or null
attribute is decided before, and never matches) and answers a bool without raising.
The rules for each operator, case-sensitive and without type coercion unless a leaf
option (below) says otherwise:

- ``eq`` / ``neq``: value a string, number or bool. Matches when the attribute has the
  same JSON type and is equal / different. A different type matches neither
  (``{"plan": 5}`` is neither ``eq "pro"`` nor ``neq "pro"``); 1 and 1.0 are equal,
  ``true`` is never 1.
- ``in`` / ``not_in``: value a non-empty array of strings, numbers or bools. ``not_in``
  matches only an attribute whose type occurs in the array and which is not in it.
- ``contains``: value a string or scalar. A string attribute contains a string value
  as a substring; an array attribute contains any item equal to the value.
- ``starts_with`` / ``ends_with``: value a non-empty string; string attributes only.
- ``matches``: value a regular expression in RE2 syntax of at most 256 characters,
  compiled at parse (an invalid one is refused; RE2 has no backreferences or
  lookaround). RE2 matches in time linear in the input, so no pattern can stall the
  hot path (Python's ``re`` backtracks: ``(a+)+$`` takes exponential time). It
  searches string attributes of at most 1024 characters -- a longer one does not match.
- ``gt`` / ``gte`` / ``lt`` / ``lte``: value a number. Only number attributes compare,
  unless ``numeric_strings`` is on (see ``numeric_strings``; written ``true``, or not
  written ``false`` in grammar 2): without it a numeric string such as ``"42"`` is a
  string, not a number, as it always was.
- ``semver_gt`` / ``semver_gte`` / ``semver_lt`` / ``semver_lte`` / ``semver_eq``:
  value a semantic version (``1.2.3``, prerelease and build per SemVer 2.0; precedence
  ignores build metadata). One leading lowercase ``v`` is ignored on either side
  (``v1.2.3`` is ``1.2.3``); ``V1.2.3`` is no version. An attribute that does not parse
  does not match.
- ``before`` / ``after``: value an ISO-8601 timestamp string or epoch seconds (number).
  The attribute likewise (or a ``datetime``); timestamps without an offset are UTC.
  Strings are always ISO-8601 (``"20240101"`` is 1 January 2024), numbers always epoch.
  On the attribute ``current_time`` the evaluation time stands in when the context
  does not give one (see ``clauses``).
- ``ip_in`` / ``not_ip_in``: value a non-empty array of IPv4 and IPv6 ranges in CIDR
  notation (see ``networks``). A string attribute that is not an address matches neither.

Leaf options (each refused where it means nothing):

- ``"case_insensitive": true`` on ``eq neq in not_in contains starts_with ends_with``
  with a string value (``in``/``not_in``: at least one): strings compare by their
  Unicode case fold (``str.casefold``: ``"STRASSE"`` equals ``"straße"``).
- ``"numeric_strings": true`` on ``gt gte lt lte`` and on ``eq``/``neq`` with a number
  value: a string attribute that is a decimal number compares as that number. In
  grammar 2 (``grammar``) it is on there unless the leaf says ``false``.

Every number in a value must fit a 64-bit float: ``1`` followed by 400 zeros is a valid
JSON integer, refused at parse because ``float()`` would overflow on it. Attributes are
not refused (evaluation never raises): a too-large one is no instant, and compares with
``gt`` and the others exactly, as Python compares int and float.
"""

from __future__ import annotations

import operator as _operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TypeAlias

import re2

from functions.core.engine.case_insensitive import compile_case_insensitive
from functions.core.engine.networks import compile_networks
from functions.core.engine.numeric_strings import compile_numeric_strings
from functions.core.engine.validation import (
    RuleValidationError,
    child,
    expect_list,
    expect_number,
    expect_string,
    fits_double,
    is_number,
)
from functions.core.engine.values import (
    Predicate,
    Scalar,
    expect_scalar,
    scalar_key,
    type_guard,
)

MAX_PATTERN_LENGTH = 256
MAX_MATCHED_LENGTH = 1024
_MAX_VERSION_LENGTH = 256
_MAX_TIMESTAMP_LENGTH = 64


class Operator(StrEnum):
    """The condition operators a leaf may name."""

    EQ = "eq"
    NEQ = "neq"
    IN = "in"
    NOT_IN = "not_in"
    CONTAINS = "contains"
    STARTS_WITH = "starts_with"
    ENDS_WITH = "ends_with"
    MATCHES = "matches"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    SEMVER_GT = "semver_gt"
    SEMVER_LT = "semver_lt"
    SEMVER_EQ = "semver_eq"
    BEFORE = "before"
    AFTER = "after"
    SEMVER_GTE = "semver_gte"
    SEMVER_LTE = "semver_lte"
    IP_IN = "ip_in"
    NOT_IP_IN = "not_ip_in"


CASE_INSENSITIVE_OPERATORS = frozenset(
    {
        Operator.EQ,
        Operator.NEQ,
        Operator.IN,
        Operator.NOT_IN,
        Operator.CONTAINS,
        Operator.STARTS_WITH,
        Operator.ENDS_WITH,
    }
)
NUMERIC_STRING_OPERATORS = frozenset(
    {Operator.GT, Operator.GTE, Operator.LT, Operator.LTE, Operator.EQ, Operator.NEQ}
)


@dataclass(frozen=True, slots=True)
class LeafOptions:
    """How a leaf compares strings; both off is the grammar every earlier document used."""

    case_insensitive: bool = False
    numeric_strings: bool = False


PLAIN = LeafOptions()


def numeric_strings_apply(op: str, value: object) -> bool:
    """Whether ``numeric_strings`` means something on this leaf: ``gt gte lt lte``, and
    ``eq``/``neq`` with a number value (grammar 2 turns it on there by default)."""
    if op in (Operator.EQ, Operator.NEQ):
        return is_number(value)
    return op in NUMERIC_STRING_OPERATORS


# -- values -------------------------------------------------------------------------

_SEMVER = re.compile(
    r"v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
)

SemverKey: TypeAlias = tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]


def parse_semver(text: object) -> SemverKey | None:
    """A key ordering versions by SemVer 2.0 precedence, or None when it is not one.

    A release sorts after its prereleases (flag 1 vs 0); prerelease identifiers compare
    numerically when numeric, lexically otherwise, numeric before alphanumeric, and a
    longer list wins when all shared identifiers are equal (tuple order does exactly that).
    """
    if not isinstance(text, str) or len(text) > _MAX_VERSION_LENGTH:
        return None
    found = _SEMVER.fullmatch(text)
    if found is None:
        return None
    major, minor, patch, prerelease = found.groups()
    if prerelease is None:
        return (int(major), int(minor), int(patch), 1, ())
    identifiers = tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part) for part in prerelease.split(".")
    )
    return (int(major), int(minor), int(patch), 0, identifiers)


def parse_instant(value: object) -> float | None:
    """Epoch seconds from an ISO-8601 string, epoch number or datetime; None otherwise."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        if len(value) > _MAX_TIMESTAMP_LENGTH:
            return None
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
    elif is_number(value):
        # An attribute may be any JSON integer: one too large for a double is no instant.
        return float(value) if fits_double(value) else None
    else:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.timestamp()
    except (OverflowError, ValueError, OSError):
        return None


# -- compilation --------------------------------------------------------------------


def _compile_equality(op: Operator, value: object, path: str) -> tuple[Scalar, Predicate]:
    expected = expect_scalar(value, path)
    same_type = type_guard(expected)
    if op is Operator.EQ:
        return expected, lambda actual: same_type(actual) and actual == expected
    return expected, lambda actual: same_type(actual) and actual != expected


def _compile_membership(
    op: Operator, value: object, path: str
) -> tuple[tuple[Scalar, ...], Predicate]:
    items = tuple(
        expect_scalar(item, child(path, index))
        for index, item in enumerate(expect_list(value, path, non_empty=True))
    )
    keys = frozenset(scalar_key(item) for item in items)
    kinds = frozenset(key[0] for key in keys if key is not None)
    if op is Operator.IN:
        if kinds == {"s"}:
            strings = frozenset(str(item) for item in items)
            return items, lambda actual: isinstance(actual, str) and actual in strings
        return items, lambda actual: scalar_key(actual) in keys

    def not_in(actual: object) -> bool:
        key = scalar_key(actual)
        return key is not None and key[0] in kinds and key not in keys

    return items, not_in


def _compile_contains(value: object, path: str) -> tuple[Scalar, Predicate]:
    expected = expect_scalar(value, path)
    expected_key = scalar_key(expected)

    def contains(actual: object) -> bool:
        if isinstance(actual, str):
            return isinstance(expected, str) and expected in actual
        if isinstance(actual, list | tuple):
            return any(scalar_key(item) == expected_key for item in actual)
        return False

    return expected, contains


def _compile_affix(op: Operator, value: object, path: str) -> tuple[str, Predicate]:
    affix = expect_string(value, path)
    if op is Operator.STARTS_WITH:
        return affix, lambda actual: isinstance(actual, str) and actual.startswith(affix)
    return affix, lambda actual: isinstance(actual, str) and actual.endswith(affix)


def _compile_matches(value: object, path: str) -> tuple[str, Predicate]:
    source = expect_string(value, path, max_length=MAX_PATTERN_LENGTH)
    # pyre2 would quietly fall back to Python's backtracking `re` for what RE2 cannot
    # run; refuse those patterns instead. Idempotent, so set where it matters.
    re2.set_fallback_notification(re2.FALLBACK_EXCEPTION)
    try:
        pattern = re2.compile(source)
    except re2.error as exc:
        raise RuleValidationError(path, f"is not a valid RE2 regular expression: {exc}") from None
    search = pattern.search
    return (
        source,
        lambda actual: (
            isinstance(actual, str)
            and len(actual) <= MAX_MATCHED_LENGTH
            and search(actual) is not None
        ),
    )


def _compile_numeric(op: Operator, value: object, path: str) -> tuple[int | float, Predicate]:
    bound = expect_number(value, path)
    if op is Operator.GT:
        return bound, lambda actual: is_number(actual) and actual > bound
    if op is Operator.GTE:
        return bound, lambda actual: is_number(actual) and actual >= bound
    if op is Operator.LT:
        return bound, lambda actual: is_number(actual) and actual < bound
    return bound, lambda actual: is_number(actual) and actual <= bound


_SEMVER_RELATIONS: dict[Operator, Callable[[SemverKey, SemverKey], bool]] = {
    Operator.SEMVER_GT: _operator.gt,
    Operator.SEMVER_LT: _operator.lt,
    Operator.SEMVER_EQ: _operator.eq,
    Operator.SEMVER_GTE: _operator.ge,
    Operator.SEMVER_LTE: _operator.le,
}


def _compile_semver(op: Operator, value: object, path: str) -> tuple[str, Predicate]:
    text = expect_string(value, path, max_length=_MAX_VERSION_LENGTH)
    version = parse_semver(text)
    if version is None:
        raise RuleValidationError(path, "must be a semantic version such as 1.2.3")

    relation = _SEMVER_RELATIONS[op]

    def compare(actual: object) -> bool:
        key = parse_semver(actual)
        return key is not None and relation(key, version)

    return text, compare


def _compile_instant(op: Operator, value: object, path: str) -> tuple[str | int | float, Predicate]:
    if is_number(value):
        expect_number(value, path)
    elif not isinstance(value, str):
        raise RuleValidationError(path, "must be an ISO-8601 timestamp or epoch seconds")
    instant = parse_instant(value)
    if instant is None:
        raise RuleValidationError(path, "must be an ISO-8601 timestamp or epoch seconds")

    def compare(actual: object) -> bool:
        moment = parse_instant(actual)
        if moment is None:
            return False
        return moment < instant if op is Operator.BEFORE else moment > instant

    return value, compare


ConditionValue: TypeAlias = Scalar | tuple[Scalar, ...]


def compile_operator(
    op: str, value: object, path: str, options: LeafOptions = PLAIN
) -> tuple[ConditionValue, Predicate]:
    """The normalised value (as stored back in documents) and the predicate for one leaf.

    ``path`` is the leaf's path; errors name its ``op``, ``value`` or option member.
    """
    try:
        operator = Operator(op)
    except ValueError:
        known = ", ".join(member.value for member in Operator)
        raise RuleValidationError(child(path, "op"), f"must be one of {known}") from None
    value_path = child(path, "value")
    if options.case_insensitive:
        if operator not in CASE_INSENSITIVE_OPERATORS:
            raise RuleValidationError(
                child(path, "case_insensitive"),
                "applies to eq, neq, in, not_in, contains, starts_with and ends_with only",
            )
        return compile_case_insensitive(operator, value, value_path)
    if options.numeric_strings:
        if operator not in NUMERIC_STRING_OPERATORS:
            raise RuleValidationError(
                child(path, "numeric_strings"),
                "applies to gt, gte, lt, lte, and to eq and neq with a number value, only",
            )
        return compile_numeric_strings(operator, value, value_path, child(path, "numeric_strings"))
    match operator:
        case Operator.EQ | Operator.NEQ:
            return _compile_equality(operator, value, value_path)
        case Operator.IN | Operator.NOT_IN:
            return _compile_membership(operator, value, value_path)
        case Operator.CONTAINS:
            return _compile_contains(value, value_path)
        case Operator.STARTS_WITH | Operator.ENDS_WITH:
            return _compile_affix(operator, value, value_path)
        case Operator.MATCHES:
            return _compile_matches(value, value_path)
        case Operator.GT | Operator.GTE | Operator.LT | Operator.LTE:
            return _compile_numeric(operator, value, value_path)
        case (
            Operator.SEMVER_GT
            | Operator.SEMVER_LT
            | Operator.SEMVER_EQ
            | Operator.SEMVER_GTE
            | Operator.SEMVER_LTE
        ):
            return _compile_semver(operator, value, value_path)
        case Operator.BEFORE | Operator.AFTER:
            return _compile_instant(operator, value, value_path)
        case Operator.IP_IN | Operator.NOT_IP_IN:
            return compile_networks(operator is Operator.IP_IN, value, value_path)


def values_to_document(value: ConditionValue) -> str | int | float | bool | list[Scalar]:
    """The stored form of a leaf's value: arrays for ``in``/``not_in``, the scalar otherwise."""
    return list(value) if isinstance(value, tuple) else value
