"""The decision: which variant a context gets for one flag. Pure, and never raises.

Order of precedence:

1. no definition -> ``false`` (the seed's answer for an unknown flag), variant None,
   reason FLAG_NOT_FOUND, error code FLAG_NOT_FOUND;
2. archived or disabled -> the off variant, reason DISABLED;
3. no ruleset (no rule row, or the row is disabled) -> the default variant, reason
   DEFAULT -- the seed's "no rule means true";
4. the rules in order; the first that matches (and whose rollout takes the user)
   serves: reason TARGETING_MATCH, or SPLIT when it serves a weighted split, with
   ``rule_index`` set (and ``rule_id``, when the rule has an id);
5. otherwise the fallthrough: reason DEFAULT, or SPLIT for a split.

Anything unexpected (a variant removed after the rules were parsed, a context that
is not a mapping) becomes the off variant's value (None without a definition),
variant None, reason ERROR, error code GENERAL. A split with no bucketing attribute
in the context gives the same with error code TARGETING_KEY_MISSING.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from tests.unit.core.engine.frozen.clauses import Context
from tests.unit.core.engine.frozen.hashing import SPLIT_BUCKETS, pick_index, split_bucket
from tests.unit.core.engine.frozen.model import FlagDefinition, Reason, Resolution
from tests.unit.core.engine.frozen.rules import (
    Rule,
    Ruleset,
    Segment,
    Serve,
    SplitServe,
    bucket_key,
)

_NO_SEGMENTS: Mapping[str, Segment] = MappingProxyType({})
_NOT_FOUND = Resolution(
    value=False,
    variant=None,
    reason=Reason.FLAG_NOT_FOUND,
    error_code="FLAG_NOT_FOUND",
    error_message="flag not found",
)


class _TargetingKeyMissing(Exception):
    """A split cannot bucket a context that lacks its attribute."""


def evaluate(
    definition: FlagDefinition | None,
    enabled: bool,
    ruleset: Ruleset | None,
    context: Mapping[str, object],
    segments: Mapping[str, Segment] | None = None,
) -> Resolution:
    """Decide the flag for the context; any failure is a Resolution with reason ERROR."""
    try:
        if definition is None:
            return _NOT_FOUND
        if definition.archived or not enabled:
            return _variant(definition, definition.off_variant, Reason.DISABLED)
        if ruleset is None:
            return _variant(definition, definition.default_variant, Reason.DEFAULT)
        return _apply(definition, ruleset, context, _NO_SEGMENTS if segments is None else segments)
    except _TargetingKeyMissing as exc:
        return _failure(definition, "TARGETING_KEY_MISSING", str(exc))
    except Exception as exc:
        return _failure(definition, "GENERAL", f"{type(exc).__name__}: {exc}")


def rollout_salt(flag_key: str, rule: Rule, index: int) -> str:
    """The salt of a rule's rollout: by id when the rule has one, so reordering keeps users."""
    return f"{flag_key}:rollout:{rule.id if rule.id is not None else index}"


def _apply(
    definition: FlagDefinition,
    ruleset: Ruleset,
    context: Context,
    segments: Mapping[str, Segment],
) -> Resolution:
    flag_key = definition.key
    for index, rule in enumerate(ruleset.rules):
        if not rule.match.matches(context, flag_key, segments):
            continue
        if rule.rollout_buckets < SPLIT_BUCKETS:
            user = bucket_key(context)
            if user is None:
                continue
            if split_bucket(rollout_salt(flag_key, rule, index), user) >= rule.rollout_buckets:
                continue
        return _serve(definition, rule.serve, context, Reason.TARGETING_MATCH, index, rule.id)
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
        raise _TargetingKeyMissing(f"the split buckets by '{serve.bucket_by}', absent here")
    chosen = serve.weights[pick_index(serve.bounds, split_bucket(definition.key, user))][0]
    return _variant(definition, chosen, Reason.SPLIT, rule_index, rule_id)


def _variant(
    definition: FlagDefinition,
    variant: str,
    reason: Reason,
    rule_index: int | None = None,
    rule_id: str | None = None,
) -> Resolution:
    return Resolution(definition.variants[variant], variant, reason, rule_index, rule_id)


def _failure(definition: FlagDefinition | None, code: str, message: str) -> Resolution:
    try:
        value = None if definition is None else definition.variants.get(definition.off_variant)
    except Exception:
        value = None
    return Resolution(value, None, Reason.ERROR, error_code=code, error_message=message)
