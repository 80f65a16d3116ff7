"""Targeting rules and segments: the documents, their parsed form, and the way back.

The targeting function stores a flag's rules as one JSON document. ``parse_ruleset``
accepts two forms and refuses everything else with a ``RuleValidationError`` naming
the JSON path at fault; nothing invalid reaches ``evaluate``.

1. The seed's legacy object, with its exact old meaning::

       {"type": "PERCENTAGE", "value": 30}

   ``value`` is a number in 0..100. A user whose ``seed_bucket(user_id, flag_key)``
   is below it gets the flag's default ("on") variant with reason TARGETING_MATCH;
   everyone else the off variant with reason DEFAULT. For a boolean flag that is the
   old true/false, user for user. It is kept as such (``Ruleset.legacy``) and written
   back in the same shape.

2. The full form::

       {
         "rules": [
           {"id": "staff", "type": "USERS", "users": ["u1", "u2"], "serve": {"variant": "on"}},
           {"type": "SEGMENT", "segments": ["beta-testers"], "serve": {"variant": "on"}},
           {"description": "Portuguese speakers on new apps, half of them",
            "type": "CONDITIONS",
            "conditions": {"all": [
                {"attribute": "country", "op": "in", "value": ["PT", "BR"]},
                {"attribute": "app_version", "op": "semver_gt", "value": "2.3.0"}]},
            "serve": {"variant": "on"},
            "rollout": 50},
           {"type": "PERCENTAGE", "value": 10}
         ],
         "fallthrough": {"split": [{"variant": "blue", "weight": 50},
                                   {"variant": "green", "weight": 50}],
                         "bucket_by": "user_id"}
       }

   Rules are tried in order and the first that matches serves; when none does, the
   ``fallthrough`` serves (default: the flag's default variant -- so with a lone
   ``PERCENTAGE`` rule, set ``"fallthrough": {"variant": "off"}``). A rule has
   exactly one match part, chosen by ``type``:

   - ``PERCENTAGE`` + ``value`` (0..100): the seed bucket is below ``value``. ``serve``
     may be omitted and then is the default variant.
   - ``USERS`` + ``users`` (non-empty array of ids): the context's ``user_id`` is listed.
   - ``CONDITIONS`` + ``conditions``: a clause tree (see ``clauses`` and ``operators``).
   - ``SEGMENT`` + ``segments`` (non-empty array of segment keys, each known at parse):
     the context is in any of them. A segment deleted since is simply not matched.

   Optional on every rule: ``id`` (unique string; it also salts the rollout),
   ``description``, and ``rollout`` (0..100): the share of the matching users the
   rule applies to, sticky by ``split_bucket`` on ``user_id``; the others move on to
   the next rule. With a rollout, ``bucket_by`` (one attribute, or a list tried in
   order) names what the rollout is sticky by instead; a context with none of them
   skips the rule, as one without ``user_id`` always did.

   A serve is ``{"variant": name}`` or a weighted split ``{"split": ..., "bucket_by"?:
   attribute}`` where the split is an array of ``{"variant", "weight"}`` (canonical:
   order matters and JSONB keeps array order) or an object ``{"blue": 50, ...}`` (read
   in the order given; PostgreSQL's JSONB does not keep object key order, so store
   ``ruleset_to_document``'s output, not the raw input). Weights are numbers >= 0
   summing to 100 (within 1e-9); every variant must exist in the flag. ``bucket_by``
   is one attribute (a string) or a list of them tried in order. When the context has
   none of them: a list on a rule's split means the rule does not match and
   evaluation goes on to the next rule; a single attribute given as a string keeps
   the answer documents had before lists existed -- reason ERROR, code
   TARGETING_KEY_MISSING -- and so does any split of the fallthrough, which has
   nothing after it.

   Optional at the top: ``prerequisites``, flags this one requires in the same
   environment, each ``{"flag": key, "variants": [names]}``. Before any rule, each
   prerequisite is evaluated for the same context (and the same configuration); one
   that is off, archived, missing, failing, itself failing a prerequisite, or serving
   a variant not listed makes this flag serve its off variant with reason
   PREREQUISITE_FAILED. Whether they exist, fit and form no cycle is checked where
   the other flags are known (the services), not here.

``user_id`` (or a ``bucket_by`` attribute) may be a string or an integer, taken as its
decimal string; other types count as missing. Bucketing by another attribute hashes its
value exactly as a ``user_id`` would be hashed, so ``"bucket_by": ["user_id"]`` keeps
every user where ``"user_id"`` put them.

Segments are their own documents::

    {"key": "beta-testers", "name"?: str, "description"?: str,
     "included"?: [user ids], "excluded"?: [user ids], "conditions"?: clause}

A context is in the segment when its ``user_id`` is included, or when it is not
excluded and the conditions (if any) match. Segments cannot name segments: their
conditions refuse the ``{"segment": key}`` clause that rules may use.

``ruleset_to_document`` and ``segment_to_document`` give the canonical form
(``parse(to_document(x)) == x``): optional members only when set, user lists sorted,
splits as arrays.

Both documents are parsed in a grammar (``grammar``: the one they were stored with;
grammar 1 by default, the meaning every earlier document has). What this docstring says
is grammar 1; grammar 2 differs in two defaults: ``numeric_strings`` is on wherever it
applies, and a rule's split whose ``bucket_by`` -- string or list -- finds nothing skips
the rule. The parsed ``Ruleset`` and ``Segment`` keep their grammar, and their canonical
form is that grammar's.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import TypeAlias

from functions.core.engine.clauses import (
    NO_SEGMENTS,
    Clause,
    Context,
    clause_to_document,
    named_segments,
    parse_clause,
)
from functions.core.engine.grammar import Grammar
from functions.core.engine.hashing import (
    SPLIT_BUCKETS,
    percent_to_buckets,
    seed_bucket,
    split_bounds,
)
from functions.core.engine.model import FlagDefinition, JSONValue
from functions.core.engine.validation import (
    RuleValidationError,
    child,
    expect_list,
    expect_number,
    expect_object,
    expect_percentage,
    expect_string,
)

TARGETING_ATTRIBUTE = "user_id"
WEIGHT_TOLERANCE = 1e-9
_MAX_ID_LENGTH = 200


BucketBy: TypeAlias = str | tuple[str, ...]
"""One attribute (the form every earlier document has), or a list tried in order."""


def bucket_key(context: Context, attribute: BucketBy = TARGETING_ATTRIBUTE) -> str | None:
    """The string a user is bucketed by: the first string or integer attribute, else None."""
    if isinstance(attribute, str):
        return _bucket_value(context.get(attribute))
    for name in attribute:
        found = _bucket_value(context.get(name))
        if found is not None:
            return found
    return None


def _bucket_value(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


# -- parsed form --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Segment:
    """A named group of users: listed ids, or everyone matching the conditions."""

    key: str
    name: str | None = None
    description: str | None = None
    included: frozenset[str] = frozenset()
    excluded: frozenset[str] = frozenset()
    conditions: Clause | None = None
    grammar: Grammar = Grammar.V1

    def contains(self, context: Context) -> bool:
        user = bucket_key(context)
        if user is not None:
            if user in self.included:
                return True
            if user in self.excluded:
                return False
        return self.conditions is not None and self.conditions.matches(context, NO_SEGMENTS)


@dataclass(frozen=True, slots=True)
class PercentageMatch:
    """The seed's rollout: seed bucket (0..99) below ``percentage``."""

    percentage: int | float

    def matches(self, context: Context, flag_key: str, segments: Mapping[str, Segment]) -> bool:
        user = bucket_key(context)
        return user is not None and seed_bucket(user, flag_key) < self.percentage


@dataclass(frozen=True, slots=True)
class UsersMatch:
    """Individual targeting by ``user_id``."""

    users: frozenset[str]

    def matches(self, context: Context, flag_key: str, segments: Mapping[str, Segment]) -> bool:
        user = bucket_key(context)
        return user is not None and user in self.users


@dataclass(frozen=True, slots=True)
class ConditionsMatch:
    """A clause tree over context attributes."""

    clause: Clause

    def matches(self, context: Context, flag_key: str, segments: Mapping[str, Segment]) -> bool:
        return self.clause.matches(context, segments)


@dataclass(frozen=True, slots=True)
class SegmentMatch:
    """Membership of any of the named segments."""

    segments: tuple[str, ...]

    def matches(self, context: Context, flag_key: str, segments: Mapping[str, Segment]) -> bool:
        for key in self.segments:
            segment = segments.get(key)
            if segment is not None and segment.contains(context):
                return True
        return False


Match: TypeAlias = PercentageMatch | UsersMatch | ConditionsMatch | SegmentMatch


@dataclass(frozen=True, slots=True)
class VariantServe:
    """Serve one variant."""

    variant: str


@dataclass(frozen=True, slots=True)
class SplitServe:
    """Serve variants by weight; ``bounds`` are the cumulative split buckets, derived once."""

    weights: tuple[tuple[str, int | float], ...]
    bucket_by: BucketBy = TARGETING_ATTRIBUTE
    bounds: tuple[int, ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "bounds", split_bounds([weight for _, weight in self.weights]))


Serve: TypeAlias = VariantServe | SplitServe


@dataclass(frozen=True, slots=True)
class Rule:
    """One targeting rule; ``rollout_buckets`` is ``rollout`` in split buckets, derived once."""

    match: Match
    serve: Serve
    id: str | None = None
    description: str | None = None
    rollout: int | float | None = None
    bucket_by: BucketBy | None = None
    """What the rollout is sticky by; None: ``user_id``, and no ``bucket_by`` written."""
    rollout_buckets: int = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        buckets = SPLIT_BUCKETS if self.rollout is None else percent_to_buckets(self.rollout)
        object.__setattr__(self, "rollout_buckets", buckets)


@dataclass(frozen=True, slots=True)
class Prerequisite:
    """Another flag of the same environment that must serve one of ``variants``."""

    flag: str
    variants: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Ruleset:
    """What a flag serves when it is on: the prerequisites, the rules in order, then
    the fallthrough."""

    rules: tuple[Rule, ...]
    fallthrough: Serve
    legacy: bool = False
    prerequisites: tuple[Prerequisite, ...] = ()
    grammar: Grammar = Grammar.V1
    """Grammar 2: a rule's split that cannot bucket the context skips the rule, whatever
    the form of its ``bucket_by``."""


# -- parsing ------------------------------------------------------------------------

_RULE_TYPES = {
    "PERCENTAGE": "value",
    "USERS": "users",
    "CONDITIONS": "conditions",
    "SEGMENT": "segments",
}
_RULE_OPTIONAL = ("id", "description", "serve", "rollout", "bucket_by")
_MAX_ATTRIBUTE_LENGTH = 200


def parse_ruleset(
    document: object,
    definition: FlagDefinition,
    segment_keys: Collection[str],
    *,
    grammar: Grammar = Grammar.V1,
) -> Ruleset:
    """Parse and compile a rules document for ``definition`` in ``grammar`` (the one it
    is stored with); raises RuleValidationError."""
    if not isinstance(document, Mapping):
        raise RuleValidationError("$", "must be an object")
    if "rules" not in document and "type" in document:
        return _parse_legacy(document, definition, grammar)
    members = expect_object(
        document, "$", required=("rules",), optional=("fallthrough", "prerequisites")
    )
    prerequisites: tuple[Prerequisite, ...] = ()
    if "prerequisites" in members:
        prerequisites = _parse_prerequisites(members["prerequisites"], definition)
    items = expect_list(members["rules"], "$.rules")
    rules: list[Rule] = []
    seen_ids: dict[str, int] = {}
    for index, item in enumerate(items):
        path = f"$.rules[{index}]"
        rule = _parse_rule(item, path, definition, segment_keys, grammar)
        if rule.id is not None:
            if rule.id in seen_ids:
                raise RuleValidationError(
                    child(path, "id"), f"repeats the id of $.rules[{seen_ids[rule.id]}]"
                )
            seen_ids[rule.id] = index
        rules.append(rule)
    if "fallthrough" in members:
        fallthrough = _parse_serve(members["fallthrough"], "$.fallthrough", definition)
    else:
        fallthrough = VariantServe(definition.default_variant)
    return Ruleset(tuple(rules), fallthrough, prerequisites=prerequisites, grammar=grammar)


def _parse_prerequisites(document: object, definition: FlagDefinition) -> tuple[Prerequisite, ...]:
    path = "$.prerequisites"
    found: list[Prerequisite] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(expect_list(document, path)):
        item_path = child(path, index)
        members = expect_object(item, item_path, required=("flag", "variants"))
        flag_path = child(item_path, "flag")
        flag = expect_string(members["flag"], flag_path, max_length=_MAX_ID_LENGTH)
        if flag == definition.key:
            raise RuleValidationError(flag_path, "a flag cannot require itself")
        if flag in seen:
            raise RuleValidationError(flag_path, f"repeats the flag of {path}[{seen[flag]}]")
        seen[flag] = index
        variants = _parse_ids(members["variants"], child(item_path, "variants"))
        found.append(Prerequisite(flag, tuple(dict.fromkeys(variants))))
    return tuple(found)


def _parse_legacy(
    document: Mapping[str, object], definition: FlagDefinition, grammar: Grammar
) -> Ruleset:
    members = expect_object(document, "$", required=("type", "value"))
    if members["type"] != "PERCENTAGE":
        raise RuleValidationError(
            "$.type", 'must be "PERCENTAGE" (or use the {"rules": [...]} form)'
        )
    percentage = expect_percentage(members["value"], "$.value")
    rule = Rule(PercentageMatch(percentage), VariantServe(definition.default_variant))
    return Ruleset((rule,), VariantServe(definition.off_variant), legacy=True, grammar=grammar)


def _parse_rule(
    document: object,
    path: str,
    definition: FlagDefinition,
    segment_keys: Collection[str],
    grammar: Grammar,
) -> Rule:
    if not isinstance(document, Mapping):
        raise RuleValidationError(path, "must be an object")
    if not document:
        raise RuleValidationError(path, "must not be empty")
    type_path = child(path, "type")
    rule_type = document.get("type")
    if rule_type is None:
        raise RuleValidationError(type_path, "is required")
    if not isinstance(rule_type, str) or rule_type not in _RULE_TYPES:
        raise RuleValidationError(type_path, f"must be one of {', '.join(_RULE_TYPES)}")
    part = _RULE_TYPES[rule_type]
    required = ("type", part) if rule_type == "PERCENTAGE" else ("type", part, "serve")
    members = expect_object(document, path, required=required, optional=_RULE_OPTIONAL)
    part_path = child(path, part)
    match: Match
    if rule_type == "PERCENTAGE":
        match = PercentageMatch(expect_percentage(members[part], part_path))
    elif rule_type == "USERS":
        match = UsersMatch(frozenset(_parse_ids(members[part], part_path)))
    elif rule_type == "CONDITIONS":
        match = ConditionsMatch(
            parse_clause(members[part], part_path, segment_keys=segment_keys, grammar=grammar)
        )
    else:
        names = _parse_ids(members[part], part_path)
        for index, name in enumerate(names):
            if name not in segment_keys:
                raise RuleValidationError(child(part_path, index), f"unknown segment '{name}'")
        match = SegmentMatch(tuple(dict.fromkeys(names)))
    if "serve" in members:
        serve = _parse_serve(members["serve"], child(path, "serve"), definition)
    else:
        serve = VariantServe(definition.default_variant)
    rollout = None
    if "rollout" in members:
        rollout = expect_percentage(members["rollout"], child(path, "rollout"))
    bucket_by = None
    if "bucket_by" in members:
        bucket_path = child(path, "bucket_by")
        if rollout is None:
            raise RuleValidationError(
                bucket_path, "says what the rule's rollout is sticky by: give the rule a rollout"
            )
        bucket_by = _parse_bucket_by(members["bucket_by"], bucket_path)
    return Rule(
        match=match,
        serve=serve,
        id=_optional_string(members, "id", path),
        description=_optional_string(members, "description", path, max_length=2000),
        rollout=rollout,
        bucket_by=bucket_by,
    )


def _parse_bucket_by(value: object, path: str) -> BucketBy:
    """One attribute name, or a non-empty list of distinct ones (kept a list: the two
    forms answer differently when the context has none, see the module's docstring)."""
    if isinstance(value, str):
        return expect_string(value, path, max_length=_MAX_ATTRIBUTE_LENGTH)
    names = [
        expect_string(item, child(path, index), max_length=_MAX_ATTRIBUTE_LENGTH)
        for index, item in enumerate(expect_list(value, path, non_empty=True))
    ]
    if len(set(names)) != len(names):
        raise RuleValidationError(path, "names an attribute twice")
    return tuple(names)


def _optional_string(
    members: Mapping[str, object], name: str, path: str, max_length: int = _MAX_ID_LENGTH
) -> str | None:
    if name not in members:
        return None
    return expect_string(members[name], child(path, name), max_length=max_length)


def _parse_ids(value: object, path: str, *, non_empty: bool = True) -> list[str]:
    items = expect_list(value, path, non_empty=non_empty)
    return [
        expect_string(item, child(path, index), max_length=_MAX_ID_LENGTH)
        for index, item in enumerate(items)
    ]


def _parse_serve(document: object, path: str, definition: FlagDefinition) -> Serve:
    if not isinstance(document, Mapping):
        raise RuleValidationError(path, "must be an object")
    if "variant" in document:
        members = expect_object(document, path, required=("variant",))
        return VariantServe(
            _parse_variant_name(members["variant"], child(path, "variant"), definition)
        )
    if "split" not in document:
        raise RuleValidationError(path, 'must hold "variant" or "split"')
    members = expect_object(document, path, required=("split",), optional=("bucket_by",))
    split_path = child(path, "split")
    weights = _parse_weights(members["split"], split_path, definition)
    # In floats: every weight fits a double, and a float sum overflows to inf, not an error.
    total = sum(float(weight) for _, weight in weights)
    if abs(total - 100) > WEIGHT_TOLERANCE:
        raise RuleValidationError(split_path, f"weights must sum to 100, not {total:g}")
    bucket_by: BucketBy = TARGETING_ATTRIBUTE
    if "bucket_by" in members:
        bucket_by = _parse_bucket_by(members["bucket_by"], child(path, "bucket_by"))
    return SplitServe(tuple(weights), bucket_by)


def _parse_weights(
    document: object, path: str, definition: FlagDefinition
) -> list[tuple[str, int | float]]:
    pairs: list[tuple[str, object, str]] = []  # (variant, weight, path of the weight)
    if isinstance(document, Mapping):
        for name, weight in document.items():
            pairs.append((name, weight, child(path, str(name))))
    else:
        for index, item in enumerate(expect_list(document, path)):
            item_path = child(path, index)
            members = expect_object(item, item_path, required=("variant", "weight"))
            name = _parse_variant_name(members["variant"], child(item_path, "variant"), definition)
            pairs.append((name, members["weight"], child(item_path, "weight")))
    if not pairs:
        raise RuleValidationError(path, "must not be empty")
    weights: list[tuple[str, int | float]] = []
    seen: set[str] = set()
    for name, weight, weight_path in pairs:
        _parse_variant_name(name, weight_path, definition)
        if name in seen:
            raise RuleValidationError(weight_path, f"variant '{name}' appears twice")
        seen.add(name)
        number = expect_number(weight, weight_path)
        if number < 0:
            raise RuleValidationError(weight_path, "must not be negative")
        weights.append((name, number))
    return weights


def _parse_variant_name(value: object, path: str, definition: FlagDefinition) -> str:
    if not isinstance(value, str):
        raise RuleValidationError(path, "must be a variant name")
    if value not in definition.variants:
        raise RuleValidationError(path, f"unknown variant '{value}'")
    return value


def parse_segment(document: object, *, grammar: Grammar = Grammar.V1) -> Segment:
    """Parse and compile a segment document in ``grammar`` (the one it is stored with);
    raises RuleValidationError."""
    members = expect_object(
        document,
        "$",
        required=("key",),
        optional=("name", "description", "included", "excluded", "conditions"),
    )
    conditions = None
    if "conditions" in members:
        conditions = parse_clause(
            members["conditions"], "$.conditions", segment_keys=None, grammar=grammar
        )
    return Segment(
        key=expect_string(members["key"], "$.key", max_length=_MAX_ID_LENGTH),
        name=_optional_string(members, "name", "$"),
        description=_optional_string(members, "description", "$", max_length=2000),
        included=frozenset(_parse_ids(members.get("included", []), "$.included", non_empty=False)),
        excluded=frozenset(_parse_ids(members.get("excluded", []), "$.excluded", non_empty=False)),
        conditions=conditions,
        grammar=grammar,
    )


# -- back to documents --------------------------------------------------------------


def ruleset_to_document(ruleset: Ruleset) -> dict[str, JSONValue]:
    """The canonical document; the legacy form stays legacy so old scripts read it back."""
    if ruleset.legacy:
        match = ruleset.rules[0].match
        assert isinstance(match, PercentageMatch)
        return {"type": "PERCENTAGE", "value": match.percentage}
    document: dict[str, JSONValue] = {}
    if ruleset.prerequisites:
        document["prerequisites"] = [
            {"flag": item.flag, "variants": list[JSONValue](item.variants)}
            for item in ruleset.prerequisites
        ]
    document["rules"] = [_rule_to_document(rule, ruleset.grammar) for rule in ruleset.rules]
    document["fallthrough"] = _serve_to_document(ruleset.fallthrough)
    return document


def ruleset_segments(ruleset: Ruleset) -> list[str]:
    """Every segment key the ruleset names, by SEGMENT rules or segment clauses."""
    found: list[str] = []
    for rule in ruleset.rules:
        if isinstance(rule.match, SegmentMatch):
            found += rule.match.segments
        elif isinstance(rule.match, ConditionsMatch):
            found += named_segments(rule.match.clause)
    return list(dict.fromkeys(found))


def _rule_to_document(rule: Rule, grammar: Grammar) -> dict[str, JSONValue]:
    document: dict[str, JSONValue] = {}
    if rule.id is not None:
        document["id"] = rule.id
    if rule.description is not None:
        document["description"] = rule.description
    match rule.match:
        case PercentageMatch(percentage):
            document.update(type="PERCENTAGE", value=percentage)
        case UsersMatch(users):
            document.update(type="USERS", users=list[JSONValue](sorted(users)))
        case ConditionsMatch(clause):
            document.update(type="CONDITIONS", conditions=clause_to_document(clause, grammar))
        case SegmentMatch(segments):
            document.update(type="SEGMENT", segments=list[JSONValue](segments))
    document["serve"] = _serve_to_document(rule.serve)
    if rule.rollout is not None:
        document["rollout"] = rule.rollout
    if rule.bucket_by is not None:
        document["bucket_by"] = _bucket_by_document(rule.bucket_by)
    return document


def _bucket_by_document(bucket_by: BucketBy) -> JSONValue:
    return bucket_by if isinstance(bucket_by, str) else list[JSONValue](bucket_by)


def _serve_to_document(serve: Serve) -> dict[str, JSONValue]:
    if isinstance(serve, VariantServe):
        return {"variant": serve.variant}
    split: list[JSONValue] = [{"variant": name, "weight": weight} for name, weight in serve.weights]
    return {"split": split, "bucket_by": _bucket_by_document(serve.bucket_by)}


def segment_to_document(segment: Segment) -> dict[str, JSONValue]:
    """The canonical segment document: sorted id lists, optional members only when set."""
    document: dict[str, JSONValue] = {"key": segment.key}
    if segment.name is not None:
        document["name"] = segment.name
    if segment.description is not None:
        document["description"] = segment.description
    document["included"] = list[JSONValue](sorted(segment.included))
    document["excluded"] = list[JSONValue](sorted(segment.excluded))
    if segment.conditions is not None:
        document["conditions"] = clause_to_document(segment.conditions, segment.grammar)
    return document
