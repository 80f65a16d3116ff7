"""Boolean condition trees: ``all``, ``any``, ``not``, segment membership and attribute leaves.

A clause document is one of::

    {"all": [clause, ...]}      every clause matches (non-empty)
    {"any": [clause, ...]}      at least one matches (non-empty)
    {"not": clause}             the clause does not match
    {"segment": "beta-testers"} the context is in the segment (rules only, not segments)
    {"attribute": "country", "op": "in", "value": ["PT", "BR"]}
    {"attribute": "email", "op": "ends_with", "value": "@example.com",
     "case_insensitive": true}
    {"attribute": "age", "op": "gte", "value": 18, "numeric_strings": true}

A leaf reads one context key. A missing attribute, or one whose value is ``null``,
never matches any operator -- ``neq`` and ``not_in`` included, because "not equal to
pro" should not select users about whom nothing is known. Wrap the leaf in ``not`` to
say "everyone except those who are pro" instead: ``not`` negates the leaf's answer,
so it does match a missing attribute.

One attribute is special: ``current_time`` under ``before`` or ``after`` is the moment
of the evaluation when the context does not give it (a context that does give it -- to
ask "what will this flag say on 1 May?" -- is compared as given), so a rule can switch
on or off at a date without a scheduler.

A segment clause names a segment that must exist when the rule is written (like a
``SEGMENT`` rule); one deleted since is simply not matched. Segments cannot name
segments: their own conditions refuse the segment clause.

The leaf options (``case_insensitive``, ``numeric_strings``) are described in
``operators``. A clause is parsed in the grammar of the document holding it (see
``grammar``): in grammar 1 an option is off unless written, and written back only when
true, so an earlier document's canonical form is unchanged; in grammar 2
``numeric_strings`` is on wherever it applies unless written ``false``, and written
back only when it is ``false`` there.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, TypeAlias

from functions.core.engine.grammar import Grammar
from functions.core.engine.model import JSONValue
from functions.core.engine.operators import (
    PLAIN,
    ConditionValue,
    LeafOptions,
    Operator,
    compile_operator,
    numeric_strings_apply,
    values_to_document,
)
from functions.core.engine.validation import (
    RuleValidationError,
    child,
    expect_list,
    expect_object,
    expect_string,
)
from functions.core.engine.values import Predicate

if TYPE_CHECKING:
    from functions.core.engine.rules import Segment

Context: TypeAlias = Mapping[str, object]
Segments: TypeAlias = Mapping[str, "Segment"]
MAX_DEPTH = 32
CURRENT_TIME = "current_time"
NO_SEGMENTS: Segments = MappingProxyType({})
_LEAF_MEMBERS = ("attribute", "op", "value")
_LEAF_OPTIONS = ("case_insensitive", "numeric_strings")


@dataclass(frozen=True, slots=True)
class Condition:
    """A leaf; ``test`` is the predicate compiled from ``op`` and ``value`` at parse time."""

    attribute: str
    op: Operator
    value: ConditionValue
    test: Predicate = field(compare=False, repr=False)
    options: LeafOptions = PLAIN

    def matches(self, context: Context, segments: Segments = NO_SEGMENTS) -> bool:
        actual = context.get(self.attribute)
        return actual is not None and self.test(actual)


@dataclass(frozen=True, slots=True)
class ClockCondition:
    """``before``/``after`` on ``current_time``: the evaluation time unless the context
    gives one."""

    op: Operator
    value: ConditionValue
    test: Predicate = field(compare=False, repr=False)

    def matches(self, context: Context, segments: Segments = NO_SEGMENTS) -> bool:
        actual = context.get(CURRENT_TIME)
        return self.test(time.time() if actual is None else actual)


@dataclass(frozen=True, slots=True)
class InSegment:
    """The context is in the named segment (one absent from ``segments`` never matches)."""

    key: str

    def matches(self, context: Context, segments: Segments = NO_SEGMENTS) -> bool:
        segment = segments.get(self.key)
        return segment is not None and segment.contains(context)


@dataclass(frozen=True, slots=True)
class AllOf:
    clauses: tuple[Clause, ...]

    def matches(self, context: Context, segments: Segments = NO_SEGMENTS) -> bool:
        for clause in self.clauses:  # noqa: SIM110 -- a loop beats all() + generator here
            if not clause.matches(context, segments):
                return False
        return True


@dataclass(frozen=True, slots=True)
class AnyOf:
    clauses: tuple[Clause, ...]

    def matches(self, context: Context, segments: Segments = NO_SEGMENTS) -> bool:
        for clause in self.clauses:  # noqa: SIM110 -- a loop beats any() + generator here
            if clause.matches(context, segments):
                return True
        return False


@dataclass(frozen=True, slots=True)
class Not:
    clause: Clause

    def matches(self, context: Context, segments: Segments = NO_SEGMENTS) -> bool:
        return not self.clause.matches(context, segments)


Clause: TypeAlias = Condition | ClockCondition | InSegment | AllOf | AnyOf | Not


def condition(attribute: str, op: str, value: object, **options: bool) -> Condition:
    """Build a leaf in code, compiling it as parse would (raises RuleValidationError)."""
    leaf_options = LeafOptions(**options)
    normalised, test = compile_operator(op, value, "$", leaf_options)
    return Condition(attribute, Operator(op), normalised, test, leaf_options)


def parse_clause(
    document: object,
    path: str,
    depth: int = 0,
    *,
    segment_keys: Collection[str] | None = None,
    grammar: Grammar = Grammar.V1,
) -> Clause:
    """Parse and compile one clause document; refuses anything it does not understand.

    ``segment_keys``: the segments a segment clause may name; None refuses segment
    clauses (a segment's own conditions). ``grammar``: that of the document holding it.
    """
    if depth > MAX_DEPTH:
        raise RuleValidationError(path, f"nests deeper than {MAX_DEPTH} levels")
    if not isinstance(document, Mapping):
        raise RuleValidationError(path, "must be an object")
    if "all" in document or "any" in document:
        name = "all" if "all" in document else "any"
        members = expect_object(document, path, required=(name,))
        items_path = child(path, name)
        items = expect_list(members[name], items_path, non_empty=True)
        clauses = tuple(
            parse_clause(
                item,
                child(items_path, index),
                depth + 1,
                segment_keys=segment_keys,
                grammar=grammar,
            )
            for index, item in enumerate(items)
        )
        return AllOf(clauses) if name == "all" else AnyOf(clauses)
    if "not" in document:
        members = expect_object(document, path, required=("not",))
        return Not(
            parse_clause(
                members["not"],
                child(path, "not"),
                depth + 1,
                segment_keys=segment_keys,
                grammar=grammar,
            )
        )
    if "segment" in document:
        return _parse_segment_clause(document, path, segment_keys)
    members = expect_object(document, path, required=_LEAF_MEMBERS, optional=_LEAF_OPTIONS)
    attribute = expect_string(members["attribute"], child(path, "attribute"), max_length=200)
    op = members["op"]
    if not isinstance(op, str):
        raise RuleValidationError(child(path, "op"), "must be a string")
    numeric_strings = _option(members, "numeric_strings", path)
    if (
        grammar is not Grammar.V1
        and "numeric_strings" not in members
        and not _option(members, "case_insensitive", path)
    ):
        numeric_strings = numeric_strings_apply(op, members["value"])
    options = LeafOptions(
        case_insensitive=_option(members, "case_insensitive", path),
        numeric_strings=numeric_strings,
    )
    normalised, test = compile_operator(op, members["value"], path, options)
    operator = Operator(op)
    if (
        attribute == CURRENT_TIME
        and operator in (Operator.BEFORE, Operator.AFTER)
        and grammar is not Grammar.V1
    ):
        return ClockCondition(operator, normalised, test)
    return Condition(attribute, operator, normalised, test, options)


def _parse_segment_clause(
    document: Mapping[str, object], path: str, segment_keys: Collection[str] | None
) -> InSegment:
    members = expect_object(document, path, required=("segment",))
    key_path = child(path, "segment")
    if segment_keys is None:
        raise RuleValidationError(key_path, "segments cannot name segments")
    key = expect_string(members["segment"], key_path, max_length=200)
    if key not in segment_keys:
        raise RuleValidationError(key_path, f"unknown segment '{key}'")
    return InSegment(key)


def _option(members: Mapping[str, object], name: str, path: str) -> bool:
    value = members.get(name, False)
    if not isinstance(value, bool):
        raise RuleValidationError(child(path, name), "must be true or false")
    return value


def clause_to_document(clause: Clause, grammar: Grammar = Grammar.V1) -> dict[str, JSONValue]:
    """The canonical document of a clause; ``parse_clause`` of it (in the same grammar)
    gives an equal clause. Options are written where they differ from the grammar's
    default."""
    match clause:
        case Condition():
            document = _leaf_document(clause.attribute, clause.op, clause.value)
            if clause.options.case_insensitive:
                document["case_insensitive"] = True
            if grammar is Grammar.V1:
                if clause.options.numeric_strings:
                    document["numeric_strings"] = True
            elif not clause.options.numeric_strings and numeric_strings_apply(
                clause.op, clause.value
            ):
                document["numeric_strings"] = False
            return document
        case ClockCondition():
            return _leaf_document(CURRENT_TIME, clause.op, clause.value)
        case InSegment():
            return {"segment": clause.key}
        case AllOf():
            return {"all": [clause_to_document(item, grammar) for item in clause.clauses]}
        case AnyOf():
            return {"any": [clause_to_document(item, grammar) for item in clause.clauses]}
        case Not():
            return {"not": clause_to_document(clause.clause, grammar)}


def _leaf_document(attribute: str, op: Operator, value: ConditionValue) -> dict[str, JSONValue]:
    stored = values_to_document(value)
    return {
        "attribute": attribute,
        "op": op.value,
        "value": list(stored) if isinstance(stored, list) else stored,
    }


def named_segments(clause: Clause) -> list[str]:
    """The segment keys a clause tree names, in order of appearance."""
    match clause:
        case InSegment():
            return [clause.key]
        case AllOf() | AnyOf():
            return [key for item in clause.clauses for key in named_segments(item)]
        case Not():
            return named_segments(clause.clause)
        case _:
            return []
