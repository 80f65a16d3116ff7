"""evaluate: precedence, reasons, rule kinds, rollouts, splits and failures."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

import pytest

from functions.core.engine import (
    FlagDefinition,
    Reason,
    Resolution,
    Ruleset,
    Segment,
    VariantServe,
    evaluate,
    parse_ruleset,
    parse_segment,
    seed_bucket,
)


def _seed_result(user_id: str, flag_name: str, value: float) -> bool:
    digest = hashlib.sha1((user_id + flag_name).encode("utf-8"), usedforsecurity=False).digest()
    return int.from_bytes(digest[:4], "big") % 100 < value


def test_evaluate__unknown_flag__false_flag_not_found() -> None:
    # Given no definition

    # When
    resolution = evaluate(None, True, None, {"user_id": "u1"})

    # Then
    assert resolution == Resolution(
        value=False,
        variant=None,
        reason=Reason.FLAG_NOT_FOUND,
        error_code="FLAG_NOT_FOUND",
        error_message="flag not found",
    )


@pytest.mark.parametrize(("enabled", "archived"), [(False, False), (True, True), (False, True)])
def test_evaluate__disabled_or_archived__off_variant_disabled(
    colours: FlagDefinition, enabled: bool, archived: bool
) -> None:
    # Given a ruleset that would serve green to everyone
    definition = replace(colours, archived=archived)
    ruleset = Ruleset((), VariantServe("green"))

    # When
    resolution = evaluate(definition, enabled, ruleset, {"user_id": "u1"})

    # Then
    assert resolution == Resolution("#f00", "red", Reason.DISABLED)


def test_evaluate__enabled_without_ruleset__default_variant(seed_flag: FlagDefinition) -> None:
    # Given the seed's "no rule (or rule disabled) means true"

    # When
    resolution = evaluate(seed_flag, True, None, {"user_id": "u1"})

    # Then
    assert resolution == Resolution(True, "on", Reason.DEFAULT)


def test_evaluate__legacy_percentage__same_users_as_the_seed(seed_flag: FlagDefinition) -> None:
    # Given the seed's rule document
    ruleset = parse_ruleset({"type": "PERCENTAGE", "value": 30}, seed_flag, ())
    users = [f"user-{index}" for index in range(3000)]

    # When
    results = [evaluate(seed_flag, True, ruleset, {"user_id": user}) for user in users]

    # Then
    assert [r.value for r in results] == [_seed_result(u, "new-checkout", 30) for u in users]
    for result in results:
        if result.value:
            assert (result.variant, result.reason, result.rule_index) == (
                "on",
                Reason.TARGETING_MATCH,
                0,
            )
        else:
            assert (result.variant, result.reason, result.rule_index) == (
                "off",
                Reason.DEFAULT,
                None,
            )


@pytest.mark.parametrize(("value", "expected_share"), [(0, 0.0), (100, 1.0), (12.5, None)])
def test_evaluate__legacy_percentage_bounds__none_all_or_fraction(
    seed_flag: FlagDefinition, value: float, expected_share: float | None
) -> None:
    # Given
    ruleset = parse_ruleset({"type": "PERCENTAGE", "value": value}, seed_flag, ())
    users = [f"u{index}" for index in range(1000)]

    # When
    share = sum(
        bool(evaluate(seed_flag, True, ruleset, {"user_id": u}).value) for u in users
    ) / len(users)

    # Then: a fractional value admits buckets 0..12, as the seed's "bucket < value" did
    if expected_share is None:
        expected = sum(seed_bucket(u, "new-checkout") <= 12 for u in users) / len(users)
        assert share == expected
    else:
        assert share == expected_share


def test_evaluate__legacy_percentage_without_user_id__off(seed_flag: FlagDefinition) -> None:
    # Given
    ruleset = parse_ruleset({"type": "PERCENTAGE", "value": 100}, seed_flag, ())

    # When
    resolution = evaluate(seed_flag, True, ruleset, {})

    # Then
    assert resolution == Resolution(False, "off", Reason.DEFAULT)


def _full(rules: list[dict[str, Any]], fallthrough: dict[str, Any] | None = None) -> dict[str, Any]:
    document: dict[str, Any] = {"rules": rules}
    if fallthrough is not None:
        document["fallthrough"] = fallthrough
    return document


def test_evaluate__rules_in_order__first_match_wins(colours: FlagDefinition) -> None:
    # Given two rules that both match user u1
    ruleset = parse_ruleset(
        _full(
            [
                {"type": "USERS", "users": ["u1"], "serve": {"variant": "green"}},
                {"type": "USERS", "users": ["u1", "u2"], "serve": {"variant": "red"}},
            ]
        ),
        colours,
        (),
    )

    # When
    first = evaluate(colours, True, ruleset, {"user_id": "u1"})
    second = evaluate(colours, True, ruleset, {"user_id": "u2"})
    nobody = evaluate(colours, True, ruleset, {"user_id": "u3"})

    # Then
    assert first == Resolution("#0f0", "green", Reason.TARGETING_MATCH, 0)
    assert second == Resolution("#f00", "red", Reason.TARGETING_MATCH, 1)
    assert nobody == Resolution("#00f", "blue", Reason.DEFAULT)


def test_evaluate__rule_with_id_decides__resolution_names_rule_id_and_index(
    colours: FlagDefinition,
) -> None:
    # Given a rule without id, then one with an id and a split, then the fallthrough
    ruleset = parse_ruleset(
        _full(
            [
                {"type": "USERS", "users": ["u1"], "serve": {"variant": "green"}},
                {
                    "id": "beta",
                    "type": "USERS",
                    "users": ["u2"],
                    "serve": {"split": {"red": 50, "green": 50}},
                },
            ]
        ),
        colours,
        (),
    )

    # When
    first, second, nobody = (
        evaluate(colours, True, ruleset, {"user_id": user}) for user in ("u1", "u2", "u3")
    )

    # Then the id-less rule is named by index only, the other by both; the fallthrough by none
    assert (first.reason, first.rule_index, first.rule_id) == (Reason.TARGETING_MATCH, 0, None)
    assert (second.reason, second.rule_index, second.rule_id) == (Reason.SPLIT, 1, "beta")
    assert (nobody.reason, nobody.rule_index, nobody.rule_id) == (Reason.DEFAULT, None, None)


def test_evaluate__integer_user_id__taken_as_decimal_string(colours: FlagDefinition) -> None:
    # Given
    ruleset = parse_ruleset(
        _full([{"type": "USERS", "users": ["42"], "serve": {"variant": "green"}}]), colours, ()
    )

    # When
    as_int = evaluate(colours, True, ruleset, {"user_id": 42})
    as_bool = evaluate(colours, True, ruleset, {"user_id": True})

    # Then
    assert as_int.variant == "green"
    assert as_bool.variant == "blue"


def test_evaluate__segment_rule__included_excluded_and_conditions(colours: FlagDefinition) -> None:
    # Given a segment of Brazilians, plus u1, minus u2
    segment = parse_segment(
        {
            "key": "beta",
            "included": ["u1"],
            "excluded": ["u2"],
            "conditions": {"attribute": "country", "op": "eq", "value": "BR"},
        }
    )
    ruleset = parse_ruleset(
        _full([{"type": "SEGMENT", "segments": ["gone", "beta"], "serve": {"variant": "green"}}]),
        colours,
        {"gone", "beta"},
    )
    segments = {"beta": segment}

    # When
    def variant(context: dict[str, object]) -> str | None:
        return evaluate(colours, True, ruleset, context, segments).variant

    # Then
    assert variant({"user_id": "u1", "country": "PT"}) == "green"
    assert variant({"user_id": "u2", "country": "BR"}) == "blue"
    assert variant({"user_id": "u3", "country": "BR"}) == "green"
    assert variant({"user_id": "u3", "country": "PT"}) == "blue"
    assert variant({"country": "BR"}) == "green"


def test_evaluate__segment_missing_at_evaluation__rule_does_not_match(
    colours: FlagDefinition,
) -> None:
    # Given a rule naming a segment that has since been deleted
    ruleset = parse_ruleset(
        _full([{"type": "SEGMENT", "segments": ["beta"], "serve": {"variant": "green"}}]),
        colours,
        {"beta"},
    )

    # When
    resolution = evaluate(colours, True, ruleset, {"user_id": "u1"}, {})

    # Then
    assert resolution.variant == "blue"


def test_segment__no_conditions__only_included_users() -> None:
    # Given
    segment = Segment(key="s", included=frozenset({"u1"}))

    # When
    listed = segment.contains({"user_id": "u1"})
    other = segment.contains({"user_id": "u2"})

    # Then
    assert listed is True
    assert other is False


def test_evaluate__rule_rollout__sticky_subset_of_matching_users(colours: FlagDefinition) -> None:
    # Given a rule for everyone at 30 % and at 60 %, by the same rule id
    def ruleset(rollout: float) -> Ruleset:
        rule = {
            "id": "everyone",
            "type": "CONDITIONS",
            "conditions": {"attribute": "user_id", "op": "starts_with", "value": "u"},
            "serve": {"variant": "green"},
            "rollout": rollout,
        }
        return parse_ruleset(_full([rule]), colours, ())

    users = [f"u{index}" for index in range(20_000)]

    # When
    at_30 = {
        u for u in users if evaluate(colours, True, ruleset(30), {"user_id": u}).rule_index == 0
    }
    at_60 = {
        u for u in users if evaluate(colours, True, ruleset(60), {"user_id": u}).rule_index == 0
    }

    # Then
    assert at_30 < at_60
    assert abs(len(at_30) / len(users) - 0.30) < 0.015
    assert abs(len(at_60) / len(users) - 0.60) < 0.015


def test_evaluate__rollout_without_user_id__falls_through(colours: FlagDefinition) -> None:
    # Given
    rule = {
        "type": "CONDITIONS",
        "conditions": {"attribute": "plan", "op": "eq", "value": "pro"},
        "serve": {"variant": "green"},
        "rollout": 99.999,
    }
    ruleset = parse_ruleset(_full([rule]), colours, ())

    # When
    resolution = evaluate(colours, True, ruleset, {"plan": "pro"})

    # Then
    assert resolution.variant == "blue"


def test_evaluate__split_rule__reason_split_with_rule_index(colours: FlagDefinition) -> None:
    # Given
    rule = {"type": "PERCENTAGE", "value": 100, "serve": {"split": {"green": 50, "red": 50}}}
    ruleset = parse_ruleset(_full([rule]), colours, ())

    # When
    resolutions = [evaluate(colours, True, ruleset, {"user_id": f"u{i}"}) for i in range(200)]

    # Then
    assert {r.reason for r in resolutions} == {Reason.SPLIT}
    assert {r.rule_index for r in resolutions} == {0}
    assert {r.variant for r in resolutions} == {"green", "red"}


def test_evaluate__split_fallthrough_by_attribute__same_bucket_same_variant(
    colours: FlagDefinition,
) -> None:
    # Given a fallthrough split by company
    ruleset = parse_ruleset(
        _full([], {"split": {"blue": 34, "green": 33, "red": 33}, "bucket_by": "company"}),
        colours,
        (),
    )

    # When
    variants = {
        evaluate(colours, True, ruleset, {"user_id": f"u{i}", "company": "acme"}).variant
        for i in range(50)
    }
    reason = evaluate(colours, True, ruleset, {"company": "acme"}).reason

    # Then
    assert len(variants) == 1
    assert reason is Reason.SPLIT


def test_evaluate__split_without_bucket_attribute__error_targeting_key_missing(
    colours: FlagDefinition,
) -> None:
    # Given
    ruleset = parse_ruleset(_full([], {"split": {"blue": 50, "green": 50}}), colours, ())

    # When
    resolution = evaluate(colours, True, ruleset, {"country": "PT"})

    # Then
    assert (resolution.value, resolution.variant, resolution.reason, resolution.error_code) == (
        "#f00",
        None,
        Reason.ERROR,
        "TARGETING_KEY_MISSING",
    )


def test_evaluate__variant_removed_after_parse__error_general(colours: FlagDefinition) -> None:
    # Given rules parsed when green existed, then green removed
    ruleset = parse_ruleset(_full([], {"variant": "green"}), colours, ())
    shrunk = replace(colours, variants={"blue": "#00f", "red": "#f00"})

    # When
    resolution = evaluate(shrunk, True, ruleset, {"user_id": "u1"})

    # Then
    assert resolution.reason is Reason.ERROR
    assert resolution.error_code == "GENERAL"
    assert resolution.value == "#f00"
    assert resolution.variant is None
    assert resolution.error_message is not None
    assert "KeyError" in resolution.error_message


def test_evaluate__context_not_a_mapping__error_general(colours: FlagDefinition) -> None:
    # Given
    ruleset = parse_ruleset(_full([], {"split": {"blue": 100}}), colours, ())

    # When
    resolution = evaluate(colours, True, ruleset, None)  # type: ignore[arg-type]

    # Then
    assert (resolution.reason, resolution.error_code) == (Reason.ERROR, "GENERAL")
