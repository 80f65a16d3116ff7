"""Boolean condition trees: ``all``, ``any``, ``not`` and attribute leaves.

A clause document is one of::

    {"all": [clause, ...]}      every clause matches (non-empty)
    {"any": [clause, ...]}      at least one matches (non-empty)
    {"not": clause}             the clause does not match
    {"attribute": "country", "op": "in", "value": ["PT", "BR"]}

A leaf reads one context key. A missing attribute, or one whose value is ``null``,
never matches any operator -- ``neq`` and ``not_in`` included, because "not equal to
pro" should not select users about whom nothing is known. Wrap the leaf in ``not`` to
say "everyone except those who are pro" instead: ``not`` negates the leaf's answer,
so it does match a missing attribute.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeAlias

from tests.unit.core.engine.frozen.model import JSONValue
from tests.unit.core.engine.frozen.operators import (
    ConditionValue,
    Operator,
    Predicate,
    compile_operator,
    values_to_document,
)
from tests.unit.core.engine.frozen.validation import (
    RuleValidationError,
    child,
    expect_list,
    expect_object,
    expect_string,
)

Context: TypeAlias = Mapping[str, object]
MAX_DEPTH = 32


@dataclass(frozen=True, slots=True)
class Condition:
    """A leaf; ``test`` is the predicate compiled from ``op`` and ``value`` at parse time."""

    attribute: str
    op: Operator
    value: ConditionValue
    test: Predicate = field(compare=False, repr=False)

    def matches(self, context: Context) -> bool:
        actual = context.get(self.attribute)
        return actual is not None and self.test(actual)


@dataclass(frozen=True, slots=True)
class AllOf:
    clauses: tuple[Clause, ...]

    def matches(self, context: Context) -> bool:
        for clause in self.clauses:  # noqa: SIM110 -- a loop beats all() + generator here
            if not clause.matches(context):
                return False
        return True


@dataclass(frozen=True, slots=True)
class AnyOf:
    clauses: tuple[Clause, ...]

    def matches(self, context: Context) -> bool:
        for clause in self.clauses:  # noqa: SIM110 -- a loop beats any() + generator here
            if clause.matches(context):
                return True
        return False


@dataclass(frozen=True, slots=True)
class Not:
    clause: Clause

    def matches(self, context: Context) -> bool:
        return not self.clause.matches(context)


Clause: TypeAlias = Condition | AllOf | AnyOf | Not


def condition(attribute: str, op: str, value: object) -> Condition:
    """Build a leaf in code, compiling it as parse would (raises RuleValidationError)."""
    normalised, test = compile_operator(op, value, "$")
    return Condition(attribute, Operator(op), normalised, test)


def parse_clause(document: object, path: str, depth: int = 0) -> Clause:
    """Parse and compile one clause document; refuses anything it does not understand."""
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
            parse_clause(item, child(items_path, index), depth + 1)
            for index, item in enumerate(items)
        )
        return AllOf(clauses) if name == "all" else AnyOf(clauses)
    if "not" in document:
        members = expect_object(document, path, required=("not",))
        return Not(parse_clause(members["not"], child(path, "not"), depth + 1))
    members = expect_object(document, path, required=("attribute", "op", "value"))
    attribute = expect_string(members["attribute"], child(path, "attribute"), max_length=200)
    op = members["op"]
    if not isinstance(op, str):
        raise RuleValidationError(child(path, "op"), "must be a string")
    normalised, test = compile_operator(op, members["value"], path)
    return Condition(attribute, Operator(op), normalised, test)


def clause_to_document(clause: Clause) -> dict[str, JSONValue]:
    """The canonical document of a clause; ``parse_clause`` of it gives an equal clause."""
    match clause:
        case Condition():
            value = values_to_document(clause.value)
            stored: JSONValue = list(value) if isinstance(value, list) else value
            return {"attribute": clause.attribute, "op": clause.op.value, "value": stored}
        case AllOf():
            return {"all": [clause_to_document(item) for item in clause.clauses]}
        case AnyOf():
            return {"any": [clause_to_document(item) for item in clause.clauses]}
        case Not():
            return {"not": clause_to_document(clause.clause)}
