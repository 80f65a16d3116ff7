"""Every condition operator and leaf option, table-driven from data/operators.json,
through evaluate."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from functions.core.engine import (
    FlagDefinition,
    Operator,
    Reason,
    condition,
    evaluate,
    parse_ruleset,
)

_TABLE: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "operators.json").read_text(encoding="utf-8")
)


def _actual(case: dict[str, Any]) -> object:
    if "actual_repeat" in case:
        text, times = case["actual_repeat"]
        return str(text) * int(times)
    return case["actual"]


def _cases() -> Iterator[Any]:
    for entry in _TABLE["operators"]:
        for number, case in enumerate(entry["cases"]):
            options = entry.get("options", {})
            label = f"{entry['op']}-{''.join(options)}-{json.dumps(entry['value'])[:30]}-{number}"
            yield pytest.param(entry["op"], entry["value"], options, case, id=label)


@pytest.mark.parametrize(("op", "value", "options", "case"), list(_cases()))
def test_operator__table_case__matches_as_listed(
    seed_flag: FlagDefinition,
    op: str,
    value: object,
    options: dict[str, bool],
    case: dict[str, Any],
) -> None:
    # Given a flag whose only rule is the leaf, falling through to off
    leaf = {"attribute": "attr", "op": op, "value": value, **options}
    document = {
        "rules": [{"type": "CONDITIONS", "conditions": leaf, "serve": {"variant": "on"}}],
        "fallthrough": {"variant": "off"},
    }
    ruleset = parse_ruleset(document, seed_flag, ())
    context: dict[str, object] = {"user_id": "u1"}
    if not case.get("missing"):
        context["attr"] = _actual(case)

    # When
    resolution = evaluate(seed_flag, True, ruleset, context)

    # Then
    assert resolution.value is case["expected"], case.get("why", "")
    expected_reason = Reason.TARGETING_MATCH if case["expected"] else Reason.DEFAULT
    assert resolution.reason is expected_reason


def test_operator_table__all_operators__each_has_matching_and_missing_cases() -> None:
    # Given
    entries = _TABLE["operators"]

    # When
    covered = {entry["op"] for entry in entries}
    matching = {entry["op"] for entry in entries if any(c["expected"] for c in entry["cases"])}
    refusing = {entry["op"] for entry in entries if any(not c["expected"] for c in entry["cases"])}

    # Then
    assert covered == {operator.value for operator in Operator}
    assert matching == covered
    assert refusing == covered


@pytest.mark.parametrize(
    ("option", "operators"),
    [
        ("case_insensitive", {"eq", "neq", "in", "not_in", "contains", "starts_with", "ends_with"}),
        ("numeric_strings", {"gt", "gte", "lt", "lte", "eq", "neq"}),
    ],
)
def test_operator_table__leaf_option__every_operator_it_applies_to_has_cases(
    option: str, operators: set[str]
) -> None:
    # Given
    entries = [entry for entry in _TABLE["operators"] if entry.get("options", {}).get(option)]

    # When
    covered = {entry["op"] for entry in entries}

    # Then
    assert covered == operators


def test_condition__not_of_missing_attribute__matches(seed_flag: FlagDefinition) -> None:
    # Given "not (plan eq pro)": the way to include users about whom nothing is known
    document = {
        "rules": [
            {
                "type": "CONDITIONS",
                "conditions": {"not": {"attribute": "plan", "op": "eq", "value": "pro"}},
                "serve": {"variant": "on"},
            }
        ],
        "fallthrough": {"variant": "off"},
    }
    ruleset = parse_ruleset(document, seed_flag, ())

    # When
    missing = evaluate(seed_flag, True, ruleset, {"user_id": "u1"})
    pro = evaluate(seed_flag, True, ruleset, {"user_id": "u1", "plan": "pro"})

    # Then
    assert missing.value is True
    assert pro.value is False


@pytest.mark.parametrize(
    ("clause", "expected"),
    [
        (
            {
                "all": [
                    {"attribute": "a", "op": "eq", "value": 1},
                    {"attribute": "b", "op": "eq", "value": 2},
                ]
            },
            True,
        ),
        (
            {
                "all": [
                    {"attribute": "a", "op": "eq", "value": 1},
                    {"attribute": "b", "op": "eq", "value": 3},
                ]
            },
            False,
        ),
        (
            {
                "any": [
                    {"attribute": "a", "op": "eq", "value": 9},
                    {"attribute": "b", "op": "eq", "value": 2},
                ]
            },
            True,
        ),
        (
            {
                "any": [
                    {"attribute": "a", "op": "eq", "value": 9},
                    {"attribute": "b", "op": "eq", "value": 9},
                ]
            },
            False,
        ),
        ({"not": {"any": [{"attribute": "a", "op": "eq", "value": 9}]}}, True),
        (
            {
                "all": [
                    {"any": [{"attribute": "a", "op": "gt", "value": 0}]},
                    {"not": {"attribute": "c", "op": "eq", "value": 1}},
                ]
            },
            True,
        ),
    ],
)
def test_clause__nested_all_any_not__combines_leaves(
    seed_flag: FlagDefinition, clause: dict[str, Any], expected: bool
) -> None:
    # Given
    document = {
        "rules": [{"type": "CONDITIONS", "conditions": clause, "serve": {"variant": "on"}}],
        "fallthrough": {"variant": "off"},
    }
    ruleset = parse_ruleset(document, seed_flag, ())

    # When
    resolution = evaluate(seed_flag, True, ruleset, {"user_id": "u", "a": 1, "b": 2})

    # Then
    assert resolution.value is expected


@pytest.mark.timeout(10)
def test_matches__catastrophic_backtracking_pattern__decided_without_stalling() -> None:
    # Given a pattern that makes a backtracking engine take exponential time
    leaf = condition("name", "matches", "^(a+)+$")
    # When it meets the input that triggers it (Python's re would not return)
    matched = leaf.matches({"name": "a" * 1000 + "b"})
    # Then RE2 answers, in linear time
    assert matched is False
    assert leaf.matches({"name": "a" * 1000}) is True
