"""Stored documents: definitions, rule documents and segments refused with the request's
JSON path, and the seed's `result` for every flag type (issue 4)."""

from __future__ import annotations

from typing import Any

import pytest

from functions.core import engine
from functions.core.errors import Unprocessable
from functions.core.mappers.definitions import (
    canonical_rule_document,
    canonical_segment_document,
    flag_definition,
    referenced_segments,
)
from functions.core.mappers.evaluation import compiled_flag
from functions.core.services.evaluation import seed_result

STRING_FLAG = {
    "type": "string",
    "variants": {"off": "o", "blue": "b"},
    "off_variant": "off",
    "default_variant": "off",
}


def test_flag_definition__no_fields__seed_boolean() -> None:
    # Given / When
    definition = flag_definition(name="f", fields={})
    # Then
    assert definition == engine.boolean_definition("f")


@pytest.mark.parametrize(
    ("fields", "given", "field"),
    [
        ({**STRING_FLAG, "type": "number"}, {"type"}, "$.type"),
        ({**STRING_FLAG, "variants": {"blue": "b"}}, {"variants"}, "$.variants"),
        ({**STRING_FLAG, "variants": {"off": 1, "blue": "b"}}, {"variants"}, "$.variants.off"),
        ({**STRING_FLAG, "off_variant": "red"}, None, "$.off_variant"),
    ],
)
def test_flag_definition__invalid__422_blaming_a_field_the_request_sent(
    fields: dict[str, Any], given: set[str] | None, field: str
) -> None:
    # Given / When
    with pytest.raises(Unprocessable) as refused:
        flag_definition(name="f", fields=fields, given=given)
    # Then
    assert refused.value.details["field"] == field


def test_canonical_rule_document__unknown_variant__path_under_the_body_member() -> None:
    # Given a string flag and a rule serving a variant it lacks
    definition = flag_definition(name="f", fields=STRING_FLAG)
    rules = {"rules": [{"type": "USERS", "users": ["u"], "serve": {"variant": "red"}}]}
    # When / Then
    with pytest.raises(Unprocessable) as refused:
        canonical_rule_document(definition=definition, rules=rules, segment_keys=(), path="$.rules")
    assert refused.value.details["field"] == "$.rules.rules[0].serve.variant"


def test_referenced_segments__mixed_and_malformed__keys_in_order_once() -> None:
    # Given / When
    found = referenced_segments(
        {
            "rules": [
                {"type": "SEGMENT", "segments": ["b", "a", 3]},
                {"type": "USERS", "users": ["x"]},
                {"type": "SEGMENT", "segments": ["a", "c"]},
                "junk",
            ]
        }
    )
    # Then
    assert found == ["b", "a", "c"]
    assert referenced_segments({"type": "PERCENTAGE", "value": 3}) == []


def test_canonical_segment_document__bad_operator__path_of_the_op() -> None:
    # Given / When / Then
    with pytest.raises(Unprocessable) as refused:
        canonical_segment_document(
            document={"key": "s", "conditions": {"attribute": "a", "op": "x", "value": 1}}
        )
    assert refused.value.details["field"] == "$.conditions.op"


def test_compiled_flag__segment_rule__segment_decides_and_deleted_one_never_matches() -> None:
    # Given a string flag whose rule names a present and a deleted segment
    rule = {
        "is_enabled": True,
        "rules": {
            "rules": [
                {"type": "SEGMENT", "segments": ["gone", "vip"], "serve": {"variant": "blue"}}
            ]
        },
    }
    segments = {"vip": {"key": "vip", "included": ["ana"]}}
    config = compiled_flag(
        name="f", flag={**STRING_FLAG, "is_enabled": True}, rule=rule, segments=segments
    )

    def decide(user: str) -> str | None:
        return engine.evaluate(
            config.definition, config.enabled, config.ruleset, {"user_id": user}, config.segments
        ).variant

    # When / Then
    assert config.invalid_rules is None
    assert (decide("ana"), decide("bo")) == ("blue", "off")


@pytest.mark.parametrize(
    ("variant", "value", "reason", "expected"),
    [
        ("blue", "b", engine.Reason.TARGETING_MATCH, True),
        ("off", "o", engine.Reason.DEFAULT, False),
        (None, "o", engine.Reason.ERROR, False),
    ],
)
def test_seed_result__string_flag__true_unless_off_or_failed(
    variant: str | None, value: str, reason: engine.Reason, expected: bool
) -> None:
    # Given / When
    result = seed_result(
        engine.Resolution(value, variant, reason), flag_definition(name="f", fields=STRING_FLAG)
    )
    # Then
    assert result is expected


def test_seed_result__boolean_flag__the_value() -> None:
    # Given / When / Then
    on = engine.Resolution(True, "on", engine.Reason.DEFAULT)
    off = engine.Resolution(False, "off", engine.Reason.DISABLED)
    assert seed_result(on, engine.boolean_definition("f")) is True
    assert seed_result(off, engine.boolean_definition("f")) is False
    assert seed_result(on, None) is True
