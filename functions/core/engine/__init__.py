"""The pure evaluation engine: flag definitions, targeting rules, segments, decisions.

No I/O at all -- no network, database, logging setup or web framework -- so every
function can use it and it is tested as plain data in, plain data out. Documents are
parsed (and everything costly compiled) once, then ``evaluate`` decides per request.
See ``rules`` for the document format and ``hashing`` for the bucketing.
"""

from functions.core.engine.clauses import (
    AllOf,
    AnyOf,
    Clause,
    ClockCondition,
    Condition,
    InSegment,
    Not,
    condition,
)
from functions.core.engine.evaluation import FlagLookup, Requirable, evaluate, rollout_salt
from functions.core.engine.grammar import CURRENT_GRAMMAR, Grammar
from functions.core.engine.hashing import SPLIT_BUCKETS, seed_bucket, split_bucket
from functions.core.engine.model import (
    FlagDefinition,
    FlagKind,
    JSONValue,
    Reason,
    Resolution,
    boolean_definition,
)
from functions.core.engine.operators import Operator
from functions.core.engine.rules import (
    ConditionsMatch,
    Match,
    PercentageMatch,
    Prerequisite,
    Rule,
    Ruleset,
    Segment,
    SegmentMatch,
    Serve,
    SplitServe,
    UsersMatch,
    VariantServe,
    parse_ruleset,
    parse_segment,
    ruleset_segments,
    ruleset_to_document,
    segment_to_document,
)
from functions.core.engine.validation import RuleValidationError
from functions.core.engine.variants import parse_variants

__all__ = [
    "CURRENT_GRAMMAR",
    "SPLIT_BUCKETS",
    "AllOf",
    "AnyOf",
    "Clause",
    "ClockCondition",
    "Condition",
    "ConditionsMatch",
    "FlagDefinition",
    "FlagKind",
    "FlagLookup",
    "Grammar",
    "InSegment",
    "JSONValue",
    "Match",
    "Not",
    "Operator",
    "PercentageMatch",
    "Prerequisite",
    "Reason",
    "Requirable",
    "Resolution",
    "Rule",
    "RuleValidationError",
    "Ruleset",
    "Segment",
    "SegmentMatch",
    "Serve",
    "SplitServe",
    "UsersMatch",
    "VariantServe",
    "boolean_definition",
    "condition",
    "evaluate",
    "parse_ruleset",
    "parse_segment",
    "parse_variants",
    "rollout_salt",
    "ruleset_segments",
    "ruleset_to_document",
    "seed_bucket",
    "segment_to_document",
    "split_bucket",
]
