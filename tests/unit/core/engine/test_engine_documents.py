"""The canonical documents: parse(to_document(x)) == x, and to_document is a fixed point."""

from __future__ import annotations

import json
from typing import Any

import pytest

from functions.core.engine import (
    FlagDefinition,
    parse_ruleset,
    parse_segment,
    ruleset_to_document,
    segment_to_document,
)

_EVERY_OPERATOR = {
    "all": [
        {"attribute": "plan", "op": "eq", "value": "pro"},
        {"attribute": "seats", "op": "neq", "value": 0},
        {"attribute": "country", "op": "in", "value": ["PT", "BR", 1, True]},
        {"attribute": "country", "op": "not_in", "value": ["ES"]},
        {"attribute": "roles", "op": "contains", "value": "admin"},
        {"attribute": "url", "op": "starts_with", "value": "https://"},
        {"attribute": "email", "op": "ends_with", "value": "@example.com"},
        {"attribute": "email", "op": "matches", "value": "^[a-z]+@"},
        {
            "any": [
                {"attribute": "age", "op": "gt", "value": 17},
                {"attribute": "age", "op": "gte", "value": 18.5},
                {"attribute": "age", "op": "lt", "value": 99},
                {"attribute": "age", "op": "lte", "value": 100},
            ]
        },
        {"not": {"attribute": "app", "op": "semver_lt", "value": "v1.2.3-rc.1"}},
        {"attribute": "app", "op": "semver_gt", "value": "1.0.0"},
        {"attribute": "app", "op": "semver_eq", "value": "2.0.0+build"},
        {"attribute": "signup", "op": "before", "value": "2024-06-01T00:00:00Z"},
        {"attribute": "signup", "op": "after", "value": 1_600_000_000},
    ]
}

RULESETS: list[Any] = [
    pytest.param({"type": "PERCENTAGE", "value": 30}, id="legacy"),
    pytest.param({"type": "PERCENTAGE", "value": 12.5}, id="legacy fractional"),
    pytest.param({"rules": []}, id="empty"),
    pytest.param(
        {
            "rules": [
                {
                    "id": "staff",
                    "description": "internal",
                    "type": "USERS",
                    "users": ["u2", "u1"],
                    "serve": {"variant": "green"},
                },
                {
                    "type": "SEGMENT",
                    "segments": ["beta", "alpha"],
                    "serve": {"variant": "red"},
                    "rollout": 25,
                },
                {
                    "type": "CONDITIONS",
                    "conditions": _EVERY_OPERATOR,
                    "serve": {"split": {"blue": 50, "green": 30, "red": 20}, "bucket_by": "org"},
                },
                {"type": "PERCENTAGE", "value": 10},
            ],
            "fallthrough": {
                "split": [{"variant": "red", "weight": 99.5}, {"variant": "blue", "weight": 0.5}]
            },
        },
        id="everything",
    ),
]


@pytest.mark.parametrize("document", RULESETS)
def test_ruleset_to_document__parsed_document__round_trips(
    colours: FlagDefinition, document: dict[str, Any]
) -> None:
    # Given
    ruleset = parse_ruleset(document, colours, {"alpha", "beta"})

    # When
    canonical = ruleset_to_document(ruleset)
    reparsed = parse_ruleset(json.loads(json.dumps(canonical)), colours, {"alpha", "beta"})

    # Then
    assert reparsed == ruleset
    assert ruleset_to_document(reparsed) == canonical


def test_ruleset_to_document__legacy__stays_in_seed_shape(colours: FlagDefinition) -> None:
    # Given
    ruleset = parse_ruleset({"type": "PERCENTAGE", "value": 30}, colours, ())

    # When
    document = ruleset_to_document(ruleset)

    # Then
    assert document == {"type": "PERCENTAGE", "value": 30}


def test_ruleset_to_document__full_form__canonical_shape(colours: FlagDefinition) -> None:
    # Given
    document = {
        "rules": [
            {"type": "USERS", "users": ["b", "a"], "serve": {"variant": "green"}},
            {"type": "PERCENTAGE", "value": 5},
        ],
        "fallthrough": {"split": {"blue": 60, "red": 40}},
    }

    # When
    canonical = ruleset_to_document(parse_ruleset(document, colours, ()))

    # Then
    assert canonical == {
        "rules": [
            {"type": "USERS", "users": ["a", "b"], "serve": {"variant": "green"}},
            {"type": "PERCENTAGE", "value": 5, "serve": {"variant": "blue"}},
        ],
        "fallthrough": {
            "split": [{"variant": "blue", "weight": 60}, {"variant": "red", "weight": 40}],
            "bucket_by": "user_id",
        },
    }


@pytest.mark.parametrize(
    "document",
    [
        {"key": "empty"},
        {
            "key": "beta",
            "name": "Beta",
            "description": "early birds",
            "included": ["b", "a"],
            "excluded": ["c"],
            "conditions": _EVERY_OPERATOR,
        },
    ],
)
def test_segment_to_document__parsed_document__round_trips(document: dict[str, Any]) -> None:
    # Given
    segment = parse_segment(document)

    # When
    canonical = segment_to_document(segment)
    reparsed = parse_segment(json.loads(json.dumps(canonical)))

    # Then
    assert reparsed == segment
    assert segment_to_document(reparsed) == canonical
