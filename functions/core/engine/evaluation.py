"""The decision: which variant a context gets for one flag. Pure, and never raises.

Order of precedence:

1. no definition -> ``false`` (the seed's answer for an unknown flag), variant None,
   reason FLAG_NOT_FOUND, error code FLAG_NOT_FOUND;
2. archived or disabled -> the off variant, reason DISABLED;
3. no ruleset (no rule row, or the row is disabled) -> the default variant, reason
   DEFAULT -- the seed's "no rule means true";
4. the prerequisites in order: each is decided for the same context through
   ``lookup`` (the same configuration the caller decides with); the first that is not
   met -> the off variant, reason PREREQUISITE_FAILED, ``prerequisite`` naming it. A
   prerequisite is met when its flag exists and is decided without DISABLED, ERROR,
   FLAG_NOT_FOUND or PREREQUISITE_FAILED, to one of the listed variants;
5. the rules in order; the first that matches (and whose rollout takes the user, and
   whose split can bucket the context when its ``bucket_by`` is a list, or in grammar 2
   whatever its form) serves: reason
   TARGETING_MATCH, or SPLIT when it serves a weighted split, with ``rule_index`` set
   (and ``rule_id``, when the rule has an id);
6. otherwise the fallthrough: reason DEFAULT, or SPLIT for a split.

Anything unexpected (a variant removed after the rules were parsed, a context that
is not a mapping) becomes the off variant's value (None without a definition),
variant None, reason ERROR, error code GENERAL. A split whose single ``bucket_by``
attribute (grammar 1 only; or, for the fallthrough, every attribute of its list) is
absent gives the same with error code TARGETING_KEY_MISSING.

Cycles are refused when rules are written; should one reach the engine anyway (or a
chain deeper than ``MAX_CHAIN``), the prerequisite that closes it is not met.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Protocol

from functions.core.engine.clauses import Context
from functions.core.engine.grammar import Grammar
from functions.core.engine.hashing import SPLIT_BUCKETS, pick_index, split_bucket
from functions.core.engine.model import FlagDefinition, Reason, Resolution
from functions.core.engine.rules import (
    Prerequisite,
    Rule,
    Ruleset,
    Segment,
    Serve,
    SplitServe,
    bucket_key,
)

MAX_CHAIN = 32
"""Flags deep a prerequisite chain is followed at evaluation (writes cap it lower)."""

_NO_SEGMENTS: Mapping[str, Segment] = MappingProxyType({})
_NOT_FOUND = Resolution(
    value=False,
    variant=None,
    reason=Reason.FLAG_NOT_FOUND,
    error_code="FLAG_NOT_FOUND",
    error_message="flag not found",
)
_UNMET = frozenset(
    {Reason.DISABLED, Reason.ERROR, Reason.FLAG_NOT_FOUND, Reason.PREREQUISITE_FAILED}
)


class Requirable(Protocol):
    """What evaluation needs of a flag another one requires (the snapshot's compiled flag)."""

    @property
    def definition(self) -> FlagDefinition | None: ...
    @property
    def enabled(self) -> bool: ...
    @property
    def ruleset(self) -> Ruleset | None: ...
    @property
    def segments(self) -> Mapping[str, Segment]: ...
    @property
    def invalid_rules(self) -> str | None: ...


FlagLookup = Callable[[str], Requirable | None]
"""A flag of the same environment and configuration by key; None when there is none."""


_MAX_SERVED = 1024
"""Resolutions remembered per flag at most (variants × reasons × rules: far fewer)."""


class _TargetingKeyMissing(Exception):
    """A split cannot bucket a context that lacks its attribute."""


def evaluate(
    definition: FlagDefinition | None,
    enabled: bool,
    ruleset: Ruleset | None,
    context: Mapping[str, object],
    segments: Mapping[str, Segment] | None = None,
    *,
    lookup: FlagLookup | None = None,
) -> Resolution:
    """Decide the flag for the context; any failure is a Resolution with reason ERROR.

    ``lookup`` finds the flags named as prerequisites; without it none is met.
    """
    return _evaluate(
        definition,
        enabled,
        ruleset,
        context,
        _NO_SEGMENTS if segments is None else segments,
        lookup,
        (),
    )


def rollout_salt(flag_key: str, rule: Rule, index: int) -> str:
    """The salt of a rule's rollout: by id when the rule has one, so reordering keeps users."""
    return f"{flag_key}:rollout:{rule.id if rule.id is not None else index}"


def _evaluate(
    definition: FlagDefinition | None,
    enabled: bool,
    ruleset: Ruleset | None,
    context: Context,
    segments: Mapping[str, Segment],
    lookup: FlagLookup | None,
    chain: tuple[str, ...],
) -> Resolution:
    try:
        if definition is None:
            return _NOT_FOUND
        if definition.archived or not enabled:
            return _variant(definition, definition.off_variant, Reason.DISABLED)
        if ruleset is None:
            return _variant(definition, definition.default_variant, Reason.DEFAULT)
        if ruleset.prerequisites:
            failed = _unmet(definition.key, ruleset.prerequisites, context, lookup, chain)
            if failed is not None:
                off = definition.off_variant
                return Resolution(
                    definition.variants[off], off, Reason.PREREQUISITE_FAILED, prerequisite=failed
                )
        return _apply(definition, ruleset, context, segments)
    except _TargetingKeyMissing as exc:
        return _failure(definition, "TARGETING_KEY_MISSING", str(exc))
    except Exception as exc:
        return _failure(definition, "GENERAL", f"{type(exc).__name__}: {exc}")


def _unmet(
    key: str,
    prerequisites: tuple[Prerequisite, ...],
    context: Context,
    lookup: FlagLookup | None,
    chain: tuple[str, ...],
) -> str | None:
    """The first prerequisite not met, or None when all are."""
    path = (*chain, key)
    for prerequisite in prerequisites:
        name = prerequisite.flag
        source = None if lookup is None or name in path or len(path) > MAX_CHAIN else lookup(name)
        if source is None or source.invalid_rules is not None:
            return name
        decided = _evaluate(
            source.definition,
            source.enabled,
            source.ruleset,
            context,
            source.segments,
            lookup,
            path,
        )
        if decided.reason in _UNMET or decided.variant not in prerequisite.variants:
            return name
    return None


def _apply(
    definition: FlagDefinition,
    ruleset: Ruleset,
    context: Context,
    segments: Mapping[str, Segment],
) -> Resolution:
    flag_key = definition.key
    skips_unbucketed = ruleset.grammar is not Grammar.V1
    for index, rule in enumerate(ruleset.rules):
        if not rule.match.matches(context, flag_key, segments):
            continue
        if rule.rollout_buckets < SPLIT_BUCKETS:
            user = (
                bucket_key(context)
                if rule.bucket_by is None
                else bucket_key(context, rule.bucket_by)
            )
            if user is None:
                continue
            if split_bucket(rollout_salt(flag_key, rule, index), user) >= rule.rollout_buckets:
                continue
        serve = rule.serve
        if (
            isinstance(serve, SplitServe)
            and (skips_unbucketed or not isinstance(serve.bucket_by, str))
            and bucket_key(context, serve.bucket_by) is None
        ):
            continue  # nothing to bucket by: this rule does not apply, the next may
        return _serve(definition, serve, context, Reason.TARGETING_MATCH, index, rule.id)
    return _serve(definition, ruleset.fallthrough, context, Reason.DEFAULT, None, None)


def _serve(
    definition: FlagDefinition,
    serve: Serve,
    context: Context,
    reason: Reason,
    rule_index: int | None,
    rule_id: str | None,
) -> Resolution:
    if not isinstance(serve, SplitServe):
        return _variant(definition, serve.variant, reason, rule_index, rule_id)
    user = bucket_key(context, serve.bucket_by)
    if user is None:
        raise _TargetingKeyMissing(f"the split buckets by {_named(serve.bucket_by)}, absent here")
    chosen = serve.weights[pick_index(serve.bounds, split_bucket(definition.key, user))][0]
    return _variant(definition, chosen, Reason.SPLIT, rule_index, rule_id)


def _named(bucket_by: str | tuple[str, ...]) -> str:
    if isinstance(bucket_by, str):
        return f"'{bucket_by}'"
    return " or ".join(f"'{name}'" for name in bucket_by)


def _variant(
    definition: FlagDefinition,
    variant: str,
    reason: Reason,
    rule_index: int | None = None,
    rule_id: str | None = None,
) -> Resolution:
    answer = (variant, reason, rule_index, rule_id)
    served = definition.served.get(answer)
    if served is None:
        served = Resolution(definition.variants[variant], variant, reason, rule_index, rule_id)
        if len(definition.served) < _MAX_SERVED:
            definition.served[answer] = served
    return served


def _failure(definition: FlagDefinition | None, code: str, message: str) -> Resolution:
    try:
        value = None if definition is None else definition.variants.get(definition.off_variant)
    except Exception:
        value = None
    return Resolution(value, None, Reason.ERROR, error_code=code, error_message=message)
