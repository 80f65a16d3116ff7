"""The targeting rule document and a segment's conditions, as `/openapi.json` and the
configuration file's schema describe them.

These types only describe: the engine (`engine.rules`, `engine.clauses`,
`engine.operators`) parses every document, and its refusals (422, naming the JSON path)
are what a client gets. A body field keeps its loose runtime type and borrows the
description with `DescribedBy`, so the schema can say everything the engine checks that
JSON Schema can say, and never refuses a document the engine accepts.

Left to the engine, because JSON Schema cannot say them: that a variant, segment or
prerequisite flag exists, split weights summing to 100, unique rule ids, a valid RE2
pattern, SemVer 2.0 version, ISO-8601 instant or CIDR range, nesting at most 32 deep, and
the caps answered with `limit_exceeded` (rules, users, conditions, list values,
prerequisites), which are checked when a document is written, not when it is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal, NotRequired

from pydantic import ConfigDict, Field, GetJsonSchemaHandler, TypeAdapter, with_config
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema
from typing_extensions import TypeAliasType, TypedDict


@dataclass(frozen=True, slots=True)
class DescribedBy:
    """Annotation: describe a field in JSON Schema by `described`, whatever the field's own
    type validates. Its definitions join the document's (`components/schemas`, `$defs`)."""

    described: Any

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return handler(TypeAdapter(self.described).core_schema)


_CLOSED = ConfigDict(extra="forbid", json_schema_mode_override="validation")
"""Every object of the grammar refuses unknown members; one description for requests and
responses alike (the same schema, not an -Input and an -Output copy)."""

Name = Annotated[str, Field(min_length=1, max_length=200)]
Attribute = Annotated[str, Field(min_length=1, max_length=200, description="a context attribute")]
Percent = Annotated[float, Field(ge=0, le=100)]
Scalar = str | float | bool
BucketBy = Annotated[
    Attribute
    | Annotated[list[Attribute], Field(min_length=1, json_schema_extra={"uniqueItems": True})],
    Field(
        description="the attribute a split or rollout is sticky by (default `user_id`), or a"
        " list tried in order; a rule whose attributes are all absent from the context is"
        " skipped (grammar 1: a string `bucket_by` on a split answers ERROR,"
        " TARGETING_KEY_MISSING instead; the fallthrough's split always does)"
    ),
]


def _when_true(option: str, then: dict[str, Any]) -> dict[str, Any]:
    """`if` the leaf sets `option` to true, `then` holds too."""
    return {
        "if": {"properties": {option: {"const": True}}, "required": [option]},
        "then": then,
    }


_VALUE_STRING = {"properties": {"value": {"type": "string"}}}
_WITH_CASE_INSENSITIVE = {
    "properties": {"case_insensitive": {"const": True}},
    "required": ["case_insensitive"],
}
_NUMERIC_ONLY_WITH_CASE_INSENSITIVE = _when_true("numeric_strings", _WITH_CASE_INSENSITIVE)
"""The engine accepts `numeric_strings: true` beside `case_insensitive: true` (and ignores
it); alone, it is refused on the string operators."""

CASE_INSENSITIVE = Field(
    description="compare strings by their Unicode case fold (`str.casefold`); default false"
)
NUMERIC_STRINGS = Field(
    description="a string attribute that is a decimal number (`-?[0-9]+(\\.[0-9]+)?`, ASCII,"
    " at most 100 characters) compares as that number. Default: off in grammar 1, on in"
    " grammar 2 (every document written now)"
)
NOT_HERE = Field(description="accepted only as false: the option means nothing here")
IGNORED = Field(
    description="means nothing here: accepted as true only beside `case_insensitive: true`"
    " (and then ignored)"
)


# -- condition leaves, one kind per family of operators -------------------------------


@with_config(
    ConfigDict(
        **_CLOSED,
        json_schema_extra={
            "allOf": [
                _when_true("case_insensitive", _VALUE_STRING),
                {
                    "if": {
                        "properties": {
                            "numeric_strings": {"const": True},
                            "case_insensitive": {"const": False},
                        },
                        "required": ["numeric_strings"],
                    },
                    "then": {"properties": {"value": {"type": "number"}}},
                },
            ]
        },
    )
)
class EqualityCondition(TypedDict):
    """`eq` / `neq`: the attribute has the value's JSON type and is equal / different (a
    bool is never a number). `case_insensitive` needs a string value, `numeric_strings`
    a number value."""

    attribute: Attribute
    op: Literal["eq", "neq"]
    value: Scalar
    case_insensitive: NotRequired[Annotated[bool, CASE_INSENSITIVE]]
    numeric_strings: NotRequired[Annotated[bool, NUMERIC_STRINGS]]


@with_config(
    ConfigDict(
        **_CLOSED,
        json_schema_extra={
            "allOf": [
                _when_true(
                    "case_insensitive", {"properties": {"value": {"contains": {"type": "string"}}}}
                ),
                _NUMERIC_ONLY_WITH_CASE_INSENSITIVE,
            ]
        },
    )
)
class MembershipCondition(TypedDict):
    """`in` / `not_in`: the attribute is (not) one of the values; `not_in` matches only an
    attribute of a type the list holds. `case_insensitive` needs a string in the list.
    At most 1 000 values (`limit_exceeded`)."""

    attribute: Attribute
    op: Literal["in", "not_in"]
    value: Annotated[list[Scalar], Field(min_length=1)]
    case_insensitive: NotRequired[Annotated[bool, CASE_INSENSITIVE]]
    numeric_strings: NotRequired[Annotated[bool, IGNORED]]


@with_config(
    ConfigDict(
        **_CLOSED,
        json_schema_extra={
            "allOf": [
                _when_true("case_insensitive", _VALUE_STRING),
                _NUMERIC_ONLY_WITH_CASE_INSENSITIVE,
            ]
        },
    )
)
class ContainsCondition(TypedDict):
    """`contains`: a string attribute holds the string value, or an array attribute an
    item equal to the value. `case_insensitive` needs a string value."""

    attribute: Attribute
    op: Literal["contains"]
    value: Scalar
    case_insensitive: NotRequired[Annotated[bool, CASE_INSENSITIVE]]
    numeric_strings: NotRequired[Annotated[bool, IGNORED]]


@with_config(
    ConfigDict(**_CLOSED, json_schema_extra={"allOf": [_NUMERIC_ONLY_WITH_CASE_INSENSITIVE]})
)
class AffixCondition(TypedDict):
    """`starts_with` / `ends_with`: a string attribute starts / ends with the value."""

    attribute: Attribute
    op: Literal["starts_with", "ends_with"]
    value: Annotated[str, Field(min_length=1, max_length=1000)]
    case_insensitive: NotRequired[Annotated[bool, CASE_INSENSITIVE]]
    numeric_strings: NotRequired[Annotated[bool, IGNORED]]


@with_config(_CLOSED)
class PatternCondition(TypedDict):
    """`matches`: an RE2 regular expression (no backreferences or lookaround) found in a
    string attribute of at most 1 024 characters."""

    attribute: Attribute
    op: Literal["matches"]
    value: Annotated[str, Field(min_length=1, max_length=256, description="RE2 syntax")]
    case_insensitive: NotRequired[Annotated[Literal[False], NOT_HERE]]
    numeric_strings: NotRequired[Annotated[Literal[False], NOT_HERE]]


@with_config(_CLOSED)
class NumberCondition(TypedDict):
    """`gt` / `gte` / `lt` / `lte`: a number attribute compared with the value (and, with
    `numeric_strings`, a decimal string)."""

    attribute: Attribute
    op: Literal["gt", "gte", "lt", "lte"]
    value: float
    case_insensitive: NotRequired[Annotated[Literal[False], NOT_HERE]]
    numeric_strings: NotRequired[Annotated[bool, NUMERIC_STRINGS]]


@with_config(_CLOSED)
class VersionCondition(TypedDict):
    """`semver_*`: SemVer 2.0 precedence (build metadata ignored); one leading lowercase
    `v` is ignored on either side. An attribute that is no version does not match."""

    attribute: Attribute
    op: Literal["semver_gt", "semver_gte", "semver_lt", "semver_lte", "semver_eq"]
    value: Annotated[
        str, Field(min_length=1, max_length=256, description="a semantic version, e.g. 1.2.3")
    ]
    case_insensitive: NotRequired[Annotated[Literal[False], NOT_HERE]]
    numeric_strings: NotRequired[Annotated[Literal[False], NOT_HERE]]


@with_config(_CLOSED)
class TimeCondition(TypedDict):
    """`before` / `after`: an ISO-8601 instant (UTC when it has no offset) or epoch
    seconds. On the attribute `current_time` the evaluation time stands in when the
    context gives none (grammar 2)."""

    attribute: Attribute
    op: Literal["before", "after"]
    value: Annotated[str, Field(min_length=1, max_length=64)] | float
    case_insensitive: NotRequired[Annotated[Literal[False], NOT_HERE]]
    numeric_strings: NotRequired[Annotated[Literal[False], NOT_HERE]]


@with_config(_CLOSED)
class NetworkCondition(TypedDict):
    """`ip_in` / `not_ip_in`: a string attribute holding one IPv4 or IPv6 address is (not)
    inside one of the ranges; anything else matches neither."""

    attribute: Attribute
    op: Literal["ip_in", "not_ip_in"]
    value: Annotated[
        list[
            Annotated[
                str,
                Field(
                    min_length=1,
                    max_length=64,
                    description="CIDR range (10.0.0.0/8, 2001:db8::/32; an address alone is"
                    " /32 or /128), no bits beyond the prefix, no zone",
                ),
            ]
        ],
        Field(min_length=1),
    ]
    case_insensitive: NotRequired[Annotated[Literal[False], NOT_HERE]]
    numeric_strings: NotRequired[Annotated[Literal[False], NOT_HERE]]


Condition = TypeAliasType(
    "Condition",
    Annotated[
        EqualityCondition
        | MembershipCondition
        | ContainsCondition
        | AffixCondition
        | PatternCondition
        | NumberCondition
        | VersionCondition
        | TimeCondition
        | NetworkCondition,
        Field(
            title="Condition",
            description="A leaf: one context attribute, an operator and its value. A missing"
            " or null attribute matches no operator (`neq` and `not_in` included).",
        ),
    ],
)


# -- clause trees: a rule's may name segments, a segment's may not ---------------------


@with_config(_CLOSED)
class AllClause(TypedDict):
    """Every clause matches."""

    all: Annotated[list[Clause], Field(min_length=1)]


@with_config(_CLOSED)
class AnyClause(TypedDict):
    """At least one clause matches."""

    any: Annotated[list[Clause], Field(min_length=1)]


@with_config(_CLOSED)
class NotClause(TypedDict):
    """The clause does not match (so it matches a missing attribute)."""

    not_: Annotated[Clause, Field(alias="not")]


@with_config(_CLOSED)
class SegmentClause(TypedDict):
    """The context is in the segment (which must exist when the rule is written)."""

    segment: Name


Clause = TypeAliasType(
    "Clause",
    Annotated[
        AllClause | AnyClause | NotClause | SegmentClause | Condition,
        Field(title="Clause", description="A condition tree of a rule (at most 32 levels deep)."),
    ],
)


@with_config(_CLOSED)
class AllSegmentClause(TypedDict):
    """Every clause matches."""

    all: Annotated[list[SegmentConditions], Field(min_length=1)]


@with_config(_CLOSED)
class AnySegmentClause(TypedDict):
    """At least one clause matches."""

    any: Annotated[list[SegmentConditions], Field(min_length=1)]


@with_config(_CLOSED)
class NotSegmentClause(TypedDict):
    """The clause does not match."""

    not_: Annotated[SegmentConditions, Field(alias="not")]


SegmentConditions = TypeAliasType(
    "SegmentConditions",
    Annotated[
        AllSegmentClause | AnySegmentClause | NotSegmentClause | Condition,
        Field(
            title="SegmentConditions",
            description="A segment's condition tree: a rule's, without segment clauses"
            " (segments cannot name segments). At most 50 conditions (`limit_exceeded`).",
        ),
    ],
)


# -- serving --------------------------------------------------------------------------


@with_config(_CLOSED)
class VariantServe(TypedDict):
    """Serve one of the flag's variants."""

    variant: Name


@with_config(_CLOSED)
class SplitShare(TypedDict):
    variant: Name
    weight: Annotated[float, Field(ge=0)]


@with_config(_CLOSED)
class SplitServe(TypedDict):
    """Serve variants by weight (the weights sum to 100), sticky by `bucket_by`. The array
    form is canonical; the object form (`{"blue": 50, "green": 50}`) is read in the
    order given."""

    split: (
        Annotated[list[SplitShare], Field(min_length=1)]
        | Annotated[dict[Name, Annotated[float, Field(ge=0)]], Field(min_length=1)]
    )
    bucket_by: NotRequired[BucketBy]


Serve = Annotated[VariantServe | SplitServe, Field(description="what a rule serves")]


# -- rules ----------------------------------------------------------------------------

_RULE = ConfigDict(**_CLOSED, json_schema_extra={"dependentRequired": {"bucket_by": ["rollout"]}})
RuleId = Annotated[
    str,
    Field(min_length=1, max_length=200, description="unique in the document; salts the rollout"),
]
RuleDescription = Annotated[str, Field(min_length=1, max_length=2000)]
Rollout = Annotated[
    float,
    Field(ge=0, le=100, description="the share of matching contexts the rule applies to"),
]
RuleBucketBy = Annotated[
    BucketBy, Field(description="what the rollout is sticky by (needs `rollout`)")
]
Ids = Annotated[list[Name], Field(min_length=1)]


@with_config(_RULE)
class PercentageRule(TypedDict):
    """The seed's bucket of `user_id` and the flag key is below `value`; serves the
    default variant unless `serve` says otherwise."""

    type: Literal["PERCENTAGE"]
    value: Percent
    serve: NotRequired[Serve]
    id: NotRequired[RuleId]
    description: NotRequired[RuleDescription]
    rollout: NotRequired[Rollout]
    bucket_by: NotRequired[RuleBucketBy]


@with_config(_RULE)
class UsersRule(TypedDict):
    """The context's `user_id` is listed (at most 10 000, `limit_exceeded`)."""

    type: Literal["USERS"]
    users: Ids
    serve: Serve
    id: NotRequired[RuleId]
    description: NotRequired[RuleDescription]
    rollout: NotRequired[Rollout]
    bucket_by: NotRequired[RuleBucketBy]


@with_config(_RULE)
class ConditionsRule(TypedDict):
    """The condition tree matches."""

    type: Literal["CONDITIONS"]
    conditions: Clause
    serve: Serve
    id: NotRequired[RuleId]
    description: NotRequired[RuleDescription]
    rollout: NotRequired[Rollout]
    bucket_by: NotRequired[RuleBucketBy]


@with_config(_RULE)
class SegmentRule(TypedDict):
    """The context is in any of the segments."""

    type: Literal["SEGMENT"]
    segments: Ids
    serve: Serve
    id: NotRequired[RuleId]
    description: NotRequired[RuleDescription]
    rollout: NotRequired[Rollout]
    bucket_by: NotRequired[RuleBucketBy]


TargetingRule = Annotated[
    PercentageRule | UsersRule | ConditionsRule | SegmentRule, Field(discriminator="type")
]


@with_config(_CLOSED)
class Prerequisite(TypedDict):
    """Another flag of the environment must serve one of `variants` for the same
    context, or this flag serves its off variant (reason PREREQUISITE_FAILED)."""

    flag: Annotated[str, Field(min_length=1, max_length=200, description="not the flag itself")]
    variants: Ids


@with_config(_CLOSED)
class FullRuleDocument(TypedDict):
    """Prerequisites, then the rules in order (the first that matches serves), then the
    fallthrough (default: the flag's default variant)."""

    prerequisites: NotRequired[
        Annotated[
            list[Prerequisite], Field(description="each flag once; at most 10 (`limit_exceeded`)")
        ]
    ]
    rules: Annotated[list[TargetingRule], Field(description="at most 200 (`limit_exceeded`)")]
    fallthrough: NotRequired[Serve]


@with_config(_CLOSED)
class LegacyRuleDocument(TypedDict):
    """The seed's form: the seed bucket of `user_id` and the flag key below `value` gets
    the default variant, everyone else the off variant."""

    type: Literal["PERCENTAGE"]
    value: Percent


RuleDocument = TypeAliasType(
    "RuleDocument",
    Annotated[
        LegacyRuleDocument | FullRuleDocument,
        Field(title="RuleDocument", description="A flag's targeting rules in one environment."),
    ],
)


RuleDocumentInput = Annotated[dict[str, Any] | list[Any], DescribedBy(RuleDocument)]
"""A rule document in a request: checked by the engine, described by `RuleDocument`."""
StoredRuleDocument = Annotated[Any, DescribedBy(RuleDocument)]
"""A rule document as stored (canonical) and answered."""
Conditions = Annotated[dict[str, Any], DescribedBy(SegmentConditions)]
"""A segment's conditions, sent or answered: checked by the engine, described by
`SegmentConditions`."""
