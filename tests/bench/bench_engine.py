"""Median cost of one evaluation of a demanding flag: ``python tests/bench/bench_engine.py``.

The flag has 10 CONDITIONS rules of 5 leaves each (in, eq, matches, gte, semver_gt).
In the first nine rules four leaves match and the fifth does not, so ``all`` cannot
stop early; the tenth rule matches and serves a weighted split. It also requires a
chain of 3 prerequisite flags (each requires the next; each has a rule of 5 matching
leaves, the last of them case-insensitive, numeric-string, ip_in, semver_gte and
segment clauses), all met. Target: < 50 µs.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from functions.core.engine import (
    FlagDefinition,
    FlagKind,
    JSONValue,
    Resolution,
    Ruleset,
    Segment,
    boolean_definition,
    evaluate,
    parse_ruleset,
    parse_segment,
)

RULES = 10
CHAIN = 3
ROUNDS = 200
PER_ROUND = 200


def _rule(index: int, *, matching: bool) -> dict[str, JSONValue]:
    leaves: list[JSONValue] = [
        {"attribute": "country", "op": "in", "value": ["PT", "BR", "AO", "MZ"]},
        {"attribute": "plan", "op": "eq", "value": "pro"},
        {"attribute": "email", "op": "matches", "value": r"@example\.(com|org)$"},
        {"attribute": "age", "op": "gte", "value": 18},
        {"attribute": "app_version", "op": "semver_gt", "value": "2.0.0" if matching else "9.0.0"},
    ]
    serve: JSONValue = (
        {"split": {"blue": 50, "green": 30, "red": 20}} if matching else {"variant": "red"}
    )
    return {"id": f"r{index}", "type": "CONDITIONS", "conditions": {"all": leaves}, "serve": serve}


@dataclass(frozen=True)
class _Flag:
    definition: FlagDefinition
    enabled: bool
    ruleset: Ruleset
    segments: Mapping[str, Segment]
    invalid_rules: str | None = None


def _chain() -> dict[str, _Flag]:
    """req0 requires req1 requires req2; each serves on to the benchmark's contexts."""
    segments = {
        "pro": parse_segment(
            {"key": "pro", "conditions": {"attribute": "plan", "op": "eq", "value": "pro"}}
        )
    }
    leaves: list[JSONValue] = [
        {"attribute": "country", "op": "in", "value": ["pt", "br"], "case_insensitive": True},
        {"attribute": "age", "op": "gte", "value": 18, "numeric_strings": True},
        {"attribute": "ip", "op": "ip_in", "value": ["10.0.0.0/8", "2001:db8::/32"]},
        {"attribute": "app_version", "op": "semver_gte", "value": "2.0.0"},
        {"segment": "pro"},
    ]
    flags: dict[str, _Flag] = {}
    for index in range(CHAIN):
        name = f"req{index}"
        document: dict[str, JSONValue] = {
            "rules": [
                {"type": "CONDITIONS", "conditions": {"all": leaves}, "serve": {"variant": "on"}}
            ],
            "fallthrough": {"variant": "off"},
        }
        if index + 1 < CHAIN:
            document["prerequisites"] = [{"flag": f"req{index + 1}", "variants": ["on"]}]
        definition = boolean_definition(name)
        flags[name] = _Flag(
            definition, True, parse_ruleset(document, definition, set(segments)), segments
        )
    return flags


def main() -> None:
    definition = FlagDefinition(
        key="checkout-colour",
        kind=FlagKind.STRING,
        variants={"blue": "blue", "green": "green", "red": "red"},
        off_variant="red",
        default_variant="blue",
    )
    document: dict[str, JSONValue] = {
        "prerequisites": [{"flag": "req0", "variants": ["on"]}],
        "rules": [_rule(index, matching=index == RULES - 1) for index in range(RULES)],
    }
    ruleset = parse_ruleset(document, definition, ())
    chain = _chain()
    contexts = [
        {
            "user_id": f"user-{index}",
            "country": "BR",
            "plan": "pro",
            "email": f"user{index}@example.com",
            "age": 30,
            "app_version": "3.1.4",
            "ip": "10.1.2.3",
        }
        for index in range(PER_ROUND)
    ]
    last: Resolution | None = None
    samples: list[float] = []
    for _ in range(ROUNDS):
        for context in contexts:
            started = time.perf_counter_ns()
            last = evaluate(definition, True, ruleset, context, lookup=chain.get)
            samples.append((time.perf_counter_ns() - started) / 1000)
    assert last is not None
    assert last.rule_index == RULES - 1, last
    print(
        f"engine evaluate, {RULES} rules x 5 conditions, last matches,"
        f" prerequisite chain of {CHAIN}: "
        f"median {statistics.median(samples):.1f} µs, "
        f"p99 {statistics.quantiles(samples, n=100)[98]:.1f} µs over {len(samples)} runs"
    )


if __name__ == "__main__":
    main()
