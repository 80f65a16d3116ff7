"""The JSON Schema of the rule document and of a segment's conditions is a faithful
description of the engine's grammar: it accepts every document the engine accepts, and
refuses the structural mistakes (unknown operator, unknown member, wrong type) the
engine refuses. The engine stays the judge of what is written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from functions.core import engine
from functions.core.engine import (
    Grammar,
    RuleValidationError,
    parse_ruleset,
    parse_segment,
    ruleset_to_document,
    segment_to_document,
)
from functions.core.models.rule_documents import RuleDocument, SegmentConditions
from functions.core.models.targeting import CreateRuleRequest, SegmentBody
from tests.unit.core.engine.conftest import COLOURS

DATA = Path(__file__).parents[1] / "engine" / "data"
SEGMENTS = ("beta",)
RULES = jsonschema_rs.validator_for(TypeAdapter(RuleDocument).json_schema())
CONDITIONS = jsonschema_rs.validator_for(TypeAdapter(SegmentConditions).json_schema())

SEMANTIC = {
    "duplicate rule id": "ids unique across rules",
    "unknown segment": "which segments exist",
    "unknown variant": "the flag's variants",
    "split weights not summing to 100": "a sum",
    "split unknown variant": "the flag's variants",
    "split array duplicate variant": "unique variants across split items",
    "invalid regex": "RE2 syntax",
    "regex with lookbehind (not RE2)": "RE2 syntax",
    "semver not a version": "SemVer 2.0 syntax",
    "semver_gte not a version": "SemVer 2.0 syntax",
    "semver_lte capital V": "SemVer 2.0 syntax",
    "before not a timestamp": "ISO-8601 syntax",
    "fallthrough unknown variant": "the flag's variants",
    "variant name in a key needing quotes": "the flag's variants",
    "before epoch beyond a double": "the range of a double",
    "after epoch beyond a double": "the range of a double",
    "gt beyond a double": "the range of a double",
    "lte beyond a double": "the range of a double",
    "eq beyond a double": "the range of a double",
    "in item beyond a double": "the range of a double",
    "split weight beyond a double": "the range of a double",
    "split weights summing beyond a double": "a sum",
    "prerequisite on itself": "the flag's own key",
    "prerequisite repeated": "flags unique across prerequisites",
    "segment clause unknown": "which segments exist",
    "ip_in not a range": "CIDR syntax",
    "ip_in host name": "CIDR syntax",
    "ip_in bits beyond the prefix": "CIDR syntax",
    "not_ip_in zone": "CIDR syntax",
}
"""Refused by the engine for what JSON Schema cannot say (why, for each)."""


def _table(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def _in_rule(clause: dict[str, Any]) -> dict[str, Any]:
    return {"rules": [{"type": "CONDITIONS", "conditions": clause, "serve": {"variant": "blue"}}]}


def _leaf(op: str, value: Any, options: dict[str, bool] | None = None) -> dict[str, Any]:
    return {"attribute": "a", "op": op, "value": value, **(options or {})}


def _data_leaves() -> list[Any]:
    leaves = [
        pytest.param(_leaf(entry["op"], entry["value"], entry.get("options")), id=f"operators-{i}")
        for i, entry in enumerate(_table("operators.json")["operators"])
    ]
    grammar2 = _table("grammar2.json")
    leaves += [
        pytest.param(_leaf(entry["op"], entry["value"], entry.get("options")), id=f"grammar2-{i}")
        for i, entry in enumerate(grammar2["leaves"])
    ]
    for i, entry in enumerate(grammar2["canonical"]):
        for form in ("leaf", "v1", "v2"):
            leaves.append(pytest.param(entry[form], id=f"canonical-{i}-{form}"))
    return leaves


@pytest.mark.parametrize("leaf", _data_leaves())
def test_schema__every_leaf_of_the_engine_tables__valid_in_rules_and_segments(
    leaf: dict[str, Any],
) -> None:
    # Given a leaf the engine's tables decide with, and so accept
    document = _in_rule(leaf)
    parse_ruleset(document, COLOURS, SEGMENTS, grammar=Grammar.V2)

    # When / Then: both schemas take it, as written and in canonical form
    assert RULES.is_valid(document), list(RULES.iter_errors(document))
    assert CONDITIONS.is_valid(leaf)
    for grammar in Grammar:
        canonical = ruleset_to_document(parse_ruleset(document, COLOURS, SEGMENTS, grammar=grammar))
        assert RULES.is_valid(canonical), canonical


@pytest.mark.parametrize(
    "case",
    [pytest.param(case, id=case["name"]) for case in _table("invalid_rulesets.json")["cases"]],
)
def test_schema__each_document_the_engine_refuses__refused_unless_semantic(
    case: dict[str, Any],
) -> None:
    # Given a document the engine refuses (the table's own test proves it)
    document = case["document"]

    # When
    valid = RULES.is_valid(document)

    # Then: structural mistakes are refused by the schema too; the rest need the engine
    assert valid is (case["name"] in SEMANTIC), case["path"]


def test_semantic_cases__each_named__in_the_table() -> None:
    # Given the names of the table's cases
    names = {case["name"] for case in _table("invalid_rulesets.json")["cases"]}

    # Then every exception the schema test allows is a case of the table
    assert set(SEMANTIC) <= names


def test_schema__operators__exactly_the_engines() -> None:
    # Given every operator the schema's leaves name
    schema = TypeAdapter(RuleDocument).json_schema()
    named = {
        op
        for name, definition in schema["$defs"].items()
        if name.endswith("Condition") and "op" in definition.get("properties", {})
        for op in definition["properties"]["op"].get(
            "enum", [definition["properties"]["op"].get("const")]
        )
    }

    # Then they are the engine's, no more, no fewer
    assert named == {operator.value for operator in engine.Operator}


@pytest.mark.parametrize(
    "document",
    [
        pytest.param({"type": "PERCENTAGE", "value": 30}, id="legacy"),
        pytest.param(
            {
                "prerequisites": [{"flag": "new_checkout", "variants": ["on"]}],
                "rules": [
                    {
                        "type": "CONDITIONS",
                        "conditions": {
                            "all": [
                                {"segment": "beta"},
                                {"attribute": "ip", "op": "ip_in", "value": ["10.0.0.0/8"]},
                                {
                                    "not": {
                                        "attribute": "email",
                                        "op": "ends_with",
                                        "value": "@Example.com",
                                        "case_insensitive": True,
                                    }
                                },
                                {
                                    "attribute": "current_time",
                                    "op": "after",
                                    "value": "2030-01-01T00:00:00Z",
                                },
                            ]
                        },
                        "serve": {
                            "split": {"blue": 50, "green": 50},
                            "bucket_by": ["user_id", "session_id"],
                        },
                        "rollout": 50,
                        "bucket_by": "device_id",
                    }
                ],
                "fallthrough": {"variant": "red"},
            },
            id="full",
        ),
    ],
)
def test_schema__documents_of_the_grammar__valid(document: dict[str, Any]) -> None:
    # Given a document the engine accepts (prerequisites are checked by the services)
    parse_ruleset(document, COLOURS, SEGMENTS, grammar=Grammar.V2)

    # Then
    assert RULES.is_valid(document), list(RULES.iter_errors(document))


@pytest.mark.parametrize(
    ("document", "why"),
    [
        (_in_rule(_leaf("like", "x")), "unknown operator"),
        (_in_rule({**_leaf("eq", "x"), "negate": True}), "unknown leaf member"),
        (_in_rule(_leaf("gt", "18")), "gt of a string"),
        (_in_rule(_leaf("ip_in", "10.0.0.0/8")), "ip_in of a string"),
        (_in_rule(_leaf("eq", 1, {"case_insensitive": True})), "case_insensitive on a number"),
        (_in_rule(_leaf("matches", "x", {"numeric_strings": True})), "numeric_strings on matches"),
        ({"rules": [], "prerequisites": [{"flag": "a", "variants": "on"}]}, "variants a string"),
        (
            {
                "rules": [
                    {
                        "type": "USERS",
                        "users": ["u"],
                        "serve": {"variant": "blue"},
                        "bucket_by": "device_id",
                    }
                ]
            },
            "bucket_by without rollout",
        ),
        ({"type": "PERCENTAGE", "value": 30, "rules": []}, "legacy and full at once"),
    ],
)
def test_schema__structural_mistake__refused(document: dict[str, Any], why: str) -> None:
    # Given a document the engine refuses
    with pytest.raises(RuleValidationError):
        parse_ruleset(document, COLOURS, SEGMENTS, grammar=Grammar.V2)

    # Then the schema refuses it too
    assert not RULES.is_valid(document), why


def test_segment_conditions__segment_clause__refused_by_both() -> None:
    # Given conditions naming a segment, which segments cannot do
    conditions = {"any": [{"segment": "beta"}, _leaf("eq", "x")]}

    # When / Then
    with pytest.raises(RuleValidationError):
        parse_segment({"key": "s", "conditions": conditions})
    assert not CONDITIONS.is_valid(conditions)
    assert RULES.is_valid(_in_rule(conditions))


def test_request_bodies__runtime_types__left_to_the_engine() -> None:
    # Given bodies the description refuses but the engine is the one to answer (422 at a path)
    rule = CreateRuleRequest.model_validate(
        {"flag_name": "f", "rules": {"rules": [{"type": "GEO"}]}}
    )
    segment = SegmentBody.model_validate(
        {"conditions": {"attribute": "a", "op": "like", "value": 1}}
    )

    # Then the bodies pass through unchanged
    assert rule.rules == {"rules": [{"type": "GEO"}]}
    assert segment.conditions == {"attribute": "a", "op": "like", "value": 1}


# -- property: whatever the engine accepts, the schema accepts -------------------------

_OPS = [operator.value for operator in engine.Operator]
_SCALARS = st.one_of(st.sampled_from(["pro", "Pro", "", "18"]), st.integers(-5, 200), st.booleans())
_FITTING = {
    "eq": _SCALARS,
    "in": st.lists(st.one_of(_SCALARS, st.just(2.5)), min_size=1, max_size=3),
    "contains": _SCALARS,
    "starts_with": st.sampled_from(["Moz", "https://"]),
    "matches": st.sampled_from(["^a+$", "x"]),
    "gt": st.one_of(st.integers(-5, 200), st.floats(-1e3, 1e3, allow_nan=False)),
    "semver_gt": st.sampled_from(["1.2.3", "v2.0.0-rc.1", "0.0.1+build"]),
    "before": st.sampled_from(["2030-01-01T00:00:00Z", "20240101", 1717200000, 1.5]),
    "ip_in": st.lists(
        st.sampled_from(["10.0.0.0/8", "2001:db8::/32", "192.0.2.7", "::/0"]),
        min_size=1,
        max_size=3,
    ),
}
"""A value of each operator's family (`neq` as `eq`, and so on)."""
_FAMILY = {
    "neq": "eq",
    "not_in": "in",
    "ends_with": "starts_with",
    "gte": "gt",
    "lt": "gt",
    "lte": "gt",
    **{op: "semver_gt" for op in _OPS if op.startswith("semver_")},
    "after": "before",
    "not_ip_in": "ip_in",
}
_ANY_VALUE = st.one_of(
    st.sampled_from(["pro", "", "1.2.3", "10.0.0.0/8", "x" * 300]),
    st.integers(-5, 200),
    st.floats(-1e3, 1e3, allow_nan=False),
    st.booleans(),
    st.none(),
    st.lists(st.sampled_from(["PT", 3, True, "10.0.0.0/8"]), max_size=2),
    st.dictionaries(st.sampled_from(["a", "b"]), st.integers(), max_size=1),
)
_OPTION = st.sampled_from([None] * 6 + [True] * 3 + [False] * 2 + [1])


def _edge(good: list[Any], odd: list[Any]) -> st.SearchStrategy[Any]:
    """Mostly one of `good`, sometimes one of `odd` (the engine may refuse those)."""
    return st.sampled_from(good * 5 * len(odd) + odd)


@st.composite
def _any_leaf(draw: st.DrawFn) -> dict[str, Any]:
    """A leaf near the edges: mostly a value of the operator's family, sometimes any
    value; each option absent, true, false or not a bool."""
    op = draw(st.sampled_from(_OPS))
    fitting = _FITTING[_FAMILY.get(op, op)]
    leaf: dict[str, Any] = {
        "attribute": draw(st.sampled_from(["plan", "current_time", "ip"])),
        "op": op,
        "value": draw(st.integers(0, 4).flatmap(lambda n: fitting if n else _ANY_VALUE)),
    }
    for option in ("case_insensitive", "numeric_strings"):
        chosen = draw(_OPTION)
        if chosen is not None:
            leaf[option] = chosen
    return leaf


_CLAUSES = st.recursive(
    st.one_of(_any_leaf(), _any_leaf(), _edge([{"segment": "beta"}], [{"segment": ""}])),
    lambda inner: st.one_of(
        st.builds(lambda items: {"all": items}, st.lists(inner, max_size=3)),
        st.builds(lambda items: {"any": items}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda item: {"not": item}, inner),
    ),
    max_leaves=6,
)
_BUCKET_BY = _edge(["user_id", ["session_id", "user_id"]], [[], ["a", "a"], "", 3])
_SERVES = st.one_of(
    _edge([{"variant": "blue"}], [{"variant": "purple"}, {"variant": 1}]),
    st.builds(
        lambda split, bucket_by: {"split": split, **bucket_by},
        _edge(
            [
                [{"variant": "blue", "weight": 40}, {"variant": "green", "weight": 60}],
                {"blue": 100},
                {"blue": 100.0, "red": 0},
            ],
            [[], {"blue": 50}],
        ),
        st.one_of(st.just({}), _BUCKET_BY.map(lambda value: {"bucket_by": value})),
    ),
)


@st.composite
def _any_rule(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["PERCENTAGE", "USERS", "CONDITIONS", "SEGMENT"]))
    rule: dict[str, Any] = {"type": kind}
    if kind == "PERCENTAGE":
        rule["value"] = draw(_edge([0, 30, 100, 2.5], [101]))
    elif kind == "USERS":
        rule["users"] = draw(_edge([["u1", "u2"]], [[], ["u1", 2]]))
    elif kind == "CONDITIONS":
        rule["conditions"] = draw(_CLAUSES)
    else:
        rule["segments"] = draw(_edge([["beta"], ["beta", "beta"]], [[]]))
    if kind != "PERCENTAGE" or draw(st.booleans()):
        rule["serve"] = draw(_SERVES)
    for member, values in (
        ("id", _edge(["r1"], ["", 7])),
        ("description", _edge(["why"], [""])),
        ("rollout", _edge([0, 50, 100], [150])),
        ("bucket_by", _BUCKET_BY),
    ):
        if draw(st.booleans()):
            rule[member] = draw(values)
    return rule


@st.composite
def _any_document(draw: st.DrawFn) -> dict[str, Any]:
    document: dict[str, Any] = {"rules": draw(st.lists(_any_rule(), max_size=3))}
    if draw(st.booleans()):
        document["fallthrough"] = draw(_SERVES)
    if draw(st.booleans()):
        document["prerequisites"] = draw(
            _edge(
                [[{"flag": "other", "variants": ["on", "on"]}], []],
                [[{"flag": "other", "variants": []}]],
            )
        )
    return document


@given(document=_any_document(), grammar=st.sampled_from(list(Grammar)))
@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_schema__any_document_the_engine_accepts__valid(
    document: dict[str, Any], grammar: Grammar
) -> None:
    # Given a document, near the grammar's edges, that the engine accepts
    try:
        ruleset = parse_ruleset(document, COLOURS, SEGMENTS, grammar=grammar)
    except RuleValidationError:
        assume(False)
        return

    # Then the schema accepts it, and its canonical form
    assert RULES.is_valid(document), list(RULES.iter_errors(document))
    assert RULES.is_valid(ruleset_to_document(ruleset))


@given(conditions=_CLAUSES, grammar=st.sampled_from(list(Grammar)))
@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_segment_conditions__any_the_engine_accepts__valid(
    conditions: dict[str, Any], grammar: Grammar
) -> None:
    # Given segment conditions the engine accepts
    try:
        segment = parse_segment({"key": "s", "conditions": conditions}, grammar=grammar)
    except RuleValidationError:
        assume(False)
        return

    # Then the schema accepts them, and their canonical form
    assert CONDITIONS.is_valid(conditions), list(CONDITIONS.iter_errors(conditions))
    canonical = segment_to_document(segment)["conditions"]
    assert CONDITIONS.is_valid(canonical)
