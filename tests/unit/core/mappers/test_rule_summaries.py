"""The overview's rule summaries: a stored document in a few words, never a failure."""

from __future__ import annotations

from typing import Any

import pytest

from functions.core.mappers.rule_summaries import MAX_PHRASE, summarise

BETA = {"type": "SEGMENT", "segments": ["beta"], "serve": {"variant": "on"}}
PORTUGAL = {
    "type": "CONDITIONS",
    "conditions": {"attribute": "country", "op": "in", "value": ["PT"]},
    "serve": {"variant": "on"},
}


@pytest.mark.parametrize(
    ("rules", "kinds", "summary", "rollout"),
    [
        ({"type": "PERCENTAGE", "value": 30}, ["PERCENTAGE"], "30 % rollout", 30.0),
        (
            {"rules": [BETA, PORTUGAL], "fallthrough": {"variant": "off"}},
            ["SEGMENT", "CONDITIONS"],
            "2 rules: segment beta, country in [PT]; otherwise off",
            None,
        ),
        (
            {
                "rules": [{"type": "PERCENTAGE", "value": 12.5, "serve": {"variant": "on"}}],
                "fallthrough": {"variant": "off"},
            },
            ["PERCENTAGE"],
            "12.5 % rollout; otherwise off",
            12.5,
        ),
        (
            {
                "rules": [{"type": "PERCENTAGE", "value": 30, "serve": {"variant": "on"}}],
                "fallthrough": {"variant": "on"},
            },
            ["PERCENTAGE"],
            "30 % rollout; otherwise on",
            None,
        ),
        (
            {
                "rules": [
                    {
                        "id": "staff",
                        "type": "USERS",
                        "users": ["u1", "u2"],
                        "serve": {"variant": "on"},
                    },
                    {**BETA, "segments": ["a", "b", "c", "d"], "rollout": 50},
                ],
                "fallthrough": {
                    "split": [{"variant": "on", "weight": 50}, {"variant": "off", "weight": 50}]
                },
            },
            ["USERS", "SEGMENT"],
            "2 rules: 2 users, segments [a, b, c, +1] (50 % of them); otherwise split on/off",
            None,
        ),
        (
            {
                "rules": [
                    {
                        "type": "CONDITIONS",
                        "conditions": {
                            "any": [
                                {"attribute": "plan", "op": "eq", "value": "pro"},
                                {"not": {"attribute": "seats", "op": "lt", "value": 10}},
                            ]
                        },
                        "serve": {"variant": "on"},
                    }
                ],
                "fallthrough": {"variant": "off"},
            },
            ["CONDITIONS"],
            "plan eq pro or not (seats lt 10); otherwise off",
            None,
        ),
        ({"rules": [], "fallthrough": {"variant": "on"}}, [], "no rules; otherwise on", None),
    ],
)
def test_summarise__stored_document__kinds_summary_and_rollout(
    rules: dict[str, Any], kinds: list[str], summary: str, rollout: float | None
) -> None:
    # Given / When
    found = summarise(rules=rules, enabled=True)
    # Then
    assert (found.kinds, found.summary, found.rollout) == (kinds, summary, rollout)
    assert found.count == len(kinds) and found.enabled is True


def test_summarise__document_switched_off__says_so() -> None:
    # Given / When a rollout whose rule row is disabled
    found = summarise(rules={"type": "PERCENTAGE", "value": 30}, enabled=False)
    # Then
    assert (found.enabled, found.summary) == (False, "switched off (30 % rollout)")


@pytest.mark.parametrize("rules", [None, [], "x", {"rules": "x"}, {"rules": [7]}])
def test_summarise__unreadable_document__a_summary_never_an_error(rules: Any) -> None:
    # Given / When
    found = summarise(rules=rules, enabled=True)
    # Then
    assert "unreadable" in found.summary and found.rollout is None


def test_summarise__long_condition__cut_with_an_ellipsis() -> None:
    # Given a condition listing long values
    long = {**PORTUGAL, "conditions": {"attribute": "a" * 80, "op": "eq", "value": "x"}}
    # When
    found = summarise(rules={"rules": [long]}, enabled=True)
    # Then
    assert found.summary.endswith("…") and len(found.summary) == MAX_PHRASE
