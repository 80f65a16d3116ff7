"""Prerequisites: a flag serves its off variant, PREREQUISITE_FAILED, unless every flag it
requires serves a listed variant for the same context."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from functions.core.engine import (
    FlagDefinition,
    Reason,
    Ruleset,
    Segment,
    boolean_definition,
    evaluate,
    parse_ruleset,
    ruleset_to_document,
)


@dataclass(frozen=True)
class _Flag:
    definition: FlagDefinition | None
    enabled: bool
    ruleset: Ruleset | None
    segments: Mapping[str, Segment] = field(default_factory=dict)
    invalid_rules: str | None = None


def _flag(key: str, document: dict[str, Any] | None, *, enabled: bool = True) -> _Flag:
    definition = boolean_definition(key)
    ruleset = None if document is None else parse_ruleset(document, definition, ())
    return _Flag(definition, enabled, ruleset)


def _requires(*names: str, variants: tuple[str, ...] = ("on",)) -> dict[str, Any]:
    return {
        "prerequisites": [{"flag": name, "variants": list(variants)} for name in names],
        "rules": [],
    }


_ONLY_PT = {
    "rules": [
        {
            "type": "CONDITIONS",
            "conditions": {"attribute": "country", "op": "eq", "value": "PT"},
            "serve": {"variant": "on"},
        }
    ],
    "fallthrough": {"variant": "off"},
}


def _decide(flags: dict[str, _Flag], key: str, context: dict[str, object]) -> Any:
    flag = flags[key]
    return evaluate(flag.definition, flag.enabled, flag.ruleset, context, lookup=flags.get)


def test_prerequisite__met__rules_decide() -> None:
    # Given checkout requires payments on, and payments is on for everyone
    flags = {
        "checkout": _flag("checkout", _requires("payments")),
        "payments": _flag("payments", None),
    }

    # When
    resolution = _decide(flags, "checkout", {"user_id": "u1"})

    # Then
    assert (resolution.value, resolution.reason, resolution.prerequisite) == (
        True,
        Reason.DEFAULT,
        None,
    )


@pytest.mark.parametrize(
    ("payments", "why"),
    [
        (None, "missing"),
        (_Flag(boolean_definition("payments"), False, None), "off"),
        (
            _Flag(replace(boolean_definition("payments"), archived=True), True, None),
            "archived",
        ),
        (
            _Flag(boolean_definition("payments"), True, None, invalid_rules="$.rules: broken"),
            "broken",
        ),
        (_flag("payments", _ONLY_PT), "serves off here"),
    ],
)
def test_prerequisite__not_met__off_variant_prerequisite_failed(
    payments: _Flag | None, why: str
) -> None:
    # Given checkout requires payments on, and payments is the case above
    flags = {"checkout": _flag("checkout", _requires("payments"))}
    if payments is not None:
        flags["payments"] = payments

    # When a Spanish user asks
    resolution = _decide(flags, "checkout", {"user_id": "u1", "country": "ES"})

    # Then
    assert resolution.value is False, why
    assert resolution.variant == "off"
    assert resolution.reason is Reason.PREREQUISITE_FAILED
    assert resolution.prerequisite == "payments"
    assert resolution.error_code is None


def test_prerequisite__same_context__decided_per_user() -> None:
    # Given payments is on in Portugal only
    flags = {
        "checkout": _flag("checkout", _requires("payments")),
        "payments": _flag("payments", _ONLY_PT),
    }

    # When
    portuguese = _decide(flags, "checkout", {"user_id": "u", "country": "PT"})
    spanish = _decide(flags, "checkout", {"user_id": "u", "country": "ES"})

    # Then
    assert portuguese.value is True
    assert spanish.reason is Reason.PREREQUISITE_FAILED


def test_prerequisite__chain_fails_at_the_end__first_link_fails() -> None:
    # Given a -> b -> c, and c is off
    flags = {
        "a": _flag("a", _requires("b")),
        "b": _flag("b", _requires("c")),
        "c": _flag("c", None, enabled=False),
    }

    # When
    resolution = _decide(flags, "a", {"user_id": "u"})

    # Then a fails on b (which failed on c), even if someone listed b's off variant
    assert (resolution.reason, resolution.prerequisite) == (Reason.PREREQUISITE_FAILED, "b")
    flags["a"] = _flag("a", _requires("b", variants=("on", "off")))
    assert _decide(flags, "a", {"user_id": "u"}).reason is Reason.PREREQUISITE_FAILED


def test_prerequisite__cycle_reached_anyway__fails_without_looping() -> None:
    # Given a cycle that writes refuse, but that the engine must survive
    flags = {"a": _flag("a", _requires("b")), "b": _flag("b", _requires("a"))}

    # When
    resolution = _decide(flags, "a", {"user_id": "u"})

    # Then
    assert resolution.reason is Reason.PREREQUISITE_FAILED


def test_prerequisite__no_lookup__not_met() -> None:
    # Given
    flag = _flag("checkout", _requires("payments"))

    # When
    resolution = evaluate(flag.definition, True, flag.ruleset, {"user_id": "u"})

    # Then
    assert resolution.reason is Reason.PREREQUISITE_FAILED


def test_prerequisite__disabled_flag__disabled_before_prerequisites() -> None:
    # Given checkout is off and requires a missing flag
    flags = {"checkout": _flag("checkout", _requires("payments"), enabled=False)}

    # When
    resolution = _decide(flags, "checkout", {"user_id": "u"})

    # Then
    assert resolution.reason is Reason.DISABLED


def test_prerequisites__canonical_form__round_trips_and_keeps_order() -> None:
    # Given
    document = {
        "prerequisites": [
            {"flag": "b", "variants": ["on", "on", "off"]},
            {"flag": "a", "variants": ["on"]},
        ],
        "rules": [],
    }
    definition = boolean_definition("checkout")

    # When
    canonical = ruleset_to_document(parse_ruleset(document, definition, ()))

    # Then
    assert canonical["prerequisites"] == [
        {"flag": "b", "variants": ["on", "off"]},
        {"flag": "a", "variants": ["on"]},
    ]
    assert ruleset_to_document(parse_ruleset(canonical, definition, ())) == canonical
    assert "prerequisites" not in ruleset_to_document(parse_ruleset({"rules": []}, definition, ()))
