"""Caps on what one rule document or segment may hold, so that no flag costs an
evaluation more than a fraction of a request.

Evaluation walks a flag's rules in order, and each rule its condition leaves, until one
matches: measured here, about 0.2 µs per rule or leaf that does not match (a warm
evaluation request costs about 60 µs in all). Listed users and `in` values are looked up
in sets (constant time), so their caps bound the memory every evaluation process holds
and the time a write takes to parse, not the decision. The caps:

| cap | value | why |
|---|---|---|
| rules per rule document | 200 | all 200 missing: ≈ 40 µs |
| conditions per rule | 50 | leaves of one rule's clause tree |
| conditions per rule document | 500 | all 500 missing: ≈ 100 µs |
| segments named per rule document | 20 | each costs up to its own conditions |
| values per `in` / `not_in` list | 1 000 | a set: memory and parse time only |
| users per `USERS` rule | 10 000 | a set: ≈ 0.5 MB held, 5 ms to parse |
| users per segment (`included` + `excluded`) | 10 000 | the same |
| conditions per segment | 50 | as a rule's |
| prerequisites per rule document | 10 | each is a whole flag decided first |
| prerequisite chain depth | 5 | flags below a flag along its longest chain |
| prerequisite evaluations per decision | 20 | every flag decided to decide one, each time reached |

A flag at every cap costs about 0.2 ms to decide for a user no rule matches (measured:
200 rules, 500 rule conditions, 20 segments of 50 conditions each, all missing). The caps
are checked when a document is written (API, import, promotion), never when a stored
one is read: a document stored before them keeps deciding as it did.
"""

from __future__ import annotations

from collections.abc import Mapping

from functions.core.engine.validation import RuleValidationError, child

MAX_RULES = 200
MAX_CONDITIONS_PER_RULE = 50
MAX_CONDITIONS = 500
MAX_SEGMENTS_NAMED = 20
MAX_LIST_VALUES = 1_000
MAX_USERS = 10_000
MAX_SEGMENT_USERS = 10_000
MAX_SEGMENT_CONDITIONS = 50
MAX_PREREQUISITES = 10
MAX_PREREQUISITE_DEPTH = 5
MAX_PREREQUISITE_EVALUATIONS = 20


class LimitError(RuleValidationError):
    """A document beyond a cap: `limit` names it, `maximum` is its value."""

    def __init__(self, path: str, message: str, *, limit: str, maximum: int) -> None:
        super().__init__(path, message)
        self.limit = limit
        self.maximum = maximum


def check_ruleset(document: object) -> None:
    """Raise LimitError when a rule document exceeds a cap. Only counts: what is not a
    well-formed document is left for the parser to refuse."""
    if not isinstance(document, Mapping) or not isinstance(document.get("rules"), list):
        return
    prerequisites = document.get("prerequisites")
    if isinstance(prerequisites, list) and len(prerequisites) > MAX_PREREQUISITES:
        raise LimitError(
            "$.prerequisites",
            f"lists {len(prerequisites)} flags; a rule document requires at most"
            f" {MAX_PREREQUISITES}",
            limit="prerequisites_per_document",
            maximum=MAX_PREREQUISITES,
        )
    rules = document["rules"]
    if len(rules) > MAX_RULES:
        raise LimitError(
            "$.rules",
            f"holds {len(rules)} rules; a rule document holds at most {MAX_RULES}",
            limit="rules_per_document",
            maximum=MAX_RULES,
        )
    conditions = 0
    segments: set[str] = set()
    for index, rule in enumerate(rules):
        if not isinstance(rule, Mapping):
            continue
        path = f"$.rules[{index}]"
        users = rule.get("users")
        if isinstance(users, list) and len(users) > MAX_USERS:
            raise LimitError(
                child(path, "users"),
                f"lists {len(users)} users; a rule lists at most {MAX_USERS}"
                " (a segment can hold them, with up to as many more in others)",
                limit="users_per_rule",
                maximum=MAX_USERS,
            )
        named = rule.get("segments")
        if isinstance(named, list):
            segments.update(key for key in named if isinstance(key, str))
            if len(segments) > MAX_SEGMENTS_NAMED:
                raise LimitError(
                    child(path, "segments"),
                    f"names more than {MAX_SEGMENTS_NAMED} segments in one rule document",
                    limit="segments_per_document",
                    maximum=MAX_SEGMENTS_NAMED,
                )
        if "conditions" in rule:
            leaves = _count_conditions(
                rule["conditions"],
                child(path, "conditions"),
                MAX_CONDITIONS_PER_RULE,
                limit="conditions_per_rule",
            )
            conditions += leaves
            if conditions > MAX_CONDITIONS:
                raise LimitError(
                    child(path, "conditions"),
                    f"brings the document's conditions past {MAX_CONDITIONS};"
                    f" a rule document holds at most {MAX_CONDITIONS}",
                    limit="conditions_per_document",
                    maximum=MAX_CONDITIONS,
                )


def check_prerequisite_chain(flag: str, depth: int, evaluations: int) -> None:
    """Raise LimitError when the flag's prerequisites reach too deep or too wide (the
    measures of ``prerequisite_graph.measures``, with the document about to be written)."""
    if depth > MAX_PREREQUISITE_DEPTH:
        raise LimitError(
            "$.prerequisites",
            f"would make flag '{flag}' require a chain {depth} flags deep; chains are at"
            f" most {MAX_PREREQUISITE_DEPTH} deep",
            limit="prerequisite_depth",
            maximum=MAX_PREREQUISITE_DEPTH,
        )
    if evaluations > MAX_PREREQUISITE_EVALUATIONS:
        raise LimitError(
            "$.prerequisites",
            f"would make deciding flag '{flag}' decide {evaluations} prerequisites; at most"
            f" {MAX_PREREQUISITE_EVALUATIONS} are allowed",
            limit="prerequisite_evaluations",
            maximum=MAX_PREREQUISITE_EVALUATIONS,
        )


def check_segment(document: object) -> None:
    """Raise LimitError when a segment document exceeds a cap."""
    if not isinstance(document, Mapping):
        return
    users = sum(
        len(listed)
        for listed in (document.get("included"), document.get("excluded"))
        if isinstance(listed, list)
    )
    if users > MAX_SEGMENT_USERS:
        raise LimitError(
            "$.included",
            f"and 'excluded' hold {users} users together; a segment holds at most"
            f" {MAX_SEGMENT_USERS}",
            limit="users_per_segment",
            maximum=MAX_SEGMENT_USERS,
        )
    if "conditions" in document:
        _count_conditions(
            document["conditions"],
            "$.conditions",
            MAX_SEGMENT_CONDITIONS,
            limit="conditions_per_segment",
        )


def _count_conditions(clause: object, path: str, most: int, *, limit: str) -> int:
    """The leaves of a clause tree, refusing more than `most` of them or an `in` list
    longer than MAX_LIST_VALUES (walked without recursion: nesting is the parser's to
    refuse)."""
    leaves = 0
    pending: list[tuple[object, str]] = [(clause, path)]
    while pending:
        node, at = pending.pop()
        if not isinstance(node, Mapping):
            continue
        for group in ("all", "any"):
            items = node.get(group)
            if isinstance(items, list):
                pending.extend((item, child(child(at, group), i)) for i, item in enumerate(items))
        if "not" in node:
            pending.append((node["not"], child(at, "not")))
        if "attribute" in node or "op" in node:
            leaves += 1
            if leaves > most:
                raise LimitError(
                    path,
                    f"holds more than {most} conditions; at most {most} are allowed here",
                    limit=limit,
                    maximum=most,
                )
            values = node.get("value")
            if isinstance(values, list) and len(values) > MAX_LIST_VALUES:
                raise LimitError(
                    child(at, "value"),
                    f"lists {len(values)} values; a condition lists at most {MAX_LIST_VALUES}",
                    limit="values_per_list",
                    maximum=MAX_LIST_VALUES,
                )
    return leaves
