"""Stickiness by any attribute: ``bucket_by`` on rollouts and splits, one attribute or a
list tried in order, and what happens when the context has none of them."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from functions.core.engine import FlagDefinition, Reason, evaluate, parse_ruleset
from functions.core.engine.evaluation import rollout_salt
from functions.core.engine.hashing import percent_to_buckets, split_bucket
from tests.unit.core.engine.conftest import COLOURS

_SPLIT = {"split": [{"variant": "blue", "weight": 50}, {"variant": "green", "weight": 50}]}


def _rule_split(bucket_by: object) -> dict[str, Any]:
    return {
        "rules": [
            {"type": "USERS", "users": ["u1", "u2"], "serve": {**_SPLIT, "bucket_by": bucket_by}},
        ],
        "fallthrough": {"variant": "red"},
    }


def test_split_on_rule__list_and_none_present__next_rule_decides(colours: FlagDefinition) -> None:
    # Given a rule split by session or device, then a fallthrough
    ruleset = parse_ruleset(_rule_split(["session_id", "device_id"]), colours, ())

    # When the context has neither
    resolution = evaluate(colours, True, ruleset, {"user_id": "u1"})

    # Then the rule does not apply: the fallthrough serves, no error
    assert (resolution.variant, resolution.reason) == ("red", Reason.DEFAULT)


def test_split_on_rule__one_attribute_as_string__error_as_before(colours: FlagDefinition) -> None:
    # Given the form every earlier document has
    ruleset = parse_ruleset(_rule_split("session_id"), colours, ())

    # When
    resolution = evaluate(colours, True, ruleset, {"user_id": "u1"})

    # Then the earlier answer stands
    assert resolution.reason is Reason.ERROR
    assert resolution.error_code == "TARGETING_KEY_MISSING"


def test_fallthrough_split__list_and_none_present__targeting_key_missing(
    colours: FlagDefinition,
) -> None:
    # Given nothing follows the fallthrough
    document = {"rules": [], "fallthrough": {**_SPLIT, "bucket_by": ["session_id", "device_id"]}}
    ruleset = parse_ruleset(document, colours, ())

    # When
    resolution = evaluate(colours, True, ruleset, {"user_id": "u1"})

    # Then
    assert resolution.error_code == "TARGETING_KEY_MISSING"
    assert "'session_id' or 'device_id'" in (resolution.error_message or "")


@settings(max_examples=200, deadline=None, database=None)
@given(
    value=st.text(min_size=1, max_size=30) | st.integers(-(10**12), 10**12),
    first=st.booleans(),
)
def test_split__bucketed_by_other_attribute__same_bucket_as_that_value_as_user_id(
    value: str | int, first: bool
) -> None:
    # Given a split by ["session_id", "device_id"] and a context with one of them
    document = {"rules": [], "fallthrough": {**_SPLIT, "bucket_by": ["session_id", "device_id"]}}
    ruleset = parse_ruleset(document, COLOURS, ())
    by_user = parse_ruleset({"rules": [], "fallthrough": _SPLIT}, COLOURS, ())
    context = {"user_id": "someone-else", ("session_id" if first else "device_id"): value}

    # When
    resolution = evaluate(COLOURS, True, ruleset, context)

    # Then the variant is the one a user whose id is that value gets
    expected = evaluate(COLOURS, True, by_user, {"user_id": str(value)})
    assert resolution.variant == expected.variant


@settings(max_examples=200, deadline=None, database=None)
@given(
    session=st.text(min_size=1, max_size=20),
    device=st.text(min_size=1, max_size=20),
    user=st.text(min_size=1, max_size=20),
)
def test_split__list__first_present_attribute_wins(session: str, device: str, user: str) -> None:
    # Given
    document = {"rules": [], "fallthrough": {**_SPLIT, "bucket_by": ["session_id", "device_id"]}}
    ruleset = parse_ruleset(document, COLOURS, ())
    by_user = parse_ruleset({"rules": [], "fallthrough": _SPLIT}, COLOURS, ())

    # When both are present, and when only the second is
    both = evaluate(
        COLOURS, True, ruleset, {"user_id": user, "session_id": session, "device_id": device}
    )
    second = evaluate(COLOURS, True, ruleset, {"user_id": user, "device_id": device})

    # Then
    assert both.variant == evaluate(COLOURS, True, by_user, {"user_id": session}).variant
    assert second.variant == evaluate(COLOURS, True, by_user, {"user_id": device}).variant


@settings(max_examples=100, deadline=None, database=None)
@given(rollout=st.integers(0, 100), devices=st.lists(st.text(min_size=1, max_size=12), max_size=30))
def test_rollout__bucket_by_device__sticky_by_device_whatever_the_user(
    rollout: int, devices: list[str]
) -> None:
    # Given a rollout sticky by device
    document = {
        "rules": [
            {
                "id": "devices",
                "type": "CONDITIONS",
                "conditions": {"not": {"attribute": "device_id", "op": "eq", "value": "-"}},
                "serve": {"variant": "green"},
                "rollout": rollout,
                "bucket_by": ["device_id"],
            }
        ],
        "fallthrough": {"variant": "red"},
    }
    ruleset = parse_ruleset(document, COLOURS, ())
    rule = ruleset.rules[0]

    for device in devices:
        # When two users share the device
        first = evaluate(COLOURS, True, ruleset, {"user_id": "a", "device_id": device})
        second = evaluate(COLOURS, True, ruleset, {"user_id": "b", "device_id": device})

        # Then they are decided alike, by the device's bucket
        taken = split_bucket(rollout_salt(COLOURS.key, rule, 0), device) < percent_to_buckets(
            rollout
        )
        assert first.variant == second.variant == ("green" if taken else "red")


def test_rollout__bucket_by_absent__rule_skipped(colours: FlagDefinition) -> None:
    # Given a rollout by device (a 100 % rollout buckets nobody, so needs no device)
    document = {
        "rules": [
            {
                "type": "USERS",
                "users": ["u1"],
                "serve": {"variant": "green"},
                "rollout": 99.999,
                "bucket_by": "device_id",
            }
        ],
        "fallthrough": {"variant": "red"},
    }
    ruleset = parse_ruleset(document, colours, ())

    # When the context has no device
    resolution = evaluate(colours, True, ruleset, {"user_id": "u1"})

    # Then the rule is skipped as a rollout without user_id always was
    assert resolution.variant == "red"
