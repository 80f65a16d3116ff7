"""``before``/``after`` on ``current_time``: the evaluation time unless the context gives it
(grammar 2: documents written now; a stored grammar-1 document reads a plain attribute)."""

from __future__ import annotations

import time

import pytest

from functions.core.engine import FlagDefinition, Grammar, Reason, evaluate, parse_ruleset


def _switch(op: str, value: object) -> dict[str, object]:
    return {
        "rules": [
            {
                "type": "CONDITIONS",
                "conditions": {"attribute": "current_time", "op": op, "value": value},
                "serve": {"variant": "green"},
            }
        ],
        "fallthrough": {"variant": "red"},
    }


@pytest.mark.parametrize(
    ("op", "value", "variant"),
    [
        ("after", "2000-01-01T00:00:00Z", "green"),
        ("after", "2999-01-01T00:00:00Z", "red"),
        ("before", "2999-01-01T00:00:00Z", "green"),
        ("before", 946684800, "red"),
    ],
)
def test_time_switch__context_without_current_time__evaluation_time_decides(
    colours: FlagDefinition, op: str, value: object, variant: str
) -> None:
    # Given a rule that switches at a date
    ruleset = parse_ruleset(_switch(op, value), colours, (), grammar=Grammar.V2)

    # When the context does not say what time it is
    resolution = evaluate(colours, True, ruleset, {"user_id": "u"})

    # Then now decides
    assert resolution.variant == variant


def test_time_switch__context_gives_current_time__that_time_decides(
    colours: FlagDefinition,
) -> None:
    # Given a switch on 1 May 2031
    switch = _switch("after", "2031-05-01T00:00:00Z")
    ruleset = parse_ruleset(switch, colours, (), grammar=Grammar.V2)

    # When asking about a day before and a day after
    before = evaluate(colours, True, ruleset, {"user_id": "u", "current_time": "2031-04-30"})
    after = evaluate(colours, True, ruleset, {"user_id": "u", "current_time": 1935360000 + 86400})

    # Then
    assert (before.variant, after.variant) == ("red", "green")
    assert after.reason is Reason.TARGETING_MATCH


def test_time_switch__clock_moves__same_ruleset_switches(
    colours: FlagDefinition, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a switch one hour from now
    switch_at = time.time() + 3600
    ruleset = parse_ruleset(_switch("after", switch_at), colours, (), grammar=Grammar.V2)
    first = evaluate(colours, True, ruleset, {"user_id": "u"})

    # When two hours pass
    later = time.time() + 7200
    monkeypatch.setattr(time, "time", lambda: later)
    second = evaluate(colours, True, ruleset, {"user_id": "u"})

    # Then it switched on without anyone writing anything
    assert (first.variant, second.variant) == ("red", "green")
