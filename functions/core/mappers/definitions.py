"""Stored documents -- flag definitions, rule documents, segments -- to engine objects and
back to their canonical form, whichever way they arrive (the API, an import, a
promotion), so nothing evaluation cannot run is ever written.

Every refusal is a 422 whose `field` is the JSON path at fault in the caller's body:
the engine's path (`$.rules[2].serve.variant`) re-rooted under `path` (`$.rules`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from functions.core import engine
from functions.core.engine import limits
from functions.core.errors import LimitExceeded, Unprocessable

_DEFINITION_FIELDS = ("type", "variants", "off_variant", "default_variant")


def _refusal(what: str, exc: engine.RuleValidationError, path: str) -> Unprocessable:
    """422 naming the field in the message too ("invalid rules: 'rules.rules[0].type' is
    required"), not only in `field`."""
    field = exc.path.replace("$", path, 1)
    subject = field.removeprefix("$.") if field != "$" else "the document"
    if isinstance(exc, limits.LimitError):
        return LimitExceeded(
            f"{what} over a limit: '{subject}' {exc.message} (limit {exc.limit})",
            field=field,
            limit=exc.limit,
            maximum=exc.maximum,
        )
    return Unprocessable(f"invalid {what}: '{subject}' {exc.message}", field=field)


def flag_definition(
    *,
    name: str,
    fields: Mapping[str, Any],
    given: Collection[str] | None = None,
    path: str = "$",
) -> engine.FlagDefinition:
    """A flag's definition from its row or request fields (absent ones: the seed's boolean).

    `given` names the fields the request sent; an error in a field it did not send
    (the stored variants do not fit a new type) is blamed on the first one it did.
    """
    kind = fields.get("type") or engine.FlagKind.BOOLEAN
    try:
        variants, off, default = engine.parse_variants(
            kind, fields.get("variants"), fields.get("off_variant"), fields.get("default_variant")
        )
    except engine.RuleValidationError as exc:
        field = exc.path.replace("$.kind", "$.type", 1)
        message = exc.message
        member = field.removeprefix("$.").split(".")[0].split("[")[0]
        if given is not None and member not in given:
            blamed = next((name for name in _DEFINITION_FIELDS if name in given), member)
            message = f"the flag's {field.removeprefix('$.')} {message} with this {blamed}"
            field = f"$.{blamed}"
        raise Unprocessable(
            f"invalid flag definition: {message}", field=field.replace("$", path, 1)
        ) from None
    return engine.FlagDefinition(
        key=name,
        kind=engine.FlagKind(kind),
        variants=variants,
        off_variant=off,
        default_variant=default,
        archived=bool(fields.get("archived", False)),
    )


def canonical_rule_document(
    *,
    definition: engine.FlagDefinition,
    rules: Any,
    segment_keys: Collection[str],
    path: str,
    grammar: engine.Grammar = engine.CURRENT_GRAMMAR,
) -> Any:
    """The canonical form of `rules` in `grammar` for this flag and these segments, or 422
    (also for one beyond a cap of `engine.limits`: this is what every write of a rule goes
    through)."""
    try:
        limits.check_ruleset(rules)
        parsed = engine.parse_ruleset(rules, definition, segment_keys, grammar=grammar)
    except engine.RuleValidationError as exc:
        raise _refusal("rules", exc, path) from None
    return engine.ruleset_to_document(parsed)


def check_rule_limits(rules: Any, *, path: str) -> None:
    """422 when a stored rule document about to be copied (promotion) exceeds a cap."""
    try:
        limits.check_ruleset(rules)
    except limits.LimitError as exc:
        raise _refusal("rules", exc, path) from None


def referenced_segments(rules: Any) -> list[str]:
    """The segment keys a rule document names (SEGMENT rules and `{"segment": key}`
    clauses), read without validating it."""
    found: list[str] = []
    items = rules.get("rules") if isinstance(rules, Mapping) else None
    for rule in items if isinstance(items, list) else []:
        if isinstance(rule, Mapping) and rule.get("type") == "SEGMENT":
            keys = rule.get("segments")
            found += [key for key in keys if isinstance(key, str)] if isinstance(keys, list) else []
        elif isinstance(rule, Mapping) and rule.get("type") == "CONDITIONS":
            found += _clause_segments(rule.get("conditions"))
    return list(dict.fromkeys(found))


def _clause_segments(clause: object) -> list[str]:
    """Segment clauses of a clause tree, walked without recursion (depth is the parser's
    to refuse)."""
    found: list[str] = []
    pending = [clause]
    while pending:
        node = pending.pop()
        if not isinstance(node, Mapping):
            continue
        if isinstance(node.get("segment"), str):
            found.append(node["segment"])
        for group in ("all", "any"):
            if isinstance(node.get(group), list):
                pending.extend(reversed(node[group]))
        if "not" in node:
            pending.append(node["not"])
    return found


def referenced_flags(rules: Any) -> list[str]:
    """The flag keys a rule document names as prerequisites, read without validating it."""
    items = rules.get("prerequisites") if isinstance(rules, Mapping) else None
    found = [
        item["flag"]
        for item in (items if isinstance(items, list) else [])
        if isinstance(item, Mapping) and isinstance(item.get("flag"), str)
    ]
    return list(dict.fromkeys(found))


def canonical_segment_document(
    *,
    document: Mapping[str, Any],
    path: str = "$",
    grammar: engine.Grammar = engine.CURRENT_GRAMMAR,
) -> dict[str, Any]:
    """The canonical segment document in `grammar`, or 422 naming the field
    (`$.conditions.all[0].op`) or the cap it exceeds."""
    try:
        limits.check_segment(document)
        segment = engine.parse_segment(dict(document), grammar=grammar)
        return engine.segment_to_document(segment)
    except engine.RuleValidationError as exc:
        raise _refusal("segment", exc, path) from None
