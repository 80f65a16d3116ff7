"""Rows as the flags and targeting functions return them, compiled into what evaluation
decides with: the engine's definition, ruleset and segments for one flag in one
environment. Compiled once per change, evaluated per request.

Each rule and segment is compiled in the grammar it was stored with (`grammar`, beside
the rule's document; inside a segment's snapshot document, see `stores.config_changes`);
a document that does not say is grammar 1, as everything written before grammars was."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from functions.core import engine
from functions.core.errors import Unprocessable
from functions.core.mappers.definitions import flag_definition, referenced_segments

_NO_SEGMENTS: Mapping[str, engine.Segment] = MappingProxyType({})
GRAMMAR_MEMBER = "grammar"
"""Beside a rule's `rules` in a flag's snapshot document, and inside a segment's (only
when not 1, so a process that predates grammars still reads every grammar-1 segment)."""


@dataclass(frozen=True, slots=True)
class CompiledFlag:
    definition: engine.FlagDefinition | None
    """None: no such flag."""
    enabled: bool
    ruleset: engine.Ruleset | None
    invalid_rules: str | None = None
    """Why stored rules could not be compiled (evaluation answers ERROR, PARSE_ERROR)."""
    stale: bool = False
    """Served from memory because the configuration could not be read."""
    segments: Mapping[str, engine.Segment] = field(default_factory=lambda: _NO_SEGMENTS)


def compiled_flag(
    *,
    name: str,
    flag: Mapping[str, Any] | None,
    rule: Mapping[str, Any] | None,
    segments: Mapping[str, Mapping[str, Any]] | None = None,
) -> CompiledFlag:
    """A flag row without definition fields (a seed row) is the seed's boolean flag. A
    segment the rules name but `segments` lacks (deleted meanwhile) simply never matches."""
    if flag is None:
        return CompiledFlag(definition=None, enabled=False, ruleset=None)
    enabled = bool(flag["is_enabled"])
    try:
        definition = flag_definition(name=name, fields=flag)
    except Unprocessable as exc:
        fallback = engine.boolean_definition(name)
        return CompiledFlag(fallback, enabled, None, invalid_rules=f"definition: {exc.message}")
    if rule is None or not rule.get("is_enabled", True):
        return CompiledFlag(definition=definition, enabled=enabled, ruleset=None)
    try:
        ruleset = engine.parse_ruleset(
            rule["rules"],
            definition,
            referenced_segments(rule["rules"]),
            grammar=stored_grammar(rule.get("grammar")),
        )
        parsed = {key: compiled_segment(doc) for key, doc in (segments or {}).items()}
    except engine.RuleValidationError as exc:
        return CompiledFlag(
            definition=definition,
            enabled=enabled,
            ruleset=None,
            invalid_rules=f"{exc.path}: {exc.message}",
        )
    return CompiledFlag(definition, enabled, ruleset, segments=MappingProxyType(parsed))


def compiled_segment(document: Mapping[str, Any]) -> engine.Segment:
    """A segment's snapshot document: the stored one, with `grammar` when it is not 1."""
    body = {name: value for name, value in document.items() if name != GRAMMAR_MEMBER}
    return engine.parse_segment(body, grammar=stored_grammar(document.get(GRAMMAR_MEMBER)))


def stored_grammar(value: object) -> engine.Grammar:
    """The grammar a stored document names; absent (written before grammars): 1. One this
    process does not know is refused, never read as another (RuleValidationError)."""
    if value is None:
        return engine.Grammar.V1
    known = {grammar.value: grammar for grammar in engine.Grammar}
    if isinstance(value, int) and not isinstance(value, bool) and value in known:
        return known[value]
    raise engine.RuleValidationError(
        "$", f"is stored in grammar {value!r}, which this version does not know"
    )
