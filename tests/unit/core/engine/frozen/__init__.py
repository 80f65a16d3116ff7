"""A frozen copy of the engine as it decided before prerequisites, network ranges and the
other clauses of part two (commit 044c864), for the property test that proves every
document valid then decides exactly as before. Never edit it; never import it from
``functions``.

The pure evaluation engine: flag definitions, targeting rules, segments, decisions.

No I/O at all -- no network, database, logging setup or web framework -- so every
function can use it and it is tested as plain data in, plain data out. Documents are
parsed (and everything costly compiled) once, then ``evaluate`` decides per request.
See ``rules`` for the document format and ``hashing`` for the bucketing.
"""

from tests.unit.core.engine.frozen.clauses import AllOf, AnyOf, Clause, Condition, Not, condition
from tests.unit.core.engine.frozen.evaluation import evaluate, rollout_salt
from tests.unit.core.engine.frozen.hashing import SPLIT_BUCKETS, seed_bucket, split_bucket
from tests.unit.core.engine.frozen.model import (
    FlagDefinition,
    FlagKind,
    JSONValue,
    Reason,
    Resolution,
    boolean_definition,
)
from tests.unit.core.engine.frozen.operators import Operator
from tests.unit.core.engine.frozen.rules import (
    ConditionsMatch,
    Match,
    PercentageMatch,
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
    ruleset_to_document,
    segment_to_document,
)
from tests.unit.core.engine.frozen.validation import RuleValidationError
from tests.unit.core.engine.frozen.variants import parse_variants

__all__ = [
    "SPLIT_BUCKETS",
    "AllOf",
    "AnyOf",
    "Clause",
    "Condition",
    "ConditionsMatch",
    "FlagDefinition",
    "FlagKind",
    "JSONValue",
    "Match",
    "Not",
    "Operator",
    "PercentageMatch",
    "Reason",
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
    "ruleset_to_document",
    "seed_bucket",
    "segment_to_document",
    "split_bucket",
]
