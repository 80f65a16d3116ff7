"""The two bucketing hashes, checked against independent computations."""

from __future__ import annotations

import hashlib
import struct

import pytest

from functions.core.engine import seed_bucket, split_bucket
from functions.core.engine.hashing import pick_index, split_bounds


@pytest.mark.parametrize(
    ("user_id", "flag_name", "expected"),
    [
        # computed once by hand: struct.unpack(">I", sha1((u + f).encode()).digest()[:4])[0] % 100
        ("user-1", "new-checkout", 66),
        ("alice", "dark-mode", 22),
        ("42", "beta", 37),
        ("ünïcødé", "flag-é", 20),
        ("", "x", 58),
    ],
)
def test_seed_bucket__known_inputs__equals_hand_computed_value(
    user_id: str, flag_name: str, expected: int
) -> None:
    # Given the values above

    # When
    bucket = seed_bucket(user_id, flag_name)

    # Then
    assert bucket == expected


def test_seed_bucket__many_users__equals_sha1_formula() -> None:
    # Given
    users = [f"user-{index}" for index in range(2000)]

    # When
    buckets = [seed_bucket(user, "rollout") for user in users]

    # Then
    expected = [
        int.from_bytes(
            hashlib.sha1(f"{user}rollout".encode(), usedforsecurity=False).digest()[:4], "big"
        )
        % 100
        for user in users
    ]
    assert buckets == expected


@pytest.mark.parametrize(
    ("salt", "value", "expected"),
    [
        # computed once by hand:
        # struct.unpack(">Q", sha256(f"{s}:{v}".encode()).digest()[:8])[0] % 100000
        ("checkout", "user-1", 2447),
        ("flag:rollout:r1", "alice", 32146),
    ],
)
def test_split_bucket__known_inputs__equals_hand_computed_value(
    salt: str, value: str, expected: int
) -> None:
    # Given the values above

    # When
    bucket = split_bucket(salt, value)

    # Then
    assert bucket == expected


def test_split_bucket__many_users__equals_sha256_formula_in_range() -> None:
    # Given
    users = [f"u{index}" for index in range(2000)]

    # When
    buckets = [split_bucket("flag", user) for user in users]

    # Then
    expected = [
        struct.unpack(">Q", hashlib.sha256(f"flag:{user}".encode()).digest()[:8])[0] % 100_000
        for user in users
    ]
    assert buckets == expected
    assert all(0 <= bucket < 100_000 for bucket in buckets)


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        ([50, 30, 20], (50_000, 80_000, 100_000)),
        ([33.333, 33.333, 33.334], (33_333, 66_666, 100_000)),
        ([0, 100, 0], (0, 100_000, 100_000)),
        ([100], (100_000,)),
    ],
)
def test_split_bounds__weights__are_cumulative_in_thousandths_of_a_percent(
    weights: list[float], expected: tuple[int, ...]
) -> None:
    # Given the weights above

    # When
    bounds = split_bounds(weights)

    # Then
    assert bounds == expected


@pytest.mark.parametrize(
    ("bucket", "expected"),
    [(0, 1), (49_999, 1), (50_000, 2), (99_999, 2)],
)
def test_pick_index__zero_weight_first__never_picks_it(bucket: int, expected: int) -> None:
    # Given a split of 0 / 50 / 50
    bounds = split_bounds([0, 50, 50])

    # When
    index = pick_index(bounds, bucket)

    # Then
    assert index == expected
