"""Sticky bucketing: which slice of the population a user falls into.

Two hashes, both pure functions of their inputs so that every process, host and
release puts a user in the same bucket:

``seed_bucket(user_id, flag_name)`` -- the old system's, kept bit for bit so that
migrated ``PERCENTAGE`` rules keep exactly the same users::

    bucket = int.from_bytes(sha1((user_id + flag_name).encode("utf-8")).digest()[:4], "big") % 100

Note the plain concatenation without a separator: it is what the seed did.

``split_bucket(salt, value)`` -- for weighted splits and rule rollouts, 1000 times
finer (0.001 % steps)::

    bucket = int.from_bytes(sha256(f"{salt}:{value}".encode("utf-8")).digest()[:8], "big") % 100_000

Salts used by the engine: a weighted split uses the flag key, so a user lands in the
same bucket in every split of one flag and in unrelated buckets across flags; a rule
rollout uses ``f"{flag_key}:rollout:{rule_id}"`` when the rule has an ``id``, else
``f"{flag_key}:rollout:{rule_index}"``, so that a rollout is independent of the
split it gates, and survives reordering when the rule carries an id.

A split walks its variants in the order given, with cumulative weights scaled to
100 000: the user gets the first variant whose cumulative upper bound exceeds the
bucket. Moving weight d from one variant to the next therefore moves only the users
whose bucket lies in that shifted share; everyone else keeps their variant.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Sequence

SEED_BUCKETS = 100
SPLIT_BUCKETS = 100_000
_SPLIT_SCALE = SPLIT_BUCKETS // 100


def seed_bucket(user_id: str, flag_name: str) -> int:
    """The seed's bucket in 0..99 (SHA-1, first 4 bytes, big-endian, modulo 100)."""
    digest = hashlib.sha1((user_id + flag_name).encode("utf-8"), usedforsecurity=False).digest()
    return int.from_bytes(digest[:4], "big") % SEED_BUCKETS


def split_bucket(salt: str, value: str) -> int:
    """A bucket in 0..99 999 (SHA-256 of ``salt:value``, first 8 bytes, modulo 100 000)."""
    digest = hashlib.sha256(f"{salt}:{value}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % SPLIT_BUCKETS


def percent_to_buckets(percent: float) -> int:
    """A percentage (0..100) as a number of split buckets, rounded to 0.001 %."""
    return round(percent * _SPLIT_SCALE)


def split_bounds(weights: Sequence[float]) -> tuple[int, ...]:
    """Cumulative upper bounds in split buckets; the last is always exactly 100 000.

    Each bound is rounded from the exact cumulative sum rather than summed from
    rounded weights, so changing two adjacent weights moves only the bound between them.
    """
    bounds: list[int] = []
    total = 0.0
    for weight in weights:
        total += weight
        bounds.append(min(percent_to_buckets(total), SPLIT_BUCKETS))
    if bounds:
        bounds[-1] = SPLIT_BUCKETS
    return tuple(bounds)


def pick_index(bounds: Sequence[int], bucket: int) -> int:
    """The index of the first bound that exceeds the bucket."""
    return bisect_right(bounds, bucket)
