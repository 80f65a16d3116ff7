"""Properties of bucketing and evaluation, checked with Hypothesis."""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import textwrap
from collections import Counter
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.core.engine import (
    FlagDefinition,
    FlagKind,
    Reason,
    Resolution,
    boolean_definition,
    evaluate,
    parse_ruleset,
    parse_segment,
    split_bucket,
)
from functions.core.engine.hashing import split_bounds

_REPOSITORY = Path(__file__).resolve().parents[4]
_VARIANTS = ("v0", "v1", "v2", "v3", "v4")
_SPLIT_FLAG = FlagDefinition(
    key="split-flag",
    kind=FlagKind.STRING,
    variants={name: name for name in _VARIANTS},
    off_variant="v0",
    default_variant="v0",
)


def _user_ids(seed: int, count: int) -> list[str]:
    """Random-looking ids, cheap to make: a seeded generator rather than Hypothesis draws."""
    generator = random.Random(seed)
    return [f"user-{generator.getrandbits(64):016x}" for _ in range(count)]


@st.composite
def _weights(draw: st.DrawFn) -> list[int]:
    """2..5 weights in thousandths of a percent, summing to 100 000."""
    count = draw(st.integers(min_value=2, max_value=len(_VARIANTS)))
    cuts = sorted(draw(st.lists(st.integers(0, 100_000), min_size=count - 1, max_size=count - 1)))
    edges = [0, *cuts, 100_000]
    return [upper - lower for lower, upper in pairwise(edges)]


def _split_document(thousandths: list[int]) -> dict[str, Any]:
    split = [
        {"variant": _VARIANTS[index], "weight": weight / 1000}
        for index, weight in enumerate(thousandths)
    ]
    return {"rules": [], "fallthrough": {"split": split}}


@settings(max_examples=12, deadline=None, database=None)
@given(thousandths=_weights(), seed=st.integers(0, 2**32))
def test_split__100k_users__shares_within_one_percent(thousandths: list[int], seed: int) -> None:
    # Given
    ruleset = parse_ruleset(_split_document(thousandths), _SPLIT_FLAG, ())
    users = _user_ids(seed, 100_000)

    # When
    counts = Counter(evaluate(_SPLIT_FLAG, True, ruleset, {"user_id": u}).variant for u in users)

    # Then
    for index, weight in enumerate(thousandths):
        share = counts[_VARIANTS[index]] / len(users) * 100
        assert abs(share - weight / 1000) <= 1.0, (index, share, weight)


@settings(max_examples=50, deadline=None, database=None)
@given(
    thousandths=_weights(),
    position=st.integers(0, len(_VARIANTS) - 2),
    fraction=st.floats(-1, 1),
    seed=st.integers(0, 2**32),
)
def test_split__weight_moved_between_neighbours__only_moved_share_changes(
    thousandths: list[int], position: int, fraction: float, seed: int
) -> None:
    # Given variant i grows by d and variant i+1 shrinks by d (d may be negative)
    index = position % (len(thousandths) - 1)
    low, high = -thousandths[index], thousandths[index + 1]
    delta = round(low + (high - low) * (fraction + 1) / 2)
    moved = list(thousandths)
    moved[index] += delta
    moved[index + 1] -= delta
    before = parse_ruleset(_split_document(thousandths), _SPLIT_FLAG, ())
    after = parse_ruleset(_split_document(moved), _SPLIT_FLAG, ())
    users = _user_ids(seed, 5000)

    # When
    changed = [
        user
        for user in users
        if evaluate(_SPLIT_FLAG, True, before, {"user_id": user}).variant
        != evaluate(_SPLIT_FLAG, True, after, {"user_id": user}).variant
    ]

    # Then every user who changed sits in the share between the old and new boundary
    old_bound = split_bounds([w / 1000 for w in thousandths])[index]
    new_bound = split_bounds([w / 1000 for w in moved])[index]
    lower, upper = min(old_bound, new_bound), max(old_bound, new_bound)
    for user in changed:
        assert lower <= split_bucket(_SPLIT_FLAG.key, user) < upper
    inside = [u for u in users if lower <= split_bucket(_SPLIT_FLAG.key, u) < upper]
    assert len(changed) == len(inside)


def test_split__another_process__same_user_same_variant() -> None:
    # Given a split, users with awkward ids, and a child process with another hash seed
    document = _split_document([33_333, 33_333, 33_334])
    users = [*_user_ids(7, 500), "", "ünïcødé", "a:b", "0", " space "]
    script = textwrap.dedent(
        """
        import json, sys
        from functions.core.engine import FlagDefinition, FlagKind, evaluate, parse_ruleset
        request = json.load(sys.stdin)
        names = ("v0", "v1", "v2", "v3", "v4")
        flag = FlagDefinition("split-flag", FlagKind.STRING, {n: n for n in names}, "v0", "v0")
        ruleset = parse_ruleset(request["document"], flag, ())
        answer = [evaluate(flag, True, ruleset, {"user_id": u}).variant for u in request["users"]]
        json.dump(answer, sys.stdout)
        """
    )
    environment = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(_REPOSITORY)}

    # When
    child = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps({"document": document, "users": users}),
        capture_output=True,
        text=True,
        check=True,
        cwd=_REPOSITORY,
        env=environment,
        timeout=60,
    )
    ruleset = parse_ruleset(document, _SPLIT_FLAG, ())
    here = [evaluate(_SPLIT_FLAG, True, ruleset, {"user_id": u}).variant for u in users]

    # Then
    assert json.loads(child.stdout) == here
    assert set(here) == {"v0", "v1", "v2"}


@settings(max_examples=300, deadline=None, database=None)
@given(
    user_id=st.text(max_size=40),
    flag_name=st.text(min_size=1, max_size=40),
    value=st.one_of(st.integers(0, 100), st.floats(0, 100)),
)
def test_legacy_percentage__any_user__served_on_iff_sha1_bucket_below_value(
    user_id: str, flag_name: str, value: float
) -> None:
    # Given the seed's document on a seed flag
    flag = boolean_definition(flag_name)
    ruleset = parse_ruleset({"type": "PERCENTAGE", "value": value}, flag, ())

    # When
    resolution = evaluate(flag, True, ruleset, {"user_id": user_id})

    # Then
    digest = hashlib.sha1((user_id + flag_name).encode("utf-8"), usedforsecurity=False).digest()
    assert resolution.value is (int.from_bytes(digest[:4], "big") % 100 < value)


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(["1.2.3", "v2.0.0-rc.1", "2024-06-01T00:00:00Z", "2024-06-01", "PT", "pro"]),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=12,
)
_ODD = (
    st.binary(max_size=8)
    | st.datetimes(timezones=st.none() | st.just(UTC))
    | st.tuples(st.integers(), st.text(max_size=3))
    | st.frozensets(st.integers(), max_size=3)
    | st.builds(object)
)
_KEYS = st.sampled_from(
    ["user_id", "org", "plan", "country", "roles", "email", "age", "app", "signup", "x"]
)
_CONTEXTS = st.dictionaries(_KEYS | st.text(max_size=8), _JSON | _ODD, max_size=10)

_RICH_FLAG = FlagDefinition(
    key="rich",
    kind=FlagKind.STRING,
    variants={"a": "A", "b": "B", "c": "C"},
    off_variant="c",
    default_variant="a",
)
_RICH_SEGMENT = parse_segment(
    {
        "key": "beta",
        "included": ["u1"],
        "conditions": {
            "any": [
                {"attribute": "email", "op": "matches", "value": "@(example|test)\\.com$"},
                {"attribute": "roles", "op": "contains", "value": "beta"},
            ]
        },
    }
)
_RICH_RULES = parse_ruleset(
    {
        "rules": [
            {"type": "USERS", "users": ["u7"], "serve": {"variant": "b"}},
            {"type": "SEGMENT", "segments": ["beta"], "serve": {"variant": "b"}, "rollout": 50},
            {
                "type": "CONDITIONS",
                "serve": {"split": {"a": 50, "b": 50}, "bucket_by": "org"},
                "conditions": {
                    "all": [
                        {"attribute": "plan", "op": "in", "value": ["pro", 1, True]},
                        {"not": {"attribute": "country", "op": "not_in", "value": ["PT", "BR"]}},
                        {
                            "any": [
                                {"attribute": "age", "op": "gte", "value": 18},
                                {"attribute": "app", "op": "semver_gt", "value": "1.0.0"},
                                {"attribute": "signup", "op": "before", "value": "2024-01-01"},
                                {"attribute": "signup", "op": "after", "value": 0},
                                {"attribute": "email", "op": "starts_with", "value": "a"},
                                {"attribute": "email", "op": "ends_with", "value": "z"},
                                {"attribute": "x", "op": "eq", "value": 1.5},
                                {"attribute": "x", "op": "neq", "value": "y"},
                                {"attribute": "x", "op": "contains", "value": 2},
                                {"attribute": "app", "op": "semver_eq", "value": "1.2.3"},
                                {"attribute": "app", "op": "semver_lt", "value": "1.2.3"},
                                {"attribute": "age", "op": "lt", "value": 0},
                            ]
                        },
                    ]
                },
            },
            {"type": "PERCENTAGE", "value": 50, "serve": {"variant": "b"}},
        ],
        "fallthrough": {"split": {"a": 10, "b": 20, "c": 70}},
    },
    _RICH_FLAG,
    {"beta"},
)


@settings(
    max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(context=_CONTEXTS, enabled=st.booleans())
def test_evaluate__arbitrary_context__never_raises(context: dict[str, Any], enabled: bool) -> None:
    # Given a flag that uses every rule kind and most operators

    # When
    resolution = evaluate(_RICH_FLAG, enabled, _RICH_RULES, context, {"beta": _RICH_SEGMENT})

    # Then the answer is a value; the only error is a split without its bucketing key
    assert isinstance(resolution, Resolution)
    if resolution.reason is Reason.ERROR:
        assert resolution.error_code == "TARGETING_KEY_MISSING"
        assert resolution.value == "C"
    else:
        assert resolution.variant is not None
        assert resolution.value == _RICH_FLAG.variants[resolution.variant]


def test_evaluate__aware_and_naive_datetimes_in_context__compared_as_utc() -> None:
    # Given a rule for sign-ups before mid-2024
    flag = boolean_definition("dates")
    ruleset = parse_ruleset(
        {
            "rules": [
                {
                    "type": "CONDITIONS",
                    "conditions": {"attribute": "signup", "op": "before", "value": "2024-06-01"},
                    "serve": {"variant": "on"},
                }
            ],
            "fallthrough": {"variant": "off"},
        },
        flag,
        (),
    )

    # When
    naive = evaluate(flag, True, ruleset, {"signup": datetime(2024, 5, 31, 23, 59)})
    aware = evaluate(flag, True, ruleset, {"signup": datetime(2024, 6, 1, tzinfo=UTC)})

    # Then
    assert naive.value is True
    assert aware.value is False
