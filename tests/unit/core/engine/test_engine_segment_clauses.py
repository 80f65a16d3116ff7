"""``{"segment": key}`` as a clause: segments combined with each other and with conditions."""

from __future__ import annotations

from typing import Any

import pytest

from functions.core.engine import (
    FlagDefinition,
    RuleValidationError,
    evaluate,
    parse_ruleset,
    parse_segment,
    ruleset_segments,
    ruleset_to_document,
)

_SEGMENTS = {
    "beta": parse_segment({"key": "beta", "included": ["u1", "u2"]}),
    "staff": parse_segment(
        {"key": "staff", "conditions": {"attribute": "email", "op": "ends_with", "value": "@tm.io"}}
    ),
}
_DOCUMENT = {
    "rules": [
        {
            "type": "CONDITIONS",
            "conditions": {
                "all": [
                    {"segment": "beta"},
                    {"segment": "staff"},
                    {"attribute": "country", "op": "eq", "value": "PT"},
                ]
            },
            "serve": {"variant": "green"},
        },
        {
            "type": "CONDITIONS",
            "conditions": {"not": {"segment": "beta"}},
            "serve": {"variant": "red"},
        },
    ],
    "fallthrough": {"variant": "blue"},
}


@pytest.mark.parametrize(
    ("context", "variant"),
    [
        ({"user_id": "u1", "email": "a@tm.io", "country": "PT"}, "green"),
        ({"user_id": "u1", "email": "a@tm.io", "country": "ES"}, "blue"),
        ({"user_id": "u1", "email": "a@x.io", "country": "PT"}, "blue"),
        ({"user_id": "u9", "email": "a@tm.io", "country": "PT"}, "red"),
    ],
)
def test_segment_clause__and_of_segments_and_condition__decides(
    colours: FlagDefinition, context: dict[str, object], variant: str
) -> None:
    # Given "in beta and in staff and country is PT", then "not in beta"
    ruleset = parse_ruleset(_DOCUMENT, colours, set(_SEGMENTS))

    # When
    resolution = evaluate(colours, True, ruleset, context, _SEGMENTS)

    # Then
    assert resolution.variant == variant


def test_segment_clause__segment_gone_since__never_matches(colours: FlagDefinition) -> None:
    # Given the rules parsed while beta existed, evaluated without it
    ruleset = parse_ruleset(_DOCUMENT, colours, set(_SEGMENTS))

    # When
    resolution = evaluate(colours, True, ruleset, {"user_id": "u1"}, {})

    # Then "not in beta" matches
    assert resolution.variant == "red"


def test_segment_clause__canonical_form_and_named_segments(colours: FlagDefinition) -> None:
    # Given
    ruleset = parse_ruleset(_DOCUMENT, colours, set(_SEGMENTS))

    # When
    document: Any = ruleset_to_document(ruleset)

    # Then
    assert document["rules"][0]["conditions"]["all"][0] == {"segment": "beta"}
    assert ruleset_segments(ruleset) == ["beta", "staff"]


def test_segment_clause__inside_a_segment__refused() -> None:
    # Given / When
    with pytest.raises(RuleValidationError) as raised:
        parse_segment({"key": "s", "conditions": {"any": [{"segment": "beta"}]}})

    # Then
    assert raised.value.path == "$.conditions.any[0].segment"
