"""Every document valid before part two of targeting decides exactly as it did: the engine
in grammar 1 (the grammar of every stored document, see ``engine.grammar``) against its
frozen copy (tests/unit/core/engine/frozen, the engine of commit 044c864), over generated
documents, segments and contexts.

Contexts deliberately hold what the new grammar reads differently when asked to --
numeric strings, addresses, mixed case, a missing bucketing attribute, no
``current_time`` -- because an earlier document never asks: there is no exception.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.core import engine
from functions.core.engine import clauses as new_clauses
from tests.unit.core.engine import frozen

_VARIANTS = {"v0": "zero", "v1": "one", "v2": "two"}
_NEW_FLAG = engine.FlagDefinition("eq-flag", engine.FlagKind.STRING, _VARIANTS, "v0", "v1")
_OLD_FLAG = frozen.FlagDefinition("eq-flag", frozen.FlagKind.STRING, _VARIANTS, "v0", "v1")
_SEGMENT_KEYS = ("beta", "gamma")
_NOW = 1_750_000_000.0
_ATTRIBUTES = ("plan", "age", "country", "v", "when", "current_time", "email", "ip", "tags")
_TEXT = st.sampled_from(["pro", "Pro", "PRO", "PT", "pt", "18", "3.5", "-2", "007", "a@x.com"])
_NUMBERS = (
    st.integers(-100, 100) | st.floats(-100, 100, allow_nan=False) | st.sampled_from([18, 3.5])
)
_SCALARS = _TEXT | _NUMBERS | st.booleans()
_VERSIONS = st.sampled_from(["1.2.3", "v1.2.3", "2.0.0-rc.1", "1.10.0", "0.0.1+build"])
_INSTANTS = st.sampled_from(
    ["2024-06-01T00:00:00Z", "2030-01-01T00:00:00+02:00", 1_700_000_000, 1_800_000_000.5]
)


@st.composite
def _leaf(draw: st.DrawFn) -> dict[str, Any]:
    op = draw(st.sampled_from([operator.value for operator in frozen.Operator]))
    value: Any
    if op in ("eq", "neq", "contains"):
        value = draw(_SCALARS)
    elif op in ("in", "not_in"):
        value = draw(st.lists(_SCALARS, min_size=1, max_size=4))
    elif op in ("starts_with", "ends_with"):
        value = draw(st.sampled_from(["p", "P", "1", "a@", ".com"]))
    elif op == "matches":
        value = draw(st.sampled_from(["^p", "(?i)pro", "[0-9]+", "@x\\.com$"]))
    elif op in ("gt", "gte", "lt", "lte"):
        value = draw(_NUMBERS)
    elif op.startswith("semver"):
        value = draw(_VERSIONS)
    else:
        value = draw(_INSTANTS)
    return {"attribute": draw(st.sampled_from(_ATTRIBUTES)), "op": op, "value": value}


def _clauses(leaf: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.recursive(
        leaf,
        lambda children: (
            st.builds(lambda items: {"all": items}, st.lists(children, min_size=1, max_size=3))
            | st.builds(lambda items: {"any": items}, st.lists(children, min_size=1, max_size=3))
            | st.builds(lambda item: {"not": item}, children)
        ),
        max_leaves=6,
    )


_BUCKET_BY = st.sampled_from(["user_id", "session_id", "plan"])


@st.composite
def _serve(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):
        return {"variant": draw(st.sampled_from(list(_VARIANTS)))}
    names = draw(st.lists(st.sampled_from(list(_VARIANTS)), min_size=1, max_size=3, unique=True))
    cuts = sorted(
        draw(st.lists(st.integers(0, 100), min_size=len(names) - 1, max_size=len(names) - 1))
    )
    edges = [0, *cuts, 100]
    split = [{"variant": n, "weight": edges[i + 1] - edges[i]} for i, n in enumerate(names)]
    serve: dict[str, Any] = {"split": split}
    if draw(st.booleans()):
        serve["bucket_by"] = draw(_BUCKET_BY)
    return serve


@st.composite
def _rule(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["PERCENTAGE", "USERS", "CONDITIONS", "SEGMENT"]))
    rule: dict[str, Any] = {"type": kind}
    if kind == "PERCENTAGE":
        rule["value"] = draw(st.integers(0, 100) | st.floats(0, 100))
    elif kind == "USERS":
        rule["users"] = draw(st.lists(st.sampled_from(["u1", "u2", "7"]), min_size=1, max_size=3))
    elif kind == "CONDITIONS":
        rule["conditions"] = draw(_clauses(_leaf()))
    else:
        rule["segments"] = draw(st.lists(st.sampled_from(_SEGMENT_KEYS), min_size=1, max_size=2))
    if kind != "PERCENTAGE" or draw(st.booleans()):
        rule["serve"] = draw(_serve())
    if draw(st.booleans()):
        rule["rollout"] = draw(st.integers(0, 100) | st.floats(0, 100))
    if draw(st.booleans()):
        rule["id"] = draw(st.sampled_from(["r1", "r2", "r3"]))
    return rule


@st.composite
def _document(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.integers(0, 9)) == 0:
        return {"type": "PERCENTAGE", "value": draw(st.integers(0, 100) | st.floats(0, 100))}
    rules = draw(st.lists(_rule(), max_size=5))
    ids = [rule.get("id") for rule in rules if "id" in rule]
    if len(ids) != len(set(ids)):
        for index, rule in enumerate(rules):
            rule.pop("id", None) if index % 2 else None
        seen: set[str] = set()
        for rule in rules:
            if rule.get("id") in seen:
                del rule["id"]
            elif "id" in rule:
                seen.add(rule["id"])
    document: dict[str, Any] = {"rules": rules}
    if draw(st.booleans()):
        document["fallthrough"] = draw(_serve())
    return document


@st.composite
def _segment(draw: st.DrawFn, key: str) -> dict[str, Any]:
    segment: dict[str, Any] = {
        "key": key,
        "included": draw(st.lists(st.sampled_from(["u1", "u2", "7"]), max_size=2)),
        "excluded": draw(st.lists(st.sampled_from(["u1", "u3"]), max_size=2)),
    }
    if draw(st.booleans()):
        segment["conditions"] = draw(_clauses(_leaf()))
    return segment


_VALUES = (
    _SCALARS
    | _VERSIONS
    | _INSTANTS
    | st.sampled_from(["10.0.0.1", "::1", "", "1e3", " 18", "Infinity"])
    | st.none()
    | st.lists(_SCALARS, max_size=3)
)
_CONTEXTS = st.dictionaries(
    st.sampled_from([*_ATTRIBUTES, "user_id", "session_id"]), _VALUES, max_size=8
)


class _FrozenClock:
    """`time` as the new engine's clauses module sees it, stopped at _NOW."""

    @staticmethod
    def time() -> float:
        return _NOW


def _fields(resolution: Any) -> tuple[Any, ...]:
    return (
        resolution.value,
        resolution.variant,
        str(resolution.reason),
        resolution.rule_index,
        resolution.rule_id,
        resolution.error_code,
        resolution.error_message,
    )


@settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    document=_document(),
    beta=_segment("beta"),
    gamma=_segment("gamma"),
    contexts=st.lists(_CONTEXTS, min_size=1, max_size=6),
    enabled=st.booleans(),
)
def test_engine__document_valid_before__same_canonical_form_and_decisions(
    document: dict[str, Any],
    beta: dict[str, Any],
    gamma: dict[str, Any],
    contexts: list[dict[str, Any]],
    enabled: bool,
) -> None:
    # Given a document and segments the frozen engine accepts, parsed by both engines
    old_ruleset = frozen.parse_ruleset(document, _OLD_FLAG, _SEGMENT_KEYS)
    new_ruleset = engine.parse_ruleset(
        document, _NEW_FLAG, _SEGMENT_KEYS, grammar=engine.Grammar.V1
    )
    old_segments = {doc["key"]: frozen.parse_segment(doc) for doc in (beta, gamma)}
    new_segments = {
        doc["key"]: engine.parse_segment(doc, grammar=engine.Grammar.V1) for doc in (beta, gamma)
    }
    # When / Then the canonical forms are the same documents
    assert engine.ruleset_to_document(new_ruleset) == frozen.ruleset_to_document(old_ruleset)
    for doc in (beta, gamma):
        key = doc["key"]
        assert engine.segment_to_document(new_segments[key]) == frozen.segment_to_document(
            old_segments[key]
        )

    # and every context is decided alike, with or without current_time
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(new_clauses, "time", _FrozenClock)
        for context in contexts:
            old = frozen.evaluate(_OLD_FLAG, enabled, old_ruleset, context, old_segments)
            new = engine.evaluate(_NEW_FLAG, enabled, new_ruleset, context, new_segments)
            assert _fields(new) == _fields(old), (document, context)
            assert new.prerequisite is None


def test_engine__current_time_absent__grammar_1_as_before_grammar_2_the_evaluation_time() -> None:
    # Given a switch after a date long past, on current_time
    document = {
        "rules": [
            {
                "type": "CONDITIONS",
                "conditions": {"attribute": "current_time", "op": "after", "value": 0},
                "serve": {"variant": "v2"},
            }
        ]
    }
    old_ruleset = frozen.parse_ruleset(document, _OLD_FLAG, ())
    stored = engine.parse_ruleset(document, _NEW_FLAG, (), grammar=engine.Grammar.V1)
    written = engine.parse_ruleset(document, _NEW_FLAG, (), grammar=engine.Grammar.V2)

    # When no context gives current_time
    old = frozen.evaluate(_OLD_FLAG, True, old_ruleset, {"user_id": "u"})
    as_stored = engine.evaluate(_NEW_FLAG, True, stored, {"user_id": "u"})
    as_written = engine.evaluate(_NEW_FLAG, True, written, {"user_id": "u"})

    # Then a stored document reads a missing attribute, as the frozen engine did; one
    # written now compares the evaluation time
    assert (old.variant, as_stored.variant, as_written.variant) == ("v1", "v1", "v2")
