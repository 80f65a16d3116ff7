"""Change notices against a real Redis: versions never repeat across a Redis restart
(seed report §1.5: a cache must not pass for current after its notices were lost)."""

from __future__ import annotations

import itertools

import redis

from functions.core.redis_keys import CONFIG_VERSION
from functions.core.snapshot.notices import announce_change, current_version


def test_announce_change__redis_emptied_between_writes__versions_never_repeat(
    redis_url: str,
) -> None:
    # Given versions seen before Redis loses everything (a restart without persistence)
    client = redis.Redis.from_url(redis_url)
    client.delete(CONFIG_VERSION)
    before = [announce_change(client, kind="flag", name=f"f{i}") for i in range(5)]
    # When Redis is emptied and the same number of writes happen again
    client.delete(CONFIG_VERSION)
    after = [announce_change(client, kind="flag", name=f"f{i}") for i in range(5)]
    # Then no version is seen twice, and each epoch still counts up by one
    assert not set(before) & set(after)
    assert all(b - a == 1 for a, b in itertools.pairwise(after))  # type: ignore[operator]


def test_current_version__no_version_yet__starts_an_epoch_readers_agree_on(redis_url: str) -> None:
    # Given no version in Redis
    client = redis.Redis.from_url(redis_url)
    client.delete(CONFIG_VERSION)
    # When two readers ask
    first, second = current_version(client), current_version(client)
    # Then they agree on a random, large starting point (not 0, which repeats)
    assert first == second
    assert first >= 2**20
