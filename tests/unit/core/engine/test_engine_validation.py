"""Refused documents: each kind of mistake names the JSON path at fault."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from functions.core.engine import (
    FlagDefinition,
    FlagKind,
    RuleValidationError,
    parse_ruleset,
    parse_segment,
    parse_variants,
)

_TABLE: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "invalid_rulesets.json").read_text(encoding="utf-8")
)


def _cases() -> Iterator[Any]:
    for case in _TABLE["cases"]:
        yield pytest.param(case["document"], case["path"], id=case["name"])


@pytest.mark.parametrize(("document", "path"), list(_cases()))
def test_parse_ruleset__invalid_document__raises_with_path(
    colours: FlagDefinition, document: object, path: str
) -> None:
    # Given the document above, for the colour flag and segment "beta"

    # When
    with pytest.raises(RuleValidationError) as raised:
        parse_ruleset(document, colours, {"beta"})

    # Then
    assert raised.value.path == path
    assert raised.value.message
    assert str(raised.value).startswith(path)


def test_parse_ruleset__nesting_too_deep__raises(colours: FlagDefinition) -> None:
    # Given 40 nested "not"s
    clause: dict[str, Any] = {"attribute": "a", "op": "eq", "value": 1}
    for _ in range(40):
        clause = {"not": clause}
    document = {
        "rules": [{"type": "CONDITIONS", "conditions": clause, "serve": {"variant": "red"}}]
    }

    # When
    with pytest.raises(RuleValidationError) as raised:
        parse_ruleset(document, colours, ())

    # Then
    assert raised.value.path.startswith("$.rules[0].conditions.not.not")


@pytest.mark.parametrize(
    ("document", "path"),
    [
        pytest.param("beta", "$", id="not an object"),
        pytest.param({}, "$.key", id="no key"),
        pytest.param({"key": ""}, "$.key", id="empty key"),
        pytest.param({"key": "b", "members": []}, "$.members", id="unknown member"),
        pytest.param({"key": "b", "included": "u1"}, "$.included", id="included not an array"),
        pytest.param({"key": "b", "excluded": ["u1", None]}, "$.excluded[1]", id="excluded null"),
        pytest.param({"key": "b", "name": 5}, "$.name", id="name not a string"),
        pytest.param(
            {"key": "b", "conditions": {"attribute": "a", "op": "gt", "value": "x"}},
            "$.conditions.value",
            id="bad condition",
        ),
        pytest.param(
            {"key": "b", "conditions": {"type": "SEGMENT", "segments": ["a"]}},
            "$.conditions.type",
            id="segment inside a segment",
        ),
        pytest.param(
            {"key": "b", "conditions": {"attribute": "t", "op": "after", "value": 10**400}},
            "$.conditions.value",
            id="epoch beyond a double",
        ),
    ],
)
def test_parse_segment__invalid_document__raises_with_path(document: object, path: str) -> None:
    # Given the document above

    # When
    with pytest.raises(RuleValidationError) as raised:
        parse_segment(document)

    # Then
    assert raised.value.path == path


@pytest.mark.parametrize(
    ("kind", "variants", "off", "default", "path"),
    [
        pytest.param("colour", {"a": 1}, "a", "a", "$.kind", id="unknown kind"),
        pytest.param(FlagKind.STRING, ["a"], "a", "a", "$.variants", id="not an object"),
        pytest.param(FlagKind.STRING, {}, "a", "a", "$.variants", id="empty"),
        pytest.param(FlagKind.STRING, {"": "x"}, "", "", "$.variants", id="empty name"),
        pytest.param(
            FlagKind.BOOLEAN,
            {"on": 1, "off": False},
            "off",
            "on",
            "$.variants.on",
            id="boolean given a number",
        ),
        pytest.param(
            FlagKind.NUMBER, {"low": True}, "low", "low", "$.variants.low", id="number given a bool"
        ),
        pytest.param(
            FlagKind.NUMBER,
            {"nan": float("nan")},
            "nan",
            "nan",
            "$.variants.nan",
            id="number given nan",
        ),
        pytest.param(
            FlagKind.NUMBER,
            {"huge": 10**400},
            "huge",
            "huge",
            "$.variants.huge",
            id="number beyond a double",
        ),
        pytest.param(
            FlagKind.STRING, {"a": None}, "a", "a", "$.variants.a", id="string given null"
        ),
        pytest.param(
            FlagKind.JSON, {"a": {"x": (1, 2)}}, "a", "a", "$.variants.a.x", id="json given a tuple"
        ),
        pytest.param(FlagKind.STRING, {"a": "x"}, "b", "a", "$.off_variant", id="unknown off"),
        pytest.param(FlagKind.STRING, {"a": "x"}, "a", None, "$.default_variant", id="no default"),
        pytest.param(FlagKind.STRING, None, None, None, "$.variants", id="string without variants"),
    ],
)
def test_parse_variants__invalid__raises_with_path(
    kind: FlagKind, variants: object, off: object, default: object, path: str
) -> None:
    # Given the arguments above

    # When
    with pytest.raises(RuleValidationError) as raised:
        parse_variants(kind, variants, off, default)

    # Then
    assert raised.value.path == path


def test_parse_variants__boolean_without_variants__gets_seed_pair() -> None:
    # Given nothing but the kind

    # When
    variants, off, default = parse_variants(FlagKind.BOOLEAN, None, None, None)

    # Then
    assert (variants, off, default) == ({"on": True, "off": False}, "off", "on")


@pytest.mark.parametrize(
    ("kind", "variants"),
    [
        (FlagKind.STRING, {"a": "x", "b": ""}),
        (FlagKind.NUMBER, {"a": 1, "b": 2.5, "c": -3}),
        (FlagKind.JSON, {"a": {"x": [1, None, True, {"y": "z"}]}, "b": None, "c": 3}),
        (FlagKind.BOOLEAN, {"yes": True, "no": False}),
    ],
)
def test_parse_variants__valid__returns_them_unchanged(
    kind: FlagKind, variants: dict[str, Any]
) -> None:
    # Given the variants above; the first is off, the last default
    names = list(variants)

    # When
    parsed = parse_variants(kind, variants, names[0], names[-1])

    # Then
    assert parsed == (variants, names[0], names[-1])
