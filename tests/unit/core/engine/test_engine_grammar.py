"""Grammar versions: the same document decided in grammar 1 (every document stored before
grammars) and grammar 2 (every document written now), table-driven from
data/grammar2.json, plus ``bucket_by`` with nothing to bucket by and segments."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from functions.core.engine import (
    FlagDefinition,
    Grammar,
    Reason,
    evaluate,
    parse_ruleset,
    parse_segment,
    ruleset_to_document,
    segment_to_document,
)
from functions.core.engine.validation import RuleValidationError

_TABLE: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "grammar2.json").read_text(encoding="utf-8")
)
_SPLIT = {"split": [{"variant": "blue", "weight": 50}, {"variant": "green", "weight": 50}]}


def _leaf_cases() -> Iterator[Any]:
    for entry in _TABLE["leaves"]:
        options = entry.get("options", {})
        for number, case in enumerate(entry["cases"]):
            for grammar in Grammar:
                label = (
                    f"v{grammar.value}-{entry['op']}-{json.dumps(options)}-"
                    f"{json.dumps(entry['value'])}-{number}"
                )
                expected = case[f"v{grammar.value}"]
                yield pytest.param(entry, case, grammar, expected, id=label)


def _one_leaf(leaf: dict[str, Any]) -> dict[str, Any]:
    return {
        "rules": [{"type": "CONDITIONS", "conditions": leaf, "serve": {"variant": "on"}}],
        "fallthrough": {"variant": "off"},
    }


@pytest.mark.parametrize(("entry", "case", "grammar", "expected"), list(_leaf_cases()))
def test_leaf__table_case__matches_as_its_grammar_says(
    seed_flag: FlagDefinition,
    entry: dict[str, Any],
    case: dict[str, Any],
    grammar: Grammar,
    expected: bool,
) -> None:
    # Given the leaf alone in a rule, parsed in the grammar
    leaf = {"attribute": "attr", "op": entry["op"], "value": entry["value"]}
    ruleset = parse_ruleset(
        _one_leaf({**leaf, **entry.get("options", {})}), seed_flag, (), grammar=grammar
    )
    context: dict[str, object] = {"user_id": "u1"}
    if not case.get("missing"):
        context["attr"] = case["actual"]

    # When
    resolution = evaluate(seed_flag, True, ruleset, context)

    # Then
    assert (resolution.variant == "on") is expected, case.get("why")


@pytest.mark.parametrize(
    "row", _TABLE["canonical"], ids=[json.dumps(row["leaf"]) for row in _TABLE["canonical"]]
)
@pytest.mark.parametrize("grammar", list(Grammar))
def test_canonical_form__leaf_options__written_where_they_differ_from_the_grammar(
    seed_flag: FlagDefinition, row: dict[str, Any], grammar: Grammar
) -> None:
    # Given a leaf parsed in the grammar
    ruleset = parse_ruleset(_one_leaf(row["leaf"]), seed_flag, (), grammar=grammar)

    # When it is written back, and read again in the same grammar
    document: Any = ruleset_to_document(ruleset)
    again = parse_ruleset(json.loads(json.dumps(document)), seed_flag, (), grammar=grammar)

    # Then the leaf is the grammar's canonical one, a fixed point, and the same ruleset
    assert document["rules"][0]["conditions"] == row[f"v{grammar.value}"]
    assert ruleset_to_document(again) == document
    assert again == ruleset
    assert again.grammar is grammar


def test_numeric_strings_true__where_it_means_nothing__refused_in_both_grammars(
    seed_flag: FlagDefinition,
) -> None:
    # Given the option written on an operator it does not apply to
    leaf = {"attribute": "a", "op": "in", "value": [1], "numeric_strings": True}

    # When / Then each grammar refuses it, naming the option
    for grammar in Grammar:
        with pytest.raises(RuleValidationError) as caught:
            parse_ruleset(_one_leaf(leaf), seed_flag, (), grammar=grammar)
        assert caught.value.path == "$.rules[0].conditions.numeric_strings"


def _users_split(bucket_by: object, *, rollout: bool = False) -> dict[str, Any]:
    rule: dict[str, Any] = {"type": "USERS", "users": ["u1"], "serve": {**_SPLIT}}
    if rollout:
        rule.update(rollout=50, bucket_by=bucket_by)
    else:
        rule["serve"]["bucket_by"] = bucket_by
    return {"rules": [rule], "fallthrough": {"variant": "red"}}


@pytest.mark.parametrize("bucket_by", ["session_id", ["session_id"]])
def test_rule_split__bucket_by_absent__grammar_2_skips_the_rule(
    colours: FlagDefinition, bucket_by: object
) -> None:
    # Given a rule split by an attribute the context lacks, in either form
    ruleset = parse_ruleset(_users_split(bucket_by), colours, (), grammar=Grammar.V2)

    # When
    resolution = evaluate(colours, True, ruleset, {"user_id": "u1"})

    # Then the rule does not apply: the next (the fallthrough) decides, no error
    assert (resolution.variant, resolution.reason) == ("red", Reason.DEFAULT)


def test_rule_split__string_bucket_by_absent__grammar_1_errors_as_before(
    colours: FlagDefinition,
) -> None:
    # Given the same rule stored before grammars
    ruleset = parse_ruleset(_users_split("session_id"), colours, (), grammar=Grammar.V1)

    # When
    resolution = evaluate(colours, True, ruleset, {"user_id": "u1"})

    # Then
    assert (resolution.reason, resolution.error_code) == (Reason.ERROR, "TARGETING_KEY_MISSING")


@pytest.mark.parametrize("grammar", list(Grammar))
@pytest.mark.parametrize("bucket_by", ["session_id", ["session_id"]])
def test_rollout__bucket_by_absent__rule_skipped_in_both_grammars(
    colours: FlagDefinition, grammar: Grammar, bucket_by: object
) -> None:
    # Given a rule whose rollout is sticky by an attribute the context lacks
    ruleset = parse_ruleset(_users_split(bucket_by, rollout=True), colours, (), grammar=grammar)

    # When
    resolution = evaluate(colours, True, ruleset, {"user_id": "u1"})

    # Then
    assert (resolution.variant, resolution.reason) == ("red", Reason.DEFAULT)


@pytest.mark.parametrize("bucket_by", ["session_id", ["session_id"]])
def test_fallthrough_split__bucket_by_absent__grammar_2_still_errors(
    colours: FlagDefinition, bucket_by: object
) -> None:
    # Given nothing follows the fallthrough
    document = {"rules": [], "fallthrough": {**_SPLIT, "bucket_by": bucket_by}}
    ruleset = parse_ruleset(document, colours, (), grammar=Grammar.V2)

    # When
    resolution = evaluate(colours, True, ruleset, {"user_id": "u1"})

    # Then
    assert (resolution.reason, resolution.error_code) == (Reason.ERROR, "TARGETING_KEY_MISSING")


def test_rule_split__bucket_by_present__grammar_2_serves_the_split(
    colours: FlagDefinition,
) -> None:
    # Given the same rule, and a context that has the attribute
    ruleset = parse_ruleset(_users_split("session_id"), colours, (), grammar=Grammar.V2)

    # When
    resolution = evaluate(colours, True, ruleset, {"user_id": "u1", "session_id": "s"})

    # Then the rule serves its split
    assert resolution.reason is Reason.SPLIT
    assert resolution.variant in ("blue", "green")


@pytest.mark.parametrize(("grammar", "expected"), [(Grammar.V1, "red"), (Grammar.V2, "blue")])
def test_segment__conditions_in_its_own_grammar(
    colours: FlagDefinition, grammar: Grammar, expected: str
) -> None:
    # Given a segment of adults, stored in a grammar, named by a grammar-2 rule
    segment = parse_segment(
        {"key": "adults", "conditions": {"attribute": "age", "op": "gte", "value": 18}},
        grammar=grammar,
    )
    document = {
        "rules": [{"type": "SEGMENT", "segments": ["adults"], "serve": {"variant": "blue"}}],
        "fallthrough": {"variant": "red"},
    }
    ruleset = parse_ruleset(document, colours, {"adults"}, grammar=Grammar.V2)

    # When the age comes as a string
    resolution = evaluate(
        colours, True, ruleset, {"user_id": "u", "age": "30"}, {"adults": segment}
    )

    # Then the segment decides in its own grammar, whatever the rule's
    assert resolution.variant == expected
    assert segment.grammar is grammar
    assert parse_segment(segment_to_document(segment), grammar=grammar) == segment
