"""The caps on rule documents and segments: each refused naming the cap, one under each
accepted, and a flag at every cap still decided in well under a millisecond."""

from __future__ import annotations

import time
from typing import Any

import pytest

from functions.core import engine
from functions.core.engine import limits


def _leaf(index: int) -> dict[str, Any]:
    return {"attribute": "country", "op": "eq", "value": f"C{index}"}


def _conditions_rule(leaves: int, offset: int = 0) -> dict[str, Any]:
    clause = {"any": [_leaf(offset + i) for i in range(leaves)]}
    return {"type": "CONDITIONS", "conditions": clause, "serve": {"variant": "on"}}


def _users_rule(users: int) -> dict[str, Any]:
    return {"type": "USERS", "users": [f"u{i}" for i in range(users)], "serve": {"variant": "on"}}


def _in_rule(values: int) -> dict[str, Any]:
    leaf = {"attribute": "country", "op": "in", "value": [f"C{i}" for i in range(values)]}
    return {"type": "CONDITIONS", "conditions": {"not": leaf}, "serve": {"variant": "on"}}


def _segments_rule(keys: list[str]) -> dict[str, Any]:
    return {"type": "SEGMENT", "segments": keys, "serve": {"variant": "on"}}


@pytest.mark.parametrize(
    ("document", "limit", "path"),
    [
        (
            {"rules": [{"type": "PERCENTAGE", "value": 1}] * (limits.MAX_RULES + 1)},
            "rules_per_document",
            "$.rules",
        ),
        (
            {"rules": [{"type": "PERCENTAGE", "value": 1}] * 20_000},
            "rules_per_document",
            "$.rules",
        ),
        (
            {"rules": [_conditions_rule(limits.MAX_CONDITIONS_PER_RULE + 1)]},
            "conditions_per_rule",
            "$.rules[0].conditions",
        ),
        (
            {"rules": [_conditions_rule(50, 50 * i) for i in range(11)]},
            "conditions_per_document",
            "$.rules[10].conditions",
        ),
        (
            {"rules": [_in_rule(limits.MAX_LIST_VALUES + 1)]},
            "values_per_list",
            "$.rules[0].conditions.not.value",
        ),
        ({"rules": [_users_rule(limits.MAX_USERS + 1)]}, "users_per_rule", "$.rules[0].users"),
        (
            {"rules": [_segments_rule([f"s{i}" for i in range(21)])]},
            "segments_per_document",
            "$.rules[0].segments",
        ),
    ],
)
def test_check_ruleset__beyond_a_cap__refused_naming_it(
    document: dict[str, Any], limit: str, path: str
) -> None:
    # Given / When
    with pytest.raises(limits.LimitError) as refused:
        limits.check_ruleset(document)
    # Then
    assert refused.value.limit == limit
    assert refused.value.path == path
    assert str(refused.value.maximum) in refused.value.message.replace(" ", "").replace(",", "")


@pytest.mark.parametrize(
    ("document", "limit"),
    [
        ({"key": "s", "included": [f"u{i}" for i in range(10_001)]}, "users_per_segment"),
        (
            {"key": "s", "included": ["a"] * 5_001, "excluded": ["b"] * 5_000},
            "users_per_segment",
        ),
        (
            {"key": "s", "conditions": {"all": [_leaf(i) for i in range(51)]}},
            "conditions_per_segment",
        ),
    ],
)
def test_check_segment__beyond_a_cap__refused_naming_it(
    document: dict[str, Any], limit: str
) -> None:
    # Given / When / Then
    with pytest.raises(limits.LimitError) as refused:
        limits.check_segment(document)
    assert refused.value.limit == limit


def _at_every_cap() -> dict[str, Any]:
    """200 rules that miss: 10 of 50 conditions, 10 on 2 segments each, the rest users."""
    rules: list[dict[str, Any]] = [_conditions_rule(50, 50 * i) for i in range(10)]
    rules += [_segments_rule([f"s{2 * i}", f"s{2 * i + 1}"]) for i in range(10)]
    rules += [_users_rule(50) for _ in range(limits.MAX_RULES - len(rules) - 1)]
    rules.append(_users_rule(limits.MAX_USERS))
    return {"rules": rules}


def test_check_ruleset__at_every_cap__accepted_and_decided_fast() -> None:
    # Given a document at the caps, and segments at theirs
    document = _at_every_cap()
    limits.check_ruleset(document)
    segments = {
        f"s{i}": engine.parse_segment(
            {
                "key": f"s{i}",
                "included": [f"m{i}-{n}" for n in range(limits.MAX_SEGMENT_USERS)],
                "conditions": {"any": [_leaf(1000 + n) for n in range(50)]},
            }
        )
        for i in range(limits.MAX_SEGMENTS_NAMED)
    }
    definition = engine.boolean_definition("capped")
    ruleset = engine.parse_ruleset(document, definition, segments)
    context = {"user_id": "nobody", "country": "XX"}
    # When a user no rule matches is decided (the longest walk there is)
    engine.evaluate(definition, True, ruleset, context, segments)
    runs = 50
    started = time.process_time()
    for _ in range(runs):
        resolution = engine.evaluate(definition, True, ruleset, context, segments)
    each = (time.process_time() - started) / runs
    # Then the answer is the fallthrough, within a few milliseconds even on a busy machine
    assert resolution.reason == engine.Reason.DEFAULT
    assert each < 0.005, f"{each * 1e6:.0f} µs"


def test_check_ruleset__malformed_document__left_to_the_parser() -> None:
    # Given documents the parser refuses for their shape
    for document in (
        None,
        {"rules": "x"},
        {"rules": [1, {"conditions": 3}]},
        {"type": "PERCENTAGE"},
    ):
        # When / Then: the caps say nothing
        limits.check_ruleset(document)
        limits.check_segment(document)
